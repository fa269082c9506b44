-- A payment link's human views per UTC day and `utm_source` (the funnel's first step; its
-- sessions and sales come from checkout_sessions). `source` is '' for a view without one;
-- a link keeps at most 50 sources a day, further ones count under '~other'.
CREATE TABLE link_view_days (
    payment_link_id  TEXT NOT NULL REFERENCES payment_links (id),
    day              TEXT NOT NULL CHECK (length(day) = 10),
    source           TEXT NOT NULL DEFAULT '' CHECK (length(source) <= 40),
    views            INTEGER NOT NULL DEFAULT 0 CHECK (views >= 0),
    PRIMARY KEY (payment_link_id, day, source)
) WITHOUT ROWID;

-- Views counted before this migration, on one day of each link's: the day it last changed,
-- without source.
INSERT INTO link_view_days (payment_link_id, day, source, views)
SELECT id, date(updated_at, 'unixepoch'), '', view_count FROM payment_links WHERE view_count > 0;

-- Sessions and sales of a link by day.
CREATE INDEX checkout_sessions_by_link_time ON checkout_sessions (payment_link_id, created_at);
CREATE INDEX checkout_sessions_by_scope_completed ON checkout_sessions (account_id, environment, completed_at)
    WHERE completed_at IS NOT NULL;

-- Each environment's branding, shown on its checkout pages, receipts and buy buttons: a
-- display name (else the account's name), an https logo URL and an accent colour
-- (#rrggbb). Per environment, so that a test key never changes what live shoppers see.
ALTER TABLE environment_settings ADD COLUMN brand_name TEXT CHECK (brand_name IS NULL OR length(brand_name) BETWEEN 1 AND 80);
ALTER TABLE environment_settings ADD COLUMN brand_logo_url TEXT CHECK (brand_logo_url IS NULL OR (length(brand_logo_url) <= 500 AND brand_logo_url LIKE 'https://%'));
ALTER TABLE environment_settings ADD COLUMN brand_color TEXT CHECK (brand_color IS NULL OR (length(brand_color) = 7 AND brand_color GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'));

-- A publishable key is public (it is pasted into merchant pages): kept in full, so the
-- dashboard can show it again. Secret keys stay hashes only.
ALTER TABLE api_keys ADD COLUMN publishable_key TEXT CHECK (publishable_key IS NULL OR kind = 'publishable');

-- A delivery's list row names its event's type (`refund.created`), not only its id.
DROP VIEW webhook_deliveries_view;
CREATE VIEW webhook_deliveries_view AS
SELECT d.rowid AS seq, d.*, e.type AS event_type
FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id;
