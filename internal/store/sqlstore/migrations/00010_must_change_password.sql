-- An administrator can require a user to choose a new password: until the
-- user changes it, web sign-in leads only to the change-password page and
-- HTTP Basic authentication is refused. A real password change clears it.

-- +goose Up
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE users DROP COLUMN must_change_password;
