-- The organisers' live sales numbers (GET /admin/events/{id}/stats), kept by
-- the analytics consumer from the booking topics: one row per event and
-- minute of the change (the message's occurredAt, so a redelivery lands in
-- the minute it belongs to). A message is counted in the same transaction
-- that records it in processed_messages under the consumer 'analytics', so
-- a redelivered or concurrently delivered message is counted once.
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE analytics.event_minutes (
    event_id           text NOT NULL,
    minute             timestamptz NOT NULL CHECK (date_trunc('minute', minute) = minute),
    requested          integer NOT NULL DEFAULT 0,
    seats_requested    integer NOT NULL DEFAULT 0,
    confirmed          integer NOT NULL DEFAULT 0,
    seats_sold         integer NOT NULL DEFAULT 0,
    gross_cents        bigint NOT NULL DEFAULT 0,
    cancelled          integer NOT NULL DEFAULT 0,
    seats_cancelled    integer NOT NULL DEFAULT 0,
    refunded_cents     bigint NOT NULL DEFAULT 0,
    expired            integer NOT NULL DEFAULT 0,
    failed             integer NOT NULL DEFAULT 0,
    -- Exact instants inside the minute, for time to sell-out.
    first_request_at   timestamptz,
    last_sale_at       timestamptz,
    PRIMARY KEY (event_id, minute)
);
