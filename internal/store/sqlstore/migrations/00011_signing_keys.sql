-- Signing keys for the JSON Web Tokens the server issues (ID tokens, JWT
-- access tokens). The private key is sealed with the master key. A key is
-- published in the JWKS from created_at, signs from active_at (published
-- ahead, so relying parties have it cached before they see it), stops signing
-- at retired_at and leaves the JWKS at expires_at, once everything it signed
-- has expired.

-- +goose Up
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    active_at   BIGINT NOT NULL,
    retired_at  BIGINT,
    expires_at  BIGINT
);
CREATE INDEX signing_keys_alg ON signing_keys (alg, active_at);

-- +goose Down
DROP TABLE signing_keys;
