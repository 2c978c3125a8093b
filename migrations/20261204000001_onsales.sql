-- On-sale settings per event, set by an admin (PUT /events/{id}/onsale).
-- The durable record: the waiting room's live state (places, admissions,
-- passes) is in Redis under the event's hash tag, and each function
-- instance caches a row for a second (ONSALE_CACHE_MS).
CREATE TABLE bookings_demo.onsales (
    event_id               text PRIMARY KEY,
    opens_at               timestamptz NOT NULL,
    queue_enabled          boolean NOT NULL,
    admission_per_minute   integer NOT NULL CHECK (admission_per_minute BETWEEN 1 AND 1000000),
    pass_ttl_seconds       integer NOT NULL CHECK (pass_ttl_seconds BETWEEN 10 AND 3600),
    max_seats_per_user     integer CHECK (max_seats_per_user BETWEEN 1 AND 100),
    updated_by             uuid NOT NULL,
    updated_at             timestamptz NOT NULL DEFAULT now()
);
