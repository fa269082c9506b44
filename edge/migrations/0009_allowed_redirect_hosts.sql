-- What an account sets per environment (SANDBOX, PRODUCTION). `allowed_redirect_hosts`:
-- the hosts of the merchant's own sites, as a JSON array of normalised entries
-- (`till_shared::hosts`): where a checkout opened with the publishable key may redirect,
-- and which pages may frame the checkout. No row, or `[]`: nothing is allowed.
CREATE TABLE environment_settings (
    account_id              TEXT NOT NULL REFERENCES accounts (id),
    environment             TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    allowed_redirect_hosts  TEXT NOT NULL DEFAULT '[]'
        CHECK (json_valid(allowed_redirect_hosts)
               AND json_type(allowed_redirect_hosts) = 'array'
               AND json_array_length(allowed_redirect_hosts) <= 20),
    PRIMARY KEY (account_id, environment)
);
