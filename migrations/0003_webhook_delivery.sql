-- Delivery state of the outbox, the attempt log, per-user signing secrets and auth.

-- state: pending → delivered | failed (retries exhausted or 410) | skipped (no callback)
ALTER TABLE webhook_events ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- Unix milliseconds; due when <= now.
ALTER TABLE webhook_events ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
-- Unix milliseconds; an attempt in flight holds the event until then.
ALTER TABLE webhook_events ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_events ADD COLUMN last_status INTEGER;
ALTER TABLE webhook_events ADD COLUMN last_error TEXT;
ALTER TABLE webhook_events ADD COLUMN updated_at TEXT;
DROP INDEX webhook_events_pending;
CREATE INDEX webhook_events_due ON webhook_events (state, next_attempt_at, id);

CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      INTEGER NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url           TEXT    NOT NULL,
    status_code   INTEGER,
    latency_ms    INTEGER NOT NULL,
    error         TEXT,
    response_body TEXT,
    attempted_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, id);

-- Standard Webhooks signing secret (`whsec_…`); during a rotation's overlap the previous
-- one signs too.
ALTER TABLE users ADD COLUMN webhook_secret TEXT;
ALTER TABLE users ADD COLUMN webhook_secret_previous TEXT;
ALTER TABLE users ADD COLUMN webhook_secret_previous_until INTEGER;
-- Set when the endpoint answered 410 Gone: retries to it stop until the URL changes.
ALTER TABLE users ADD COLUMN callback_gone INTEGER NOT NULL DEFAULT 0;
-- Optional outbound auth: 'none' | 'basic' | 'bearer'; the secret is write-only.
ALTER TABLE users ADD COLUMN webhook_auth_kind TEXT NOT NULL DEFAULT 'none';
ALTER TABLE users ADD COLUMN webhook_auth_username TEXT;
ALTER TABLE users ADD COLUMN webhook_auth_secret TEXT;

-- Keys of the gateway itself (e.g. for signed media links), created on first start.
CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
