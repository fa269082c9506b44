-- The origin a session was opened on (the Worker's origin as that request saw it), so that
-- a `checkout.expired` written by the cron, which has no request, carries the same
-- absolute `url` as `GET /v1/checkout/sessions/{id}`. NULL for sessions opened before.
ALTER TABLE checkout_sessions ADD COLUMN origin TEXT;
