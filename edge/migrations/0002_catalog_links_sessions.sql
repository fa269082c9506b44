-- Products, prices, promotion codes, payment links, checkout sessions and idempotency
-- records. Every row is scoped by (account_id, environment); uniqueness that money or
-- addressing depends on is enforced here, not in Rust.

CREATE TABLE products (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    environment       TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    name              TEXT NOT NULL,
    slug              TEXT NOT NULL,
    description       TEXT,
    images            TEXT NOT NULL DEFAULT '[]',   -- JSON array of URLs
    metadata          TEXT,                          -- JSON object
    active            INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    default_price_id  TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (account_id, environment, slug)
);
CREATE INDEX products_by_scope ON products (account_id, environment, created_at, id);

CREATE TABLE prices (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    environment     TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    product_id      TEXT NOT NULL REFERENCES products (id),
    nickname        TEXT,
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    currency        TEXT NOT NULL,
    type            TEXT NOT NULL CHECK (type IN ('one_time', 'recurring')),
    interval        TEXT CHECK (interval IN ('MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH', 'YEAR')),
    interval_count  INTEGER CHECK (interval_count BETWEEN 1 AND 1000),
    usage_type      TEXT,
    metadata        TEXT,
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at      INTEGER NOT NULL,
    CHECK ((type = 'recurring') = (interval IS NOT NULL))
);
CREATE INDEX prices_by_scope ON prices (account_id, environment, created_at, id);
CREATE INDEX prices_by_product ON prices (product_id);

CREATE TABLE promotion_codes (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    environment      TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    code             TEXT NOT NULL,
    code_key         TEXT NOT NULL,                 -- upper-cased: codes are case-insensitive
    percent_off      INTEGER CHECK (percent_off BETWEEN 1 AND 100),
    amount_off       INTEGER CHECK (amount_off > 0),
    currency         TEXT,
    max_redemptions  INTEGER CHECK (max_redemptions > 0),
    times_redeemed   INTEGER NOT NULL DEFAULT 0,
    expires_at       INTEGER,
    products         TEXT NOT NULL DEFAULT '[]',    -- JSON array of product ids; empty = any
    metadata         TEXT,
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at       INTEGER NOT NULL,
    -- Redemptions held by payments in flight; they count against the limit too.
    reserved_count   INTEGER NOT NULL DEFAULT 0 CHECK (reserved_count >= 0),
    UNIQUE (account_id, environment, code_key),
    CHECK ((percent_off IS NULL) <> (amount_off IS NULL)),
    CHECK ((amount_off IS NULL) = (currency IS NULL)),
    CHECK (max_redemptions IS NULL OR times_redeemed + reserved_count <= max_redemptions)
);
CREATE INDEX promotion_codes_by_scope ON promotion_codes (account_id, environment, created_at, id);

CREATE TABLE payment_links (
    id                          TEXT PRIMARY KEY,
    account_id                  TEXT NOT NULL REFERENCES accounts (id),
    environment                 TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    url_id                      TEXT NOT NULL UNIQUE,
    -- How the link was defined: by a product, by line items, or by an amount.
    kind                        TEXT NOT NULL CHECK (kind IN ('product', 'line_items', 'amount')),
    name                        TEXT,
    product_id                  TEXT REFERENCES products (id),
    line_items                  TEXT NOT NULL DEFAULT '[]',  -- JSON [{price_id, quantity}]
    amount                      INTEGER CHECK (amount > 0),
    currency                    TEXT,
    title                       TEXT,
    description                 TEXT,
    multiple                    INTEGER NOT NULL DEFAULT 1 CHECK (multiple IN (0, 1)),
    promotion_code              TEXT,
    allow_promotion_codes       INTEGER NOT NULL DEFAULT 0 CHECK (allow_promotion_codes IN (0, 1)),
    collect_payment_method      TEXT NOT NULL DEFAULT 'always',
    success_url                 TEXT,
    after_completion            TEXT,               -- JSON
    custom_fields               TEXT NOT NULL DEFAULT '[]',
    billing_address_collection  TEXT NOT NULL DEFAULT 'auto',
    customer_creation           TEXT NOT NULL DEFAULT 'if_required',
    submit_type                 TEXT NOT NULL DEFAULT 'auto',
    max_completions             INTEGER CHECK (max_completions > 0),
    metadata                    TEXT,
    active                      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    deleted                     INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    view_count                  INTEGER NOT NULL DEFAULT 0,
    session_count               INTEGER NOT NULL DEFAULT 0,
    completed_count             INTEGER NOT NULL DEFAULT 0,
    -- Completions held by payments in flight (reserved before charging, so a shopper who
    -- would exceed max_completions is refused before being charged).
    reserved_count              INTEGER NOT NULL DEFAULT 0 CHECK (reserved_count >= 0),
    created_via                 TEXT NOT NULL DEFAULT 'api',
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL,
    CHECK (max_completions IS NULL OR completed_count + reserved_count <= max_completions),
    CHECK (multiple = 1 OR completed_count + reserved_count <= 1)
);
CREATE INDEX payment_links_by_scope ON payment_links (account_id, environment, created_at, id);

CREATE TABLE checkout_sessions (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    environment          TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    mode                 TEXT NOT NULL CHECK (mode IN ('PAYMENT', 'SUBSCRIPTION', 'SETUP')),
    status               TEXT NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'COMPLETE', 'EXPIRED')),
    payment_link_id      TEXT REFERENCES payment_links (id),
    line_items           TEXT NOT NULL,              -- JSON, priced at creation
    currency             TEXT NOT NULL,
    amount_subtotal      INTEGER NOT NULL CHECK (amount_subtotal >= 0),
    amount_discount      INTEGER NOT NULL DEFAULT 0 CHECK (amount_discount >= 0),
    amount_total         INTEGER NOT NULL CHECK (amount_total >= 0),
    promotion_code       TEXT,
    success_url          TEXT,
    cancel_url           TEXT,
    customer_email       TEXT,
    customer_name        TEXT,
    client_reference_id  TEXT,
    locale               TEXT,
    metadata             TEXT,
    order_id             TEXT,
    subscription_id      TEXT,
    setup_intent_id      TEXT,
    expires_at           INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    completed_at         INTEGER,
    -- The shopper's side: the form's CSRF token, what the link asks for, failed attempts,
    -- and the token of the payment in flight (its holder may complete or release it).
    csrf_token                  TEXT NOT NULL,
    custom_fields               TEXT NOT NULL DEFAULT '[]',
    billing_address_collection  TEXT NOT NULL DEFAULT 'auto',
    customer_creation           TEXT NOT NULL DEFAULT 'if_required',
    allow_promotion_codes       INTEGER NOT NULL DEFAULT 0 CHECK (allow_promotion_codes IN (0, 1)),
    after_completion            TEXT,
    utm                         TEXT,
    failed_attempts             INTEGER NOT NULL DEFAULT 0,
    reservation                 TEXT,
    reserved_at                 INTEGER,
    pending_payment             TEXT,
    customer_id                 TEXT
);
CREATE INDEX checkout_sessions_by_scope ON checkout_sessions (account_id, environment, created_at, id);
CREATE INDEX checkout_sessions_by_link ON checkout_sessions (payment_link_id);

-- The first response to a POST with an Idempotency-Key, replayed for the same key and
-- body; a pending row (status 0) claims the key while the first request runs.
CREATE TABLE idempotency_keys (
    account_id    TEXT NOT NULL,
    environment   TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL DEFAULT 0,
    body          TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, environment, key)
);

-- Read shapes. `seq` (the rowid) is insertion order: lists sort and page by it, since
-- created_at has one-second resolution and ids are random.
CREATE VIEW products_view AS
SELECT p.rowid AS seq, p.*,
       pr.amount AS price_amount, pr.currency AS price_currency, pr.type AS price_type,
       pr.interval AS price_interval, pr.interval_count AS price_interval_count
FROM products p LEFT JOIN prices pr ON pr.id = p.default_price_id;

CREATE VIEW prices_view AS SELECT rowid AS seq, * FROM prices;

CREATE VIEW promotion_codes_view AS SELECT rowid AS seq, * FROM promotion_codes;

CREATE VIEW checkout_sessions_view AS SELECT rowid AS seq, * FROM checkout_sessions;

CREATE VIEW payment_links_view AS
SELECT l.rowid AS seq, l.*,
       p.name AS product_name, p.slug AS product_slug, p.default_price_id AS product_price_id,
       pr.amount AS product_price, pr.currency AS product_currency, pr.type AS product_price_type
FROM payment_links l
LEFT JOIN products p ON p.id = l.product_id
LEFT JOIN prices pr ON pr.id = p.default_price_id;
