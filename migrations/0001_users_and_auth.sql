-- Users, their one WhatsApp session's settings, and what authentication needs.

CREATE TABLE users (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    username         TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    password_hash    TEXT    NOT NULL,
    is_admin         INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    -- NULL means "use the username" (the seed's default).
    session_name     TEXT    COLLATE NOCASE,
    callback_url     TEXT,
    -- Last known state of the session, kept by the session supervisor.
    session_status   TEXT    NOT NULL DEFAULT 'disconnected',
    -- Set while the built-in default admin password is still in use.
    default_password INTEGER NOT NULL DEFAULT 0 CHECK (default_password IN (0, 1)),
    created_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- Session names share one namespace with the usernames they default to.
CREATE UNIQUE INDEX users_effective_session_name
    ON users (COALESCE(session_name, username) COLLATE NOCASE);

-- Bearer tokens for REST clients; only a SHA-256 of each is stored.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    last_used_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Browser logins (HttpOnly cookie); only a SHA-256 of each cookie value is stored.
CREATE TABLE browser_sessions (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX browser_sessions_user ON browser_sessions (user_id);
