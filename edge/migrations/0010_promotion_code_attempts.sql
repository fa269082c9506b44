-- Promotion codes tried on hosted checkout pages, one row per attempt, counted per session
-- and per client address over a sliding hour so that codes cannot be found by trying many
-- (the limits are till_shared::promotion::CODE_ATTEMPTS; an attempt over a limit is not
-- written). The cron forgets rows older than the window.
CREATE TABLE promotion_code_attempts (
    session_id  TEXT NOT NULL,
    client      TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX promotion_code_attempts_by_session ON promotion_code_attempts (session_id, at);
CREATE INDEX promotion_code_attempts_by_client ON promotion_code_attempts (client, at);
