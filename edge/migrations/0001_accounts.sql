-- Merchant accounts and their API keys. Keys are stored only as SHA-256 hashes; the key
-- text decides the account and the environment (sk_test_/pk_test_ -> SANDBOX,
-- sk_live_/pk_live_ -> PRODUCTION).
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    key_hash     TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    kind         TEXT NOT NULL CHECK (kind IN ('secret', 'publishable')),
    environment  TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    -- The first characters of the key (`sk_test_AbCd`), so a merchant can tell keys apart.
    hint         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);

-- One row rewritten by every GET /healthz: proof that D1 answers a write and a read.
CREATE TABLE health_checks (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at  INTEGER NOT NULL,
    nonce       TEXT NOT NULL
);
