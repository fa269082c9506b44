-- A delivery can be CANCELED: its endpoint was deleted or disabled before it went out.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt (rowids kept:
-- list cursors are rowids), and what is already pending to such endpoints is canceled.

PRAGMA defer_foreign_keys = true;

CREATE TABLE webhook_deliveries_next (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    environment      TEXT NOT NULL,
    event_id         TEXT NOT NULL REFERENCES events (id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id),
    status           TEXT NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'CANCELED')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    -- A sender claims a delivery until this time, so two senders never post it at once.
    claimed_until    INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
INSERT INTO webhook_deliveries_next (rowid, id, account_id, environment, event_id, endpoint_id,
        status, attempts, next_attempt_at, claimed_until, created_at)
    SELECT rowid, id, account_id, environment, event_id, endpoint_id,
        status, attempts, next_attempt_at, claimed_until, created_at
    FROM webhook_deliveries;
DROP VIEW webhook_deliveries_view;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_next RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, status);
CREATE VIEW webhook_deliveries_view AS SELECT rowid AS seq, * FROM webhook_deliveries;

UPDATE webhook_deliveries SET status = 'CANCELED', claimed_until = NULL
WHERE status = 'PENDING'
  AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE deleted = 1 OR enabled = 0);
