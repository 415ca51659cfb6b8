-- The audit log: append-only, each entry hash-chained to the one before.
-- seq is assigned by the appender from the single audit_head row, which it
-- locks for the rest of its transaction, so the chain has no gaps and no
-- forks even with several replicas appending. The head row also keeps the
-- signed checkpoint pruning leaves behind.

-- +goose Up
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    type        TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    client_addr TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
-- Few indexes: every one is paid on the token endpoint's hot path. A
-- user's own history reads by subject; pruning by time. Other filters
-- walk back from the newest entry (seq) until the page is full.
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_at ON audit_log (at); -- dropped again by migration 20 (migrate_go.go)

CREATE TABLE audit_head (
    id             INTEGER PRIMARY KEY,
    seq            BIGINT NOT NULL,
    hash           TEXT NOT NULL,
    checkpoint_seq BIGINT NOT NULL DEFAULT 0,
    checkpoint_hash TEXT NOT NULL DEFAULT '',
    checkpoint_sig TEXT NOT NULL DEFAULT '',
    checkpoint_at  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_log;
