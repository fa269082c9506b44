-- A processor a merchant connects per environment (Stripe first). Its secret key and
-- webhook secret are sealed at rest (AES-256-GCM under the Worker's PROCESSOR_SECRETS_KEY,
-- bound to the account, environment and field) and never returned; the account shows the
-- kind, the publishable key and the secret key's last four characters.
CREATE TABLE processor_connections (
    account_id             TEXT NOT NULL REFERENCES accounts (id),
    environment            TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    kind                   TEXT NOT NULL CHECK (kind IN ('stripe')),
    secret_key_sealed      TEXT NOT NULL CHECK (secret_key_sealed LIKE 'v1:%'),
    secret_key_last4       TEXT NOT NULL CHECK (length(secret_key_last4) = 4),
    publishable_key        TEXT NOT NULL,
    webhook_secret_sealed  TEXT CHECK (webhook_secret_sealed LIKE 'v1:%'),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    PRIMARY KEY (account_id, environment)
);
