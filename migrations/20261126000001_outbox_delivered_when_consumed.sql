-- An outbox row is done when the consumer of its topic has applied it, not
-- when the broker acknowledged it: a broker that loses acknowledged messages
-- (the local one keeps its log in memory) can no longer lose a booking's
-- message for good, and the request path no longer writes the row twice.
-- relayed_at is the sweeper's last attempt, so it waits between retries;
-- relay_attempts lets it give up on a message its consumer keeps refusing
-- (dead-lettered), which would otherwise come back every sweep.
ALTER TABLE bookings_demo.outbox RENAME COLUMN published_at TO delivered_at;
ALTER TABLE bookings_demo.outbox ADD COLUMN relayed_at timestamptz,
    ADD COLUMN relay_attempts integer NOT NULL DEFAULT 0;
DROP INDEX bookings_demo.outbox_unpublished;
CREATE INDEX outbox_undelivered ON bookings_demo.outbox (seq) WHERE delivered_at IS NULL;
