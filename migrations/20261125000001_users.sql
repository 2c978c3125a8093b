-- The auth service's data. Separate schema from the booking service, as the
-- original kept separate databases: either can move to its own database
-- later without renaming anything.
CREATE SCHEMA IF NOT EXISTS users_demo;

CREATE TABLE users_demo.users (
    id            uuid PRIMARY KEY,
    -- Stored lower-cased by the application; the unique index below is what
    -- makes 100 concurrent registrations of one email yield exactly one row.
    email         text NOT NULL,
    name          text NOT NULL,
    phone         text,
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    tier          text NOT NULL DEFAULT 'regular' CHECK (tier IN ('regular', 'premium', 'vip')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_lowercase CHECK (email = lower(email))
);

CREATE UNIQUE INDEX users_email_key ON users_demo.users (email);
