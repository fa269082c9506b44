//! What the cron trigger deletes, and when: nothing Till stores grows without bound.
//!
//! | what | kept |
//! |---|---|
//! | idempotency keys | 24 hours after they were claimed (`till_shared::idempotency`) |
//! | expired checkout sessions | 30 days after they ended (creation and expiry both past) |
//! | events, with their webhook deliveries and attempts (an event's data is each delivery's body) | 30 days, once no delivery is pending |
//! | dashboard and customer portal sessions | a day after they ended |
//!
//! Each kind is deleted in bounded steps, oldest first, so one run stays within the
//! invocation's limits however much has piled up; the rest goes on the next minutes.
//! Failed-payment records (an hour) are forgotten by the cron's own step.

use till_shared::idempotency::KEY_LIFETIME_SECS;
use worker::{D1Database, console_error};

use crate::checkout::sessions;
use crate::db::Sql;
use crate::error::ApiResult;
use crate::events::event;

/// How long an expired checkout session is kept after it ended.
pub const SESSION_RETENTION_SECS: i64 = 30 * 24 * 3600;
/// How long an event (each of its deliveries' body) is kept.
pub const EVENT_RETENTION_SECS: i64 = 30 * 24 * 3600;

/// Rows deleted per run, per kind.
const IDEMPOTENCY_BATCH: i64 = 500;
const SESSION_BATCH: i64 = 200;
const EVENT_BATCH: i64 = 100;

pub async fn run(db: &D1Database, now: i64) {
    if let Err(error) = forget_idempotency_keys(db, now - KEY_LIFETIME_SECS).await {
        console_error!("cron: forgetting expired idempotency keys failed: {error:?}");
    }
    if let Err(error) =
        sessions::forget_expired(db, now - SESSION_RETENTION_SECS, SESSION_BATCH).await
    {
        console_error!("cron: forgetting old expired sessions failed: {error:?}");
    }
    if let Err(error) = event::forget_settled(db, now - EVENT_RETENTION_SECS, EVENT_BATCH).await {
        console_error!("cron: forgetting old events failed: {error:?}");
    }
    if let Err(error) = crate::accounts::dashboard::forget_ended(db, now).await {
        console_error!("cron: forgetting ended dashboard sessions failed: {error:?}");
    }
    if let Err(error) = crate::billing::portal::forget_ended(db, now).await {
        console_error!("cron: forgetting ended portal sessions failed: {error:?}");
    }
}

/// Keys claimed at or before `cutoff` have expired (a claim then is a new request anyway).
async fn forget_idempotency_keys(db: &D1Database, cutoff: i64) -> ApiResult<()> {
    Sql::new(
        "DELETE FROM idempotency_keys WHERE rowid IN (
             SELECT rowid FROM idempotency_keys WHERE created_at <= :cutoff
             ORDER BY created_at LIMIT :limit)",
    )
    .bind("cutoff", cutoff)
    .bind("limit", IDEMPOTENCY_BATCH)
    .prepare(db)?
    .run()
    .await?;
    Ok(())
}
