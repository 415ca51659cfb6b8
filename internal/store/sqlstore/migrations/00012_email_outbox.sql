-- Outgoing email and account flows. The outbox is a generic durable queue:
-- a message is enqueued in the transaction of the change that caused it and
-- delivered later by a worker holding a lease on it, so a dead mail server
-- (or a crash mid-delivery) loses nothing. Account tokens are the hashed,
-- single-use, expiring secrets behind verification, reset and email-change
-- links. Known devices let a sign-in from a new device or address be told to
-- the account's owner.

-- +goose Up
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    topic           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    done_at         BIGINT,
    failed_at       BIGINT
);
-- Workers look only at pending messages, oldest due first.
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE done_at IS NULL AND failed_at IS NULL;

CREATE TABLE account_tokens (
    hash       TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    new_email  TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);

CREATE TABLE known_devices (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (user_id, fingerprint)
);

-- +goose Down
DROP TABLE known_devices;
DROP TABLE account_tokens;
DROP TABLE outbox;
ALTER TABLE users DROP COLUMN email_verified_at;
