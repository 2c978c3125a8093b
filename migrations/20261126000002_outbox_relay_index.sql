-- The sweeper reads rows that are undelivered AND still under the relay
-- limit. Rows it gave up on (delivered_at still NULL) used to stay in the
-- partial index it scans, so every sweep stepped over all of them, forever.
-- The literal 10 is MAX_RELAY_ATTEMPTS in shared/src/repo/pg_bookings.rs:
-- the planner uses a partial index only when the query repeats its
-- predicate with a constant, so change both together.
DROP INDEX bookings_demo.outbox_undelivered;
CREATE INDEX outbox_to_relay ON bookings_demo.outbox (seq) WHERE delivered_at IS NULL AND relay_attempts < 10;
