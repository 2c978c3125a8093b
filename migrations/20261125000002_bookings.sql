-- The booking service's data. PostgreSQL is the system of record: Redis
-- holds are the fast first line against overselling, the partial unique
-- indexes below are the last one.
CREATE SCHEMA IF NOT EXISTS bookings_demo;

CREATE TABLE bookings_demo.bookings (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    event_id        text NOT NULL,
    status          text NOT NULL CHECK (status IN ('PENDING', 'RESERVED', 'CONFIRMED', 'CANCELLED', 'EXPIRED', 'FAILED')),
    total_cents     bigint NOT NULL CHECK (total_cents > 0),
    currency        text NOT NULL,
    expires_at      timestamptz NOT NULL,
    failure_reason  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One unpaid booking per user per event: a second POST /bookings for the
-- same event fails here even when 50 arrive at once.
CREATE UNIQUE INDEX one_open_booking_per_user_event
    ON bookings_demo.bookings (user_id, event_id)
    WHERE status IN ('PENDING', 'RESERVED');
-- GET /bookings: a user's bookings, newest first.
CREATE INDEX bookings_by_user ON bookings_demo.bookings (user_id, created_at DESC, id DESC);
-- The expirer scans only unpaid bookings by deadline.
CREATE INDEX open_bookings_by_expiry ON bookings_demo.bookings (expires_at)
    WHERE status IN ('PENDING', 'RESERVED');

CREATE TABLE bookings_demo.booking_seats (
    booking_id   uuid NOT NULL REFERENCES bookings_demo.bookings (id),
    event_id     text NOT NULL,
    seat_label   text NOT NULL,
    section      text NOT NULL,
    tier         text NOT NULL,
    price_cents  bigint NOT NULL CHECK (price_cents > 0),
    -- Mirrors "the booking is PENDING, RESERVED or CONFIRMED", updated in
    -- the same transaction as the status, because a partial index cannot
    -- look at another table.
    active       boolean NOT NULL DEFAULT true,
    PRIMARY KEY (booking_id, seat_label)
);

-- Zero oversell: a seat is in at most one active booking.
CREATE UNIQUE INDEX one_active_booking_per_seat
    ON bookings_demo.booking_seats (event_id, seat_label)
    WHERE active;

CREATE TABLE bookings_demo.payments (
    id            uuid PRIMARY KEY,
    booking_id    uuid NOT NULL REFERENCES bookings_demo.bookings (id),
    user_id       uuid NOT NULL,
    amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
    currency      text NOT NULL,
    status        text NOT NULL CHECK (status IN ('SUCCEEDED', 'DECLINED', 'FAILED', 'REFUNDED')),
    provider_ref  text,
    card_last4    text,
    failure_code  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    refunded_at   timestamptz
);

-- A booking is paid at most once (a refunded payment still counts).
CREATE UNIQUE INDEX one_successful_payment_per_booking
    ON bookings_demo.payments (booking_id)
    WHERE status IN ('SUCCEEDED', 'REFUNDED');

-- Idempotency-Key: the first response for (user, key) is replayed for
-- retries; the request hash catches a key reused for another request.
CREATE TABLE bookings_demo.idempotency_keys (
    user_id        uuid NOT NULL,
    key            text NOT NULL,
    request_hash   text NOT NULL,
    status_code    integer,
    response       jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- Transactional outbox: written with the state change it announces.
CREATE TABLE bookings_demo.outbox (
    seq           bigserial PRIMARY KEY,
    id            uuid NOT NULL UNIQUE,
    topic         text NOT NULL,
    message_key   text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
-- The relay reads unpublished rows in order.
CREATE INDEX outbox_unpublished ON bookings_demo.outbox (seq) WHERE published_at IS NULL;

-- Consumer idempotency: an extra guard beside the conditional writes.
CREATE TABLE bookings_demo.processed_messages (
    consumer      text NOT NULL,
    message_id    uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

CREATE TABLE bookings_demo.audit_log (
    id           bigserial PRIMARY KEY,
    booking_id   uuid NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    from_status  text,
    to_status    text,
    detail       jsonb,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_by_booking ON bookings_demo.audit_log (booking_id, id);
