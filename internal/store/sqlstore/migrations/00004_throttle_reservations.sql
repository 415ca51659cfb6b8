-- Throttled attempts are reserved before the work they guard, and a
-- reservation that did not count (a success on a per-address key, a request
-- refused by another key) is refunded. prev_at keeps the time of the attempt
-- counted before the latest one, so a refund can put last_at back.

-- +goose Up
ALTER TABLE throttle ADD COLUMN prev_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE throttle DROP COLUMN prev_at;
