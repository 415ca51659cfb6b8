-- Per-client token options. access_token_format is the format of the
-- client's access tokens when the API a token is meant for does not decide
-- it ('' inherits the server default, 'opaque' or 'jwt'). subject_type is
-- OpenID Connect's subject type ('' or 'public': the user's id is the sub;
-- 'pairwise': each sector sees its own unlinkable sub, OpenID Connect Core
-- §8.1).

-- +goose Up
ALTER TABLE clients ADD COLUMN access_token_format TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN subject_type TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN subject_type;
ALTER TABLE clients DROP COLUMN access_token_format;
