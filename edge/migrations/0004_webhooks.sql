-- Webhook endpoints, one delivery per (event, endpoint), and every attempt made.

CREATE TABLE webhook_endpoints (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    environment         TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    url                 TEXT NOT NULL,
    description         TEXT,
    enabled_events      TEXT NOT NULL DEFAULT '["*"]',   -- JSON array of types, or ["*"]
    enabled             INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- The signing secret; HMAC needs it, so it is kept (it is shown to the merchant once).
    secret              TEXT NOT NULL,
    -- After a roll the old secret keeps signing beside the new one until this time.
    previous_secret     TEXT,
    previous_until      INTEGER,
    deleted             INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    -- When deliveries to it started failing without a success since (NULL: healthy).
    failing_since       INTEGER,
    created_at          INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_by_scope ON webhook_endpoints (account_id, environment);
CREATE VIEW webhook_endpoints_view AS SELECT rowid AS seq, * FROM webhook_endpoints WHERE deleted = 0;

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    environment      TEXT NOT NULL,
    event_id         TEXT NOT NULL REFERENCES events (id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id),
    status           TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    -- A sender claims a delivery until this time, so two senders never post it at once.
    claimed_until    INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE VIEW webhook_deliveries_view AS SELECT rowid AS seq, * FROM webhook_deliveries;

CREATE TABLE webhook_attempts (
    id            TEXT PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at  INTEGER NOT NULL,
    status_code   INTEGER,
    duration_ms   INTEGER NOT NULL,
    error         TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id);
