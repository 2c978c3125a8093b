-- Provider calls (charges, refunds) no longer run inside a transaction that
-- holds the booking's row lock, and a refund that the provider has not
-- confirmed is never forgotten:
--
-- PROCESSING      a charge is in flight: written and committed before the
--                 provider is called, so a second pay of the booking finds it
--                 (the unique index below) instead of charging again.
-- REFUND_PENDING  the money must go back (cancelled after paying, failed after
--                 paying, charged after the hold lapsed, or a charge whose
--                 outcome was lost); the sweeper retries until the provider
--                 confirms, with the booking id as the provider's idempotency
--                 key. refund_due_at is when the next attempt may start (a
--                 lease while one runs, a back-off after a failure).
ALTER TABLE bookings_demo.payments DROP CONSTRAINT payments_status_check;
ALTER TABLE bookings_demo.payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('PROCESSING', 'SUCCEEDED', 'DECLINED', 'FAILED', 'REFUND_PENDING', 'REFUNDED'));
ALTER TABLE bookings_demo.payments
    ADD COLUMN refund_due_at timestamptz,
    ADD COLUMN refund_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN refund_error text;

-- A booking is charged at most once: a charge in flight, a success and a
-- refund (owed or done) all count.
DROP INDEX bookings_demo.one_successful_payment_per_booking;
CREATE UNIQUE INDEX one_charge_per_booking ON bookings_demo.payments (booking_id)
    WHERE status IN ('PROCESSING', 'SUCCEEDED', 'REFUND_PENDING', 'REFUNDED');

CREATE INDEX refunds_due ON bookings_demo.payments (refund_due_at) WHERE status = 'REFUND_PENDING';
CREATE INDEX charges_in_flight ON bookings_demo.payments (created_at) WHERE status = 'PROCESSING';
