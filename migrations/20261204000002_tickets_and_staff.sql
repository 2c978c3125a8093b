-- Door staff: a role between user and admin, set by an admin
-- (PUT /users/{id}/role); it may check tickets in and nothing else.
ALTER TABLE users_demo.users DROP CONSTRAINT users_role_check;
ALTER TABLE users_demo.users ADD CONSTRAINT users_role_check CHECK (role IN ('user', 'staff', 'admin'));

-- One row per ticket that has been through a gate. Tickets themselves are
-- not stored: a ticket is a signed claim on a seat of a CONFIRMED booking
-- (shared/src/tickets.rs), valid while that booking is; the primary key is
-- what admits a ticket once however many gates scan it at the same moment.
CREATE TABLE bookings_demo.checkins (
    ticket_id      uuid PRIMARY KEY,
    booking_id     uuid NOT NULL REFERENCES bookings_demo.bookings (id),
    event_id       text NOT NULL,
    seat_label     text NOT NULL,
    gate           text NOT NULL,
    checked_in_by  uuid NOT NULL,
    checked_in_at  timestamptz NOT NULL DEFAULT now()
);
-- Admitted count per event (the organiser's dashboard, analytics).
CREATE INDEX checkins_by_event ON bookings_demo.checkins (event_id, checked_in_at);
