-- Idempotency keys, scoped by the kind of key as well (a publishable key is public, so its
-- holders must not be able to claim a key that the merchant's secret key will send; the
-- operator's keys are a scope of their own, with empty account and environment). A claim
-- carries a token, so only the request holding it records the outcome, and a claim left
-- pending for a minute may be taken over. An answer that carried a secret (a new account's
-- keys, a rolled key, a webhook endpoint's signing secret) is never stored: the row keeps
-- only a marker (`secret_withheld`) and the id of the object, and a replay is refused.
-- Rows expire 24 hours after they were claimed; the cron trigger deletes them.
CREATE TABLE idempotency_keys_scoped (
    account_id       TEXT NOT NULL,
    environment      TEXT NOT NULL,
    key_kind         TEXT NOT NULL CHECK (key_kind IN ('secret', 'publishable', 'operator')),
    key              TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    claim            TEXT NOT NULL,
    status           INTEGER NOT NULL DEFAULT 0,
    body             TEXT,
    secret_withheld  INTEGER NOT NULL DEFAULT 0 CHECK (secret_withheld IN (0, 1)),
    object_id        TEXT,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (account_id, environment, key_kind, key),
    CHECK (secret_withheld = 0 OR body IS NULL)
);

-- Rows written before the scope existed are kept as the secret key's (only it could make
-- anything but a checkout session); any stored answer that carried a secret is dropped.
INSERT INTO idempotency_keys_scoped
    (account_id, environment, key_kind, key, request_hash, claim, status, body,
     secret_withheld, object_id, created_at)
SELECT account_id, environment, 'secret', key, request_hash, '', status,
       CASE WHEN instr(body, '"secret_key":"sk_') > 0 OR instr(body, '"secret":"whsec_') > 0
            THEN NULL ELSE body END,
       CASE WHEN instr(body, '"secret_key":"sk_') > 0 OR instr(body, '"secret":"whsec_') > 0
            THEN 1 ELSE 0 END,
       json_extract(body, '$.id'),
       created_at
FROM idempotency_keys;

DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- What the cron trigger's retention reads: expired sessions by age, events by age.
CREATE INDEX checkout_sessions_by_status_expiry ON checkout_sessions (status, expires_at);
CREATE INDEX events_by_age ON events (created_at);
