//! `POST /v1/processor_webhooks/stripe/{account}`: Stripe's events about a connected
//! account, verified with the connection's webhook secret (Stripe's `t=…,v1=…` scheme,
//! five minutes' tolerance) and reconciled with what Till recorded:
//!
//! - `payment_intent.succeeded` completes the session whose payment holds that
//!   PaymentIntent — the same guarded completion as the page's, so exactly once (a
//!   session completed already is left as it is);
//! - `payment_intent.payment_failed` gives that session's reservation back;
//! - `charge.refunded` records each refund Stripe lists that Till has not (one made in
//!   Stripe's dashboard), within the payment's amount, with `payment.refunded`;
//! - `charge.dispute.created` marks the payment disputed, with `payment.disputed`.
//!
//! Any other event is accepted and ignored. A bad signature is a 400 and changes nothing.

use serde_json::{Value, json};
use till_shared::api::ErrorCode;
use till_shared::ids::RefundId;
use till_shared::stripe::{Intent, Reconcile, read_event, till_amount};
use till_shared::webhooks::verify;
use worker::D1Database;

use crate::accounts::processor;
use crate::api::reply::Reply;
use crate::checkout::completion::{self, Pending, Reservation};
use crate::checkout::sessions::{self, CheckoutSession};
use crate::ctx::Ctx;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Sql};
use crate::error::{ApiError, ApiResult};
use crate::sales::payments::{self, PaymentRow};

/// Stripe's tolerance for a signature's age.
const TOLERANCE_SECS: i64 = 300;
/// The largest event body read.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

fn refused(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

/// Verifies and reconciles one event of `account`'s Stripe. Answers `{"received": true}`.
pub async fn stripe(
    ctx: &Ctx,
    account: &str,
    signature: Option<&str>,
    body: &str,
    origin: &str,
) -> ApiResult<Reply> {
    let event: Value =
        serde_json::from_str(body).map_err(|_| refused("The body is not a JSON event."))?;
    // Which of the account's connections signed it: Stripe says whether it is live.
    let environment = if event["livemode"].as_bool() == Some(true) {
        "PRODUCTION"
    } else {
        "SANDBOX"
    };
    let db = db::db(ctx)?;
    // One answer for every event that does not verify, whether the account, its
    // connection or its secret is missing or the signature is wrong.
    let unverified = || refused("The Stripe-Signature header does not verify for this account.");
    let connection = processor::connection(&ctx.env, &db, account, environment)
        .await?
        .ok_or_else(unverified)?;
    let secret = connection.webhook_secret.clone().ok_or_else(unverified)?;
    verify(
        signature.unwrap_or_default(),
        body.as_bytes(),
        &secret,
        db::now_unix(),
        TOLERANCE_SECS,
    )
    .map_err(|_| unverified())?;
    let stripe = connection.stripe;
    let Some((_, reconcile)) = read_event(&event) else {
        return Ok(received());
    };
    let scope = Scope {
        account_id: account,
        environment,
    };
    match reconcile {
        Reconcile::IntentSucceeded(intent) | Reconcile::IntentFailed(intent) => {
            let succeeded = matches!(event["type"].as_str(), Some("payment_intent.succeeded"));
            if let Some(session) = intent.session.as_deref()
                && settle_session(ctx, &db, scope, session, &intent, succeeded, origin).await?
                && !succeeded
            {
                // Till's failed attempt cannot be confirmed again with another card (the
                // account's other integrations' intents are theirs to handle).
                stripe.cancel(&intent.id).await;
            }
        }
        Reconcile::Refunded { payment_intent, .. } => {
            if let Some(payment) = payment_of(&db, scope, &payment_intent).await? {
                // The event may not list the refunds (it does not since Stripe's
                // 2022-11-15 API version): Stripe is asked; unanswered, Stripe retries.
                let refunds = stripe.refunds(&payment_intent).await.map_err(|()| {
                    ApiError::new(
                        ErrorCode::ProcessorUnavailable,
                        "Stripe did not answer; send the event again.",
                    )
                })?;
                for refund in refunds {
                    // Till's own refunds are settled by Till (they carry its id).
                    if refund["metadata"]["till_refund"].is_string()
                        || refund["status"].as_str().is_some_and(|s| s != "succeeded")
                    {
                        continue;
                    }
                    let (Some(reference), Some(amount)) = (
                        refund["id"].as_str(),
                        refund["amount"]
                            .as_i64()
                            .and_then(|a| till_amount(&payment.currency, a)),
                    ) else {
                        continue;
                    };
                    record_refund(&db, &payment, reference, amount, origin).await?;
                }
            }
        }
        Reconcile::Disputed { payment_intent } => {
            if let Some(payment) = payment_of(&db, scope, &payment_intent).await? {
                disputed(&db, &payment, origin).await?;
            }
        }
        Reconcile::Ignored => {}
    }
    crate::events::delivery::send_soon(ctx);
    Ok(received())
}

fn received() -> Reply {
    Reply::ok(json!({"received": true}))
}

/// The session `id` of this account whose held payment is `intent`: completed (when it
/// succeeded) or released (when it failed). Anything else — completed already, another
/// attempt's intent — is left as it is.
async fn settle_session(
    ctx: &Ctx,
    db: &D1Database,
    scope: Scope<'_>,
    id: &str,
    intent: &Intent,
    succeeded: bool,
    origin: &str,
) -> ApiResult<bool> {
    let Some(hosted) = sessions::find_hosted(ctx, id).await? else {
        return Ok(false);
    };
    let session: CheckoutSession = hosted.session;
    if session.account_id != scope.account_id || session.environment.as_str() != scope.environment {
        return Ok(false);
    }
    let Some(pending) = Pending::of(&session).filter(|p| p.card.token == intent.id) else {
        return Ok(false);
    };
    // Only the charge this session asked for completes it.
    if succeeded && !pays_for(intent, &session) {
        return Ok(false);
    }
    let held = Reservation {
        session: &session,
        token: &pending.reservation,
    };
    if succeeded {
        let at = session.origin.clone().unwrap_or_else(|| origin.to_owned());
        completion::complete(db, &held, &pending.shopper, &pending.card, &at).await?;
    } else {
        completion::release(db, &held, None).await?;
    }
    Ok(true)
}

/// Whether a PaymentIntent charged what the session costs, in its currency.
pub fn pays_for(intent: &Intent, session: &CheckoutSession) -> bool {
    intent.amount == session.amounts.total && intent.currency == session.currency.code()
}

async fn payment_of(
    db: &D1Database,
    scope: Scope<'_>,
    intent: &str,
) -> ApiResult<Option<PaymentRow>> {
    Ok(Sql::new(
        "SELECT * FROM payments WHERE account_id = :account AND environment = :environment
           AND processor = 'stripe' AND processor_token = :intent",
    )
    .bind("account", scope.account_id)
    .bind("environment", scope.environment)
    .bind("intent", intent)
    .prepare(db)?
    .first(None)
    .await?)
}

/// A refund Stripe made that Till has not recorded: written once (its reference is unique
/// per payment), SUCCEEDED, taken from the payment within its amount, with
/// `payment.refunded`.
async fn record_refund(
    db: &D1Database,
    payment: &PaymentRow,
    reference: &str,
    amount: i64,
    origin: &str,
) -> ApiResult<()> {
    let now = db::now_unix();
    let id = RefundId::generate().to_string();
    let insert = Sql::new(
        "INSERT INTO refunds (id, account_id, environment, payment_id, amount, currency, status,
             processor_reference, source, created_at, updated_at)
         SELECT :id, :account, :environment, :payment, :amount, :currency, 'SUCCEEDED', :reference,
                'processor', :now, :now
         WHERE NOT EXISTS (SELECT 1 FROM refunds WHERE payment_id = :payment AND processor_reference = :reference)
           AND EXISTS (SELECT 1 FROM payments WHERE id = :payment AND amount_refunded + :amount <= amount)",
    )
    .bind("id", id.as_str())
    .bind("account", payment.account_id.as_str())
    .bind("environment", payment.environment.as_str())
    .bind("payment", payment.id.as_str())
    .bind("amount", amount)
    .bind("currency", payment.currency.as_str())
    .bind("reference", reference)
    .bind("now", now)
    .prepare(db)?;
    let take = Sql::new(
        "UPDATE payments SET amount_refunded = amount_refunded + :amount,
             status = CASE WHEN amount_refunded + :amount = amount THEN 'REFUNDED' ELSE 'PARTIALLY_REFUNDED' END,
             updated_at = :now
         WHERE id = :payment AND changes() = 1",
    )
    .bind("amount", amount)
    .bind("payment", payment.id.as_str())
    .bind("now", now)
    .prepare(db)?;
    let after = PaymentRow {
        amount_refunded: payment.amount_refunded + amount,
        status: till_shared::refunds::payment_status(
            payment.amount,
            payment.amount_refunded + amount,
        )
        .to_owned(),
        ..payment.clone()
    };
    let mut data = payments::render(&after, origin)?;
    data["refund"] = json!({"id": id, "object": "refund", "amount": amount, "status": "SUCCEEDED",
        "processor_reference": reference, "source": "processor"});
    let event = Event {
        kind: "payment.refunded",
        object_id: &payment.id,
        data: &data,
    };
    let scope = Scope {
        account_id: &payment.account_id,
        environment: &payment.environment,
    };
    db.batch(vec![
        insert,
        take,
        events::insert(db, scope, event, now, Guard::Applied)?,
        events::fan_out(db, now)?,
    ])
    .await?;
    Ok(())
}

/// The payment marked disputed, once, with `payment.disputed`.
async fn disputed(db: &D1Database, payment: &PaymentRow, origin: &str) -> ApiResult<()> {
    let now = db::now_unix();
    let mark = Sql::new(
        "UPDATE payments SET disputed = 1, updated_at = :now WHERE id = :payment AND disputed = 0",
    )
    .bind("payment", payment.id.as_str())
    .bind("now", now)
    .prepare(db)?;
    let after = PaymentRow {
        disputed: 1,
        ..payment.clone()
    };
    let data = payments::render(&after, origin)?;
    let event = Event {
        kind: "payment.disputed",
        object_id: &payment.id,
        data: &data,
    };
    let scope = Scope {
        account_id: &payment.account_id,
        environment: &payment.environment,
    };
    db.batch(vec![
        mark,
        events::insert(db, scope, event, now, Guard::Applied)?,
        events::fan_out(db, now)?,
    ])
    .await?;
    Ok(())
}
