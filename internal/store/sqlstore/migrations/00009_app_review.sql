-- App management: what the developer tells users about an app (homepage,
-- privacy policy, terms, logo), its type as registered, the review state
-- (status 'rejected' and the reason shown to the developer; scopes and grant
-- types that await review, kept apart from the approved ones that keep
-- working), the deployment environment it was registered in, and when each
-- secret was last used. Logos are re-encoded PNGs stored as base64 TEXT, the
-- one portable way to keep bytes on both backends.

-- +goose Up
ALTER TABLE clients ADD COLUMN review_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN homepage_url TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN privacy_url TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN terms_url TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN app_type TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN pending_scopes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN pending_grants TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN environment TEXT NOT NULL DEFAULT '';
CREATE INDEX clients_status ON clients (status);
ALTER TABLE client_secrets ADD COLUMN last_used_at BIGINT;
CREATE TABLE client_logos (
    client_id  TEXT PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    png        TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE client_logos;
ALTER TABLE client_secrets DROP COLUMN last_used_at;
DROP INDEX clients_status;
ALTER TABLE clients DROP COLUMN environment;
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
ALTER TABLE clients DROP COLUMN pending_grants;
ALTER TABLE clients DROP COLUMN pending_scopes;
ALTER TABLE clients DROP COLUMN app_type;
ALTER TABLE clients DROP COLUMN terms_url;
ALTER TABLE clients DROP COLUMN privacy_url;
ALTER TABLE clients DROP COLUMN homepage_url;
ALTER TABLE clients DROP COLUMN review_reason;
