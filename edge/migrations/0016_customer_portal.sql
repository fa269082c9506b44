-- The customer portal: short-lived sessions a merchant's server opens for one customer.
-- The URL's token (one hour, spent on first use) and the browser's cookie token (one hour
-- from that use) are stored only as SHA-256 hashes.
CREATE TABLE portal_sessions (
    id                    TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL REFERENCES accounts (id),
    environment           TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    -- The customer's row key (customers.id) and the merchant's id for it.
    customer_key          TEXT NOT NULL REFERENCES customers (id),
    customer_id           TEXT NOT NULL,
    token_hash            TEXT NOT NULL UNIQUE,
    browser_hash          TEXT UNIQUE,
    return_url            TEXT CHECK (return_url IS NULL OR length(return_url) <= 2048),
    locale                TEXT,
    configuration_id      TEXT CHECK (configuration_id IS NULL OR length(configuration_id) <= 100),
    flow                  TEXT CHECK (flow IS NULL OR flow IN ('cancel', 'update_payment_method', 'switch_plan')),
    flow_subscription_id  TEXT,
    expires_at            INTEGER NOT NULL,
    accessed_at           INTEGER,
    browse_until          INTEGER,
    -- Cards tried from this session (each a save and maybe a charge): bounded, so a
    -- session cannot test cards.
    card_attempts         INTEGER NOT NULL DEFAULT 0 CHECK (card_attempts BETWEEN 0 AND 10),
    created_at            INTEGER NOT NULL,
    CHECK ((browser_hash IS NULL) = (accessed_at IS NULL))
);
CREATE INDEX portal_sessions_by_customer ON portal_sessions (account_id, environment, customer_key);

-- The prices a subscriber may switch between in the portal, per product (a JSON array of
-- price ids of that product; NULL: no switching).
ALTER TABLE products ADD COLUMN portal_prices TEXT
    CHECK (portal_prices IS NULL OR (json_valid(portal_prices) AND json_type(portal_prices) = 'array'
        AND json_array_length(portal_prices) <= 20));

-- A subscription started again from the portal names its successor: it is started again
-- once only.
ALTER TABLE subscriptions ADD COLUMN resubscribed_as TEXT;

-- The portal's hold on one customer while it starts a subscription again (until this Unix
-- time; a hold left by a Worker that stopped lapses by itself), so that two tabs cannot
-- start two; and the cards the customer's portal sessions tried today.
ALTER TABLE customers ADD COLUMN portal_held_until INTEGER;
ALTER TABLE customers ADD COLUMN portal_card_day INTEGER;
ALTER TABLE customers ADD COLUMN portal_card_attempts INTEGER NOT NULL DEFAULT 0
    CHECK (portal_card_attempts BETWEEN 0 AND 20);
