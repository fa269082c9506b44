-- What a completed checkout leaves behind: the customer, the order, the payment (never the
-- card number or CVC: brand, last4, expiry and the processor's token only), and the event
-- that webhooks deliver. All written in the same batch as the session's completion.

CREATE TABLE customers (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    environment  TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    email        TEXT,
    name         TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX customers_by_email ON customers (account_id, environment, email);

CREATE TABLE orders (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    environment          TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    -- One order per session: a second completion of the same session cannot be stored.
    checkout_session_id  TEXT NOT NULL UNIQUE REFERENCES checkout_sessions (id),
    payment_link_id      TEXT REFERENCES payment_links (id),
    currency             TEXT NOT NULL,
    amount_subtotal      INTEGER NOT NULL CHECK (amount_subtotal >= 0),
    amount_discount      INTEGER NOT NULL CHECK (amount_discount >= 0),
    amount_total         INTEGER NOT NULL CHECK (amount_total >= 0),
    promotion_code       TEXT,
    customer_id          TEXT REFERENCES customers (id),
    customer_email       TEXT NOT NULL,
    customer_name        TEXT,
    custom_fields        TEXT NOT NULL DEFAULT '{}',
    billing_address      TEXT,
    status               TEXT NOT NULL CHECK (status IN ('PAID', 'NO_PAYMENT_REQUIRED')),
    created_at           INTEGER NOT NULL
);
CREATE INDEX orders_by_scope ON orders (account_id, environment, created_at);

CREATE TABLE payments (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    environment      TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    order_id         TEXT NOT NULL UNIQUE REFERENCES orders (id),
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('SUCCEEDED')),
    card_brand       TEXT NOT NULL,
    card_last4       TEXT NOT NULL CHECK (length(card_last4) = 4),
    card_exp_month   INTEGER NOT NULL,
    card_exp_year    INTEGER NOT NULL,
    processor_token  TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);

CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    environment  TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    type         TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    data         TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX events_by_scope ON events (account_id, environment, created_at);

-- Failed payment attempts per client address, counted over the last ten minutes
-- (card-testing defence across sessions; each session also locks after five failures).
-- The cron trigger deletes rows older than an hour.
CREATE TABLE payment_failures (
    key  TEXT NOT NULL,
    at   INTEGER NOT NULL
);
CREATE INDEX payment_failures_by_key ON payment_failures (key, at);

CREATE VIEW events_view AS SELECT rowid AS seq, * FROM events;
