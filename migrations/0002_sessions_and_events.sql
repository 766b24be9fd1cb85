-- Session state beyond the status, the activity log, and the durable event outbox.

-- Whether the session has device keys (was paired and not logged out): such sessions
-- are restarted by themselves when the gateway starts.
ALTER TABLE users ADD COLUMN session_linked INTEGER NOT NULL DEFAULT 0 CHECK (session_linked IN (0, 1));
ALTER TABLE users ADD COLUMN session_phone TEXT;
ALTER TABLE users ADD COLUMN session_push_name TEXT;
ALTER TABLE users ADD COLUMN session_reason TEXT;

-- Every status transition and notable engine signal, newest read first.
CREATE TABLE session_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session    TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    detail     TEXT,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX session_events_user ON session_events (user_id, id);

-- The outbox: each incoming message and status change, committed in the same
-- transaction as the state change it comes from, before the engine is acknowledged.
-- The webhook worker delivers from here; nothing leaves the gateway any other way.
CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Stable across retries: the Standard Webhooks `webhook-id`.
    event_id    TEXT    NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('message', 'session')),
    payload     TEXT    NOT NULL,
    -- A stored media file of a message ({kind, path, mimetype, file_name}); the
    -- payload's media links are made from it when delivered.
    media       TEXT,
    -- Makes redelivered engine messages idempotent (chat + sender + message id).
    dedupe_key  TEXT    UNIQUE,
    state       TEXT    NOT NULL DEFAULT 'pending',
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX webhook_events_pending ON webhook_events (state, id);
CREATE INDEX webhook_events_user ON webhook_events (user_id, id);
