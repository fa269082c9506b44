//! The cron trigger's work: expire checkout sessions that are due (each with its
//! `checkout.expired`, written only by the batch whose guarded UPDATE expired it), give
//! back reservations of payments abandoned mid-way (a 3-D Secure page left open), bill due
//! subscriptions ([`crate::billing::biller`]) after sending webhook deliveries that are
//! due, forget failed-payment records and promotion code attempts older than an hour, and
//! last delete what is past its retention period ([`retention`]). Each step is one batch
//! whose statements are conditional on the rows they change, so two crons running at once
//! cannot apply a step twice.

use worker::{D1Database, Env, console_error};

mod retention;

use crate::checkout::sessions;
use crate::db::{self, Sql};
use crate::error::ApiResult;

/// Sessions expired per cron run; the rest wait a minute. Each is two statements of one
/// batch (its guarded UPDATE and its event), and D1 counts every statement against the
/// invocation's query limit, which the biller and the webhook sender share.
const EXPIRE_BATCH: i64 = 100;
/// A payment holding its reservation longer than this was abandoned.
const STALE_RESERVATION_SECS: i64 = 15 * 60;

pub async fn run(env: &Env) {
    let db = match db::database(env) {
        Ok(db) => db,
        Err(error) => return console_error!("cron: no database: {error:?}"),
    };
    let now = db::now_unix();
    if let Err(error) = release_stale_reservations(&db, now).await {
        console_error!("cron: releasing reservations failed: {error:?}");
    }
    if let Err(error) = expire_sessions(&db, now).await {
        console_error!("cron: expiring sessions failed: {error:?}");
    }
    let forget = Sql::new("DELETE FROM payment_failures WHERE at < :before")
        .bind("before", now - 3600)
        .prepare(&db);
    if let Ok(statement) = forget
        && let Err(error) = statement.run().await
    {
        console_error!("cron: forgetting old payment failures failed: {error:?}");
    }
    if let Err(error) = crate::checkout::code_attempts::forget_old(&db, now).await {
        console_error!("cron: forgetting old promotion code attempts failed: {error:?}");
    }
    // Webhooks before billing: a long clock advance must not hold up everyone's deliveries.
    if let Err(error) = crate::events::delivery::send_due(env).await {
        console_error!("cron: sending webhooks failed: {error:?}");
    }
    crate::billing::biller::run(env).await;
    retention::run(&db, now).await;
}

async fn expire_sessions(db: &D1Database, now: i64) -> ApiResult<()> {
    sessions::expire_due(db, now, EXPIRE_BATCH).await?;
    Ok(())
}

async fn release_stale_reservations(db: &D1Database, now: i64) -> ApiResult<()> {
    let stale = "reservation IS NOT NULL AND reserved_at < :cutoff";
    let cutoff = now - STALE_RESERVATION_SECS;
    db.batch(vec![
        Sql::new(&format!(
            "UPDATE payment_links SET reserved_count = reserved_count
                 - (SELECT count(*) FROM checkout_sessions s WHERE s.payment_link_id = payment_links.id AND s.{stale})
             WHERE id IN (SELECT payment_link_id FROM checkout_sessions WHERE {stale})"
        ))
        .bind("cutoff", cutoff)
        .prepare(db)?,
        Sql::new(&format!(
            "UPDATE promotion_codes SET reserved_count = reserved_count
                 - (SELECT count(*) FROM checkout_sessions s
                    WHERE s.account_id = promotion_codes.account_id AND s.environment = promotion_codes.environment
                      AND upper(s.promotion_code) = promotion_codes.code_key AND s.{stale})
             WHERE EXISTS (SELECT 1 FROM checkout_sessions s
                           WHERE s.account_id = promotion_codes.account_id AND s.environment = promotion_codes.environment
                             AND upper(s.promotion_code) = promotion_codes.code_key AND s.{stale})"
        ))
        .bind("cutoff", cutoff)
        .prepare(db)?,
        Sql::new(&format!(
            "UPDATE checkout_sessions SET reservation = NULL, reserved_at = NULL, pending_payment = NULL WHERE {stale}"
        ))
        .bind("cutoff", cutoff)
        .prepare(db)?,
    ])
    .await?;
    Ok(())
}
