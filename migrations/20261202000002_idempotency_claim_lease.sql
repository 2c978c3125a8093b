-- An Idempotency-Key claim whose request died mid-flight (a Lambda timeout,
-- a crash) used to read as "in progress" forever. claimed_at is when the
-- current claim was taken; once it is older than the lease
-- (IDEMPOTENCY_LEASE_SECS) and still has no answer, a retry takes it over.
ALTER TABLE bookings_demo.idempotency_keys ADD COLUMN claimed_at timestamptz NOT NULL DEFAULT now();
