-- An event delivered by its first attempt (the common case) keeps that attempt on its
-- own row instead of a webhook_attempts row: one write fewer per event on the hot path.
-- A row keeps at most one attempt; every other attempt is a webhook_attempts row as
-- before, and the delivery log (`webhooks::outbox::attempts`) lists both in time order.
-- A kept attempt delivered, so it has no error.
ALTER TABLE webhook_events ADD COLUMN delivered_url TEXT;
ALTER TABLE webhook_events ADD COLUMN delivered_status INTEGER;
ALTER TABLE webhook_events ADD COLUMN delivered_latency_ms INTEGER;
ALTER TABLE webhook_events ADD COLUMN delivered_body TEXT;
ALTER TABLE webhook_events ADD COLUMN delivered_at TEXT;
