-- The waiting list of sold-out events (POST/GET/DELETE /events/{id}/waitlist).
-- The id is the order of the list: the smallest waiting id is offered first.
-- When seats come back (a cancel, a lapsed hold, a failed reservation), the
-- waitlist-offerer consumer offers them to the first entry whose request
-- fits, as a PENDING booking created in the same transaction that moves the
-- entry to OFFERED; the booking's unique seat index decides between the
-- offer and a buyer racing for the same seats.
CREATE TABLE bookings_demo.waitlist (
    id                bigserial PRIMARY KEY,
    event_id          text NOT NULL,
    user_id           uuid NOT NULL REFERENCES users_demo.users (id),
    seats             smallint NOT NULL CHECK (seats BETWEEN 1 AND 4),
    state             text NOT NULL CHECK (state IN ('WAITING', 'OFFERED', 'LEFT', 'PASSED')),
    -- The offer: a booking of this user holding the offered seats.
    booking_id        uuid REFERENCES bookings_demo.bookings (id),
    offer_expires_at  timestamptz,
    joined_at         timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((state IN ('WAITING', 'LEFT') AND booking_id IS NULL)
        OR (state IN ('OFFERED', 'PASSED') AND booking_id IS NOT NULL))
);

-- One live entry per fan and event: joining twice answers the same entry.
CREATE UNIQUE INDEX waitlist_one_live_entry_per_user
    ON bookings_demo.waitlist (event_id, user_id) WHERE state IN ('WAITING', 'OFFERED');
-- The offerer reads the head of one event's line; positions count it.
CREATE INDEX waitlist_line ON bookings_demo.waitlist (event_id, id) WHERE state = 'WAITING';
-- A closed offer finds its entry by booking.
CREATE UNIQUE INDEX waitlist_offer_booking ON bookings_demo.waitlist (booking_id) WHERE booking_id IS NOT NULL;
