-- Webhooks: endpoints an app registers to be told of events, and the log of
-- every delivery made to them. The signing secret is sealed with the master
-- key; while a rotation's grace period runs, the previous secret (sealed too)
-- keeps signing alongside the new one until previous_secret_expires_at. An
-- endpoint that kept failing is disabled with the reason its owner is shown.
-- A delivery's id is the webhook-id header receivers de-duplicate on; each
-- attempt (time, HTTP status, latency, the first KiB of the response) is one
-- row of webhook_attempts.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    client_id                  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    url                        TEXT NOT NULL,
    event_types                TEXT NOT NULL,
    description                TEXT NOT NULL DEFAULT '',
    secret                     TEXT NOT NULL,
    previous_secret            TEXT NOT NULL DEFAULT '',
    previous_secret_expires_at BIGINT,
    disabled_at                BIGINT,
    disabled_reason            TEXT NOT NULL DEFAULT '',
    failing_since              BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_client ON webhook_endpoints (client_id, created_at);

CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    status      INTEGER NOT NULL,
    latency_ms  BIGINT NOT NULL,
    response    TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
