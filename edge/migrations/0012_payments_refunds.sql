-- Money after the sale. A payment is every successful charge a merchant can refund: a
-- checkout's (its order) and a subscription renewal's (its billing order). Refunds move
-- `amount_refunded`, which the CHECK keeps at or below the amount: however many refunds
-- race, D1 refuses the one that would give back more than was paid. Each payment has an
-- unguessable receipt key (its hosted receipt page).

CREATE TABLE payments_v2 (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    environment          TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    order_id             TEXT UNIQUE REFERENCES orders (id),
    billing_order_id     TEXT UNIQUE REFERENCES billing_orders (id),
    checkout_session_id  TEXT,
    payment_link_id      TEXT,
    subscription_id      TEXT,
    -- The customer_id the merchant sees.
    customer_id          TEXT,
    amount               INTEGER NOT NULL CHECK (amount >= 0),
    amount_refunded      INTEGER NOT NULL DEFAULT 0,
    currency             TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
    disputed             INTEGER NOT NULL DEFAULT 0 CHECK (disputed IN (0, 1)),
    card_brand           TEXT NOT NULL,
    card_last4           TEXT NOT NULL CHECK (length(card_last4) = 4),
    card_exp_month       INTEGER NOT NULL,
    card_exp_year        INTEGER NOT NULL,
    -- Which processor took it ('sandbox' or 'stripe'), and its reference of the charge.
    processor            TEXT NOT NULL DEFAULT 'sandbox',
    processor_token      TEXT NOT NULL,
    receipt_key          TEXT NOT NULL UNIQUE,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    CHECK (amount_refunded >= 0 AND amount_refunded <= amount),
    CHECK (order_id IS NOT NULL OR billing_order_id IS NOT NULL)
);

INSERT INTO payments_v2 (id, account_id, environment, order_id, checkout_session_id, payment_link_id,
    subscription_id, customer_id, amount, currency, status, card_brand, card_last4, card_exp_month,
    card_exp_year, processor_token, receipt_key, created_at, updated_at)
SELECT p.id, p.account_id, p.environment, p.order_id, o.checkout_session_id, o.payment_link_id,
       s.subscription_id, o.customer_id, p.amount, p.currency, 'SUCCEEDED', p.card_brand, p.card_last4,
       p.card_exp_month, p.card_exp_year, p.processor_token, 'rcpt_' || lower(hex(randomblob(16))),
       p.created_at, p.created_at
FROM payments p JOIN orders o ON o.id = p.order_id
LEFT JOIN checkout_sessions s ON s.id = o.checkout_session_id;

-- Renewals charged before this migration (the first period of a checkout's subscription is
-- its order's payment already).
INSERT INTO payments_v2 (id, account_id, environment, billing_order_id, subscription_id, customer_id, amount,
    currency, status, card_brand, card_last4, card_exp_month, card_exp_year, processor_token, receipt_key,
    created_at, updated_at)
SELECT 'pay_' || lower(hex(randomblob(12))), c.account_id, c.environment, c.billing_order_id, b.subscription_id,
       s.customer_id, c.amount, c.currency, 'SUCCEEDED', m.card_brand, m.card_last4, m.card_exp_month,
       m.card_exp_year, c.processor_token, 'rcpt_' || lower(hex(randomblob(16))), c.created_at, c.created_at
FROM charges c
JOIN billing_orders b ON b.id = c.billing_order_id
JOIN subscriptions s ON s.id = b.subscription_id
JOIN payment_methods m ON m.id = c.payment_method_id
WHERE c.status = 'SUCCEEDED' AND c.amount > 0 AND c.processor_token IS NOT NULL
  AND NOT (b.sequence_no = 1 AND s.checkout_session_id IS NOT NULL);

DROP TABLE payments;
ALTER TABLE payments_v2 RENAME TO payments;
CREATE INDEX payments_by_scope ON payments (account_id, environment, created_at);
CREATE INDEX payments_by_processor_token ON payments (processor, processor_token);

CREATE TABLE refunds (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    environment          TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    payment_id           TEXT NOT NULL REFERENCES payments (id),
    amount               INTEGER NOT NULL CHECK (amount > 0),
    currency             TEXT NOT NULL,
    reason               TEXT CHECK (reason IN ('duplicate', 'fraudulent', 'requested_by_customer')),
    -- PENDING while the processor is asked; FAILED gives the amount back to the payment.
    status               TEXT NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    failure_reason       TEXT,
    metadata             TEXT,
    -- The processor's id of the refund; a refund made in the processor's own dashboard
    -- arrives by its webhook and is recorded once.
    processor_reference  TEXT,
    -- 'api' (asked of Till) or 'processor' (made at the processor, reconciled).
    source               TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'processor')),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_id);
CREATE INDEX refunds_by_scope ON refunds (account_id, environment, created_at);
CREATE UNIQUE INDEX refunds_by_processor_reference ON refunds (payment_id, processor_reference)
    WHERE processor_reference IS NOT NULL;

CREATE VIEW payments_view AS SELECT rowid AS seq, * FROM payments;
CREATE VIEW refunds_view AS SELECT rowid AS seq, * FROM refunds;
-- An order with what its session knew: the lines, the shopper's reference and campaign,
-- the subscription it started, and its payment.
CREATE VIEW orders_view AS
SELECT o.rowid AS seq, o.*, s.line_items, s.client_reference_id, s.utm, s.subscription_id, s.metadata,
       s.locale, p.id AS payment_id, p.amount_refunded, p.status AS payment_status
FROM orders o
LEFT JOIN checkout_sessions s ON s.id = o.checkout_session_id
LEFT JOIN payments p ON p.order_id = o.id;
