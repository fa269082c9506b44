-- Recurring billing: customers with merchant-chosen ids, saved payment methods, test
-- clocks, subscriptions, and one billing order per (subscription, sequence number) with
-- every charge attempt. "Billed once per cycle" is the billing_orders UNIQUE constraint;
-- "paid once" is the partial unique index on successful charges.

-- Billing settings of an account: the dunning schedule (seconds after a renewal's first
-- failure, comma-separated) and what a subscription becomes after the last retry fails.
ALTER TABLE accounts ADD COLUMN subscription_retry_schedule TEXT NOT NULL DEFAULT '86400,259200,432000';
ALTER TABLE accounts ADD COLUMN subscription_final_state TEXT NOT NULL DEFAULT 'UNPAID'
    CHECK (subscription_final_state IN ('UNPAID', 'CANCELED'));

-- `customer_id` is the id the merchant sees: chosen by the merchant, or the generated `id`.
ALTER TABLE customers ADD COLUMN customer_id TEXT;
ALTER TABLE customers ADD COLUMN phone TEXT;
ALTER TABLE customers ADD COLUMN billing_address TEXT;
ALTER TABLE customers ADD COLUMN metadata TEXT;
ALTER TABLE customers ADD COLUMN test_clock_id TEXT;
ALTER TABLE customers ADD COLUMN updated_at INTEGER;
ALTER TABLE customers ADD COLUMN deleted_at INTEGER;
UPDATE customers SET customer_id = id, updated_at = created_at WHERE customer_id IS NULL;
CREATE UNIQUE INDEX customers_by_customer_id ON customers (account_id, environment, customer_id)
    WHERE deleted_at IS NULL;
CREATE INDEX customers_by_scope ON customers (account_id, environment, created_at);
-- The merchant's view: `id` is the id the merchant chose (or was given).
CREATE VIEW customers_view AS
SELECT rowid AS seq, customer_id AS id, id AS internal_id, account_id, environment, email, name, phone,
       billing_address, metadata, test_clock_id, created_at, updated_at
FROM customers WHERE deleted_at IS NULL;

CREATE TABLE test_clocks (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    environment  TEXT NOT NULL CHECK (environment = 'SANDBOX'),
    name         TEXT,
    frozen_time  INTEGER NOT NULL,
    status       TEXT NOT NULL DEFAULT 'READY' CHECK (status IN ('READY', 'ADVANCING')),
    created_at   INTEGER NOT NULL
);
CREATE VIEW test_clocks_view AS SELECT rowid AS seq, * FROM test_clocks;

-- A saved card: never the number, only brand, last4, expiry and the processor's token.
CREATE TABLE payment_methods (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    environment          TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    customer_id          TEXT NOT NULL,
    type                 TEXT NOT NULL DEFAULT 'card',
    card_brand           TEXT NOT NULL,
    card_last4           TEXT NOT NULL CHECK (length(card_last4) = 4),
    card_exp_month       INTEGER NOT NULL,
    card_exp_year        INTEGER NOT NULL,
    processor_token      TEXT NOT NULL,
    checkout_session_id  TEXT,
    detached_at          INTEGER,
    created_at           INTEGER NOT NULL
);
CREATE INDEX payment_methods_by_customer ON payment_methods (account_id, environment, customer_id);
CREATE VIEW payment_methods_view AS SELECT rowid AS seq, * FROM payment_methods;

CREATE TABLE subscriptions (
    id                           TEXT PRIMARY KEY,
    account_id                   TEXT NOT NULL REFERENCES accounts (id),
    environment                  TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    customer_id                  TEXT NOT NULL,
    payment_method_id            TEXT REFERENCES payment_methods (id),
    items                        TEXT NOT NULL,     -- JSON [{price_id, product_id, quantity, unit_amount}]
    currency                     TEXT NOT NULL,
    amount                       INTEGER NOT NULL CHECK (amount >= 0),
    interval                     TEXT NOT NULL,
    interval_count               INTEGER NOT NULL CHECK (interval_count >= 1),
    total_billing_cycles         INTEGER CHECK (total_billing_cycles >= 1),
    start_time                   INTEGER NOT NULL,
    trial_end                    INTEGER,
    -- Billing times are whole periods from (anchor_time, anchor_sequence).
    anchor_time                  INTEGER NOT NULL,
    anchor_sequence              INTEGER NOT NULL DEFAULT 1,
    state                        TEXT NOT NULL CHECK (state IN
                                     ('INCOMPLETE', 'TRIALING', 'ACTIVE', 'PAST_DUE', 'UNPAID', 'CANCELED', 'COMPLETED')),
    completed_billing_iteration  INTEGER NOT NULL DEFAULT 0,
    last_billing_time            INTEGER,
    next_billing_time            INTEGER,
    current_period_start         INTEGER,
    current_period_end           INTEGER,
    retry_at                     INTEGER,
    -- When the billing job next looks at this subscription (NULL: never).
    due_at                       INTEGER,
    cancel_at_period_end         INTEGER NOT NULL DEFAULT 0 CHECK (cancel_at_period_end IN (0, 1)),
    canceled_at                  INTEGER,
    ended_at                     INTEGER,
    test_clock_id                TEXT,
    checkout_session_id          TEXT,
    metadata                     TEXT,
    -- The biller holding the subscription (one at a time), and since when.
    claim                        TEXT,
    claimed_at                   INTEGER,
    created_at                   INTEGER NOT NULL,
    updated_at                   INTEGER NOT NULL,
    CHECK (total_billing_cycles IS NULL OR completed_billing_iteration <= total_billing_cycles)
);
CREATE INDEX subscriptions_due ON subscriptions (test_clock_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX subscriptions_by_scope ON subscriptions (account_id, environment, created_at);
CREATE INDEX subscriptions_by_customer ON subscriptions (account_id, environment, customer_id);
CREATE VIEW subscriptions_view AS SELECT rowid AS seq, * FROM subscriptions;

CREATE TABLE billing_orders (
    id               TEXT PRIMARY KEY,              -- sub_ord_{subscription}_{0001}
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    environment      TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    subscription_id  TEXT NOT NULL REFERENCES subscriptions (id),
    sequence_no      INTEGER NOT NULL CHECK (sequence_no >= 1),
    trigger_by       TEXT NOT NULL CHECK (trigger_by IN ('auto', 'manual')),
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('PENDING', 'PAID', 'FAILED')),
    billing_time     INTEGER NOT NULL,
    period_start     INTEGER NOT NULL,
    period_end       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    first_failed_at  INTEGER,
    failure_code     TEXT,
    paid_at          INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (subscription_id, sequence_no)
);
CREATE VIEW billing_orders_view AS SELECT rowid AS seq, * FROM billing_orders;

-- Every attempt to collect a billing order.
CREATE TABLE charges (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    environment        TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    billing_order_id   TEXT NOT NULL REFERENCES billing_orders (id),
    attempt            INTEGER NOT NULL CHECK (attempt >= 1),
    trigger_by         TEXT NOT NULL CHECK (trigger_by IN ('auto', 'manual')),
    amount             INTEGER NOT NULL CHECK (amount >= 0),
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED')),
    failure_code       TEXT,
    payment_method_id  TEXT,
    processor_token    TEXT,
    created_at         INTEGER NOT NULL,
    UNIQUE (billing_order_id, attempt)
);
CREATE UNIQUE INDEX charges_paid_once ON charges (billing_order_id) WHERE status = 'SUCCEEDED';
