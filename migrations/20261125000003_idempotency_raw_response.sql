-- Stored responses become the exact bytes sent. As jsonb, an error body that
-- quoted a client's "\u0000" could not be stored (PostgreSQL's jsonb refuses
-- that escape) and the request failed with a 500; bytes also make a replay
-- byte-for-byte identical to the first answer.
ALTER TABLE bookings_demo.idempotency_keys
    ALTER COLUMN response TYPE bytea USING convert_to(response::text, 'UTF8');
