-- Facts about the deployment itself, one value per name. The first is the
-- master key check value: a keyed hash that proves a starting process holds
-- the master key this database was created with, without revealing the key.

-- +goose Up
CREATE TABLE meta (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE meta;
