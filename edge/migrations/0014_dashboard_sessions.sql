-- The merchant dashboard's sign-in: one-time login links (15 minutes) and cookie sessions
-- (12 hours), each for one account and environment, their tokens stored only as SHA-256
-- hashes. A session carries the CSRF token that its cookie-authenticated writes must send.
CREATE TABLE dashboard_login_links (
    token_hash   TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    environment  TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    created_at   INTEGER NOT NULL
);

CREATE TABLE dashboard_sessions (
    token_hash   TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    environment  TEXT NOT NULL CHECK (environment IN ('SANDBOX', 'PRODUCTION')),
    csrf_token   TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);
