//! The cron trigger's work: write the completions of charged payments that D1 could not
//! complete at the time and whose shopper did not come back for them, expire checkout
//! sessions that are due (each with its `checkout.expired`, written only by the batch
//! whose guarded UPDATE expired it), give back reservations of payments abandoned mid-way
//! (a 3-D Secure page left open; never a charged one), bill due
//! subscriptions ([`crate::billing::biller`]) after sending webhook deliveries that are
//! due, forget failed-payment records and promotion code attempts older than an hour, and
//! last delete what is past its retention period ([`retention`]). Each step is one batch
//! whose statements are conditional on the rows they change, so two crons running at once
//! cannot apply a step twice.

use worker::{D1Database, Env, console_error};

mod retention;

use crate::checkout::by_stripe;
use crate::checkout::completion;
use crate::checkout::sessions;
use crate::db::{self, Sql};
use crate::error::ApiResult;

/// Sessions expired per cron run; the rest wait a minute. Each is two statements of one
/// batch (its guarded UPDATE and its event), and D1 counts every statement against the
/// invocation's query limit, which the biller and the webhook sender share.
const EXPIRE_BATCH: i64 = 100;
/// A payment holding its reservation longer than this was abandoned.
const STALE_RESERVATION_SECS: i64 = 15 * 60;
/// A charged payment whose completion is owed is the shopper's page's to complete this
/// long (it comes back every few seconds); then the cron's.
const OWED_GRACE_SECS: i64 = 30;
/// Pending refunds asked again per cron run.
const REFUND_BATCH: i64 = 20;
/// Owed completions written per cron run.
const OWED_BATCH: i64 = 20;

pub async fn run(env: &Env) {
    let db = match db::database(env) {
        Ok(db) => db,
        Err(error) => return console_error!("cron: no database: {error:?}"),
    };
    let now = db::now_unix();
    complete_owed(&db, now).await;
    if let Err(error) = release_stale_reservations(&db, now).await {
        console_error!("cron: releasing reservations failed: {error:?}");
    }
    let cutoff = now - STALE_RESERVATION_SECS;
    if let Err(error) = by_stripe::settle_abandoned(env, &db, cutoff, OWED_BATCH).await {
        console_error!("cron: settling abandoned Stripe payments failed: {error:?}");
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
    settle_refunds(env, &db).await;
    retention::run(&db, now).await;
}

/// Refunds still PENDING a minute after they were asked for: the processor is asked again
/// (same idempotency key). Their events' receipt URLs are on `LINK_BASE_URL`.
async fn settle_refunds(env: &Env, db: &D1Database) {
    let origin = env
        .var("LINK_BASE_URL")
        .map(|v| v.to_string())
        .unwrap_or_default();
    if let Err(error) = crate::sales::refunds::settle_pending(env, db, &origin, REFUND_BATCH).await
    {
        console_error!("cron: settling refunds failed: {error:?}");
    }
}

async fn expire_sessions(db: &D1Database, now: i64) -> ApiResult<()> {
    sessions::expire_due(db, now, EXPIRE_BATCH).await?;
    Ok(())
}

/// Completes charged payments whose completion is owed ([`completion::Pending::owed`]), each on the
/// origin its session was opened on; one that still fails waits for the next run.
async fn complete_owed(db: &D1Database, now: i64) {
    let owing = match completion::owing(db, now, OWED_GRACE_SECS, OWED_BATCH).await {
        Ok(owing) => owing,
        Err(error) => return console_error!("cron: reading owed completions failed: {error:?}"),
    };
    for session in owing {
        let origin = session.origin.clone().unwrap_or_default();
        if let Err(error) = completion::complete_owed(db, &session, &origin).await {
            console_error!("cron: completing {} failed: {error:?}", session.id.as_str());
        }
    }
}

/// Gives back reservations held past [`STALE_RESERVATION_SECS`], except a charged
/// payment's, which is completed instead ([`complete_owed`]).
async fn release_stale_reservations(db: &D1Database, now: i64) -> ApiResult<()> {
    // A Stripe payment left mid-way holds a PaymentIntent that may have charged: those are
    // asked of Stripe first ([`crate::checkout::by_stripe::settle_abandoned`]).
    let stale = "reservation IS NOT NULL AND reserved_at < :cutoff
                 AND coalesce(json_extract(pending_payment, '$.charged'), 0) = 0
                 AND coalesce(json_extract(pending_payment, '$.processor'), 'sandbox') <> 'stripe'";
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
