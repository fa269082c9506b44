-- A product link sells its product's default price; the view now carries that price's
-- interval too, so a recurring product link prices as recurring (and its checkout starts
-- the subscription) instead of as a line without an interval.
DROP VIEW payment_links_view;
CREATE VIEW payment_links_view AS
SELECT l.rowid AS seq, l.*,
       p.name AS product_name, p.slug AS product_slug, p.default_price_id AS product_price_id,
       pr.amount AS product_price, pr.currency AS product_currency, pr.type AS product_price_type,
       pr.interval AS product_price_interval, pr.interval_count AS product_price_interval_count
FROM payment_links l
LEFT JOIN products p ON p.id = l.product_id
LEFT JOIN prices pr ON pr.id = p.default_price_id;
