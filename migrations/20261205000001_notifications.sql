-- What the notifier has told a booking's owner: one row per (booking, kind of
-- message), so redelivered and concurrent batches send each message once.
-- A sender claims the row before it sends (state SENDING, lease_until), and
-- records SENT after the mail server accepted the message. A send that fails
-- hands the row back (RETRY) and fails its batch, which is delivered again; a
-- sender that dies between the send and the mark leaves a lapsed lease, and
-- the next delivery sends again: at most one repeat per crash, never a loss
-- (docs/decisions.md, "Notifications: at least once, de-duplicated").
CREATE TABLE bookings_demo.notifications (
    -- No foreign key: a message about a booking that is not there is
    -- recorded SKIPPED instead of failing its batch for ever.
    booking_id   uuid NOT NULL,
    kind         text NOT NULL,
    state        text NOT NULL CHECK (state IN ('SENDING', 'RETRY', 'SENT', 'REFUSED', 'SKIPPED')),
    lease_until  timestamptz NOT NULL,
    -- Counts claims, and names the current one: a sender whose lease lapsed
    -- cannot settle the row its successor holds.
    attempts     integer NOT NULL DEFAULT 1,
    recipient    text,
    provider_id  text,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    PRIMARY KEY (booking_id, kind)
);
