-- The due index now holds only events waiting in the database (retries, resends,
-- leases that ran out). New events are held in memory for their first attempt
-- (next_attempt_at = i64::MAX, see db::outbox::HELD) and finished ones are not pending,
-- so neither touches it: two index writes fewer per event on the hot path.
-- Queries that use it repeat its WHERE terms word for word (SQLite's rule for partial
-- indexes).
DROP INDEX webhook_events_due;
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at, id)
    WHERE state = 'pending' AND next_attempt_at < 9223372036854775807;
