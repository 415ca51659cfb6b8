-- Lookups added after the first release: leaked-credential revocation finds
-- client secrets by hash; housekeeping deletes expired authorization codes.

-- +goose Up
CREATE INDEX client_secrets_hash ON client_secrets (hash);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

-- +goose Down
DROP INDEX auth_codes_expires;
DROP INDEX client_secrets_hash;
