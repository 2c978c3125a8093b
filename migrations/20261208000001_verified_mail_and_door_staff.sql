-- Issue 32, items 7 and 9. Additive only.

-- When the owner of the address proved it (followed the verification link, or
-- a password-reset link, which proves the same). Booking mail goes only to
-- addresses with a date here. Accounts made before verification existed have
-- been receiving their tickets by mail all along: they keep doing so rather
-- than silently losing their next confirmation.
ALTER TABLE users_demo.users ADD COLUMN email_verified_at timestamptz;
UPDATE users_demo.users SET email_verified_at = created_at WHERE email_verified_at IS NULL;

-- Door staff per event: an admin assigns a staff account to the events it may
-- admit tickets for (PUT /events/{id}/staff/{userId}); check-in refuses staff
-- not listed for the event. No foreign key to the users schema: the two
-- schemas may move to separate databases (see 20261125000001_users.sql).
CREATE TABLE bookings_demo.event_staff (
    event_id     text NOT NULL,
    user_id      uuid NOT NULL,
    assigned_by  uuid NOT NULL,
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, user_id)
);
