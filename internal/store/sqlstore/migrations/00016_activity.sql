-- Hourly event counters (sign-ins, failures, tokens issued, rate-limit
-- hits…) for the console's overview. hour is the Unix milliseconds of the
-- hour's start. Each process counts in memory and adds its counts here every
-- few seconds with an upsert that adds, so replicas sum.

-- +goose Up
CREATE TABLE activity_hourly (
    hour  BIGINT NOT NULL,
    name  TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (hour, name)
);

-- +goose Down
DROP TABLE activity_hourly;
