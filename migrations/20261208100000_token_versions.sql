-- Issue 32, item 3. Additive only (a column with a default: the previous
-- release's code neither reads nor minds it).

-- Login tokens carry the account's token version (claim `ver`). A role change
-- or a logout raises it, and every token issued before is refused from then
-- on, instead of keeping its role until it expires.
ALTER TABLE users_demo.users ADD COLUMN token_version bigint NOT NULL DEFAULT 0;
