-- Resource servers and audiences (RFC 8707). A client registered as a
-- resource server names the API identifier it speaks for; it can only
-- introspect. Grants, codes and tokens record the audience they were issued
-- for, a JSON list of API identifiers ('[]': no explicit audience, meant for
-- every API whose scopes the token carries).

-- +goose Up
ALTER TABLE clients ADD COLUMN resource_server TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN audience TEXT NOT NULL DEFAULT '[]';
ALTER TABLE auth_codes ADD COLUMN audience TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tokens ADD COLUMN audience TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE tokens DROP COLUMN audience;
ALTER TABLE auth_codes DROP COLUMN audience;
ALTER TABLE grants DROP COLUMN audience;
ALTER TABLE clients DROP COLUMN resource_server;
