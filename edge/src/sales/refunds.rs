//! Refunds: money given back from a payment, in full or in parts, through the processor
//! that took it. The total refunded never passes the payment's amount, whatever races: a
//! refund first takes its amount from the payment in D1 (a conditional UPDATE, with the
//! table's CHECK behind it) and is written PENDING in the same batch; only then is the
//! processor asked, and the answer settles it — SUCCEEDED, or FAILED with the amount given
//! back to the payment. A refund whose answer never came (the processor unreachable, the
//! Worker gone) stays PENDING and the cron asks again with the same idempotency key.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::ids::RefundId;
use till_shared::money::{Currency, MAX_MINOR_UNITS, Money};
use till_shared::refunds::{REASONS, Refused, refund_amount};
use worker::{D1Database, Env, console_error};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::{Filter, created_range, list};
use crate::api::reply::Reply;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Sql, parse_json};
use crate::error::{ApiError, ApiResult};
use crate::processor::Refund;
use crate::sales::payments::{self, PaymentRow};

pub const STATUSES: &[&str] = &["PENDING", "SUCCEEDED", "FAILED"];

/// How long a PENDING refund waits for its answer before the cron asks again.
pub const PENDING_GRACE_SECS: i64 = 60;

#[derive(Debug, Clone, Deserialize)]
pub struct RefundRow {
    pub id: String,
    pub account_id: String,
    pub environment: String,
    pub payment_id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub status: String,
    pub failure_reason: Option<String>,
    pub metadata: Option<String>,
    pub processor_reference: Option<String>,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RefundRow {
    fn scope(&self) -> Scope<'_> {
        Scope {
            account_id: &self.account_id,
            environment: &self.environment,
        }
    }
}

pub fn render(row: &RefundRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "refund",
        "payment_id": row.payment_id,
        "amount": row.amount,
        "currency": row.currency,
        "status": row.status,
        "reason": row.reason,
        "failure_reason": row.failure_reason,
        "metadata": parse_json(row.metadata.as_deref()),
        "processor_reference": row.processor_reference,
        "source": row.source,
        "livemode": row.environment == "PRODUCTION",
        "created_at": iso(row.created_at)?,
        "updated_at": iso(row.updated_at)?,
    }))
}

/// What `POST /v1/refunds` asks for.
struct Ask {
    payment: PaymentRow,
    amount: Option<i64>,
    reason: Option<&'static str>,
    metadata: Option<String>,
}

async fn read(call: &mut Call<'_>) -> ApiResult<Ask> {
    let mut p = call.params()?;
    let payment_id = p.string("payment_id", 64)?.filter(|s| !s.is_empty());
    let billing_order_id = p.string("billing_order_id", 100)?.filter(|s| !s.is_empty());
    let amount = p.integer("amount", 1, MAX_MINOR_UNITS)?;
    let reason = p.one_of("reason", REASONS)?;
    let metadata = p.metadata("metadata")?;
    p.finish()?;
    let payment = match (payment_id, billing_order_id) {
        (Some(id), None) => payments::load(call, &id, Some("payment_id")).await?,
        (None, Some(order)) => payments::of_billing_order(call, &order).await?,
        _ => {
            return Err(ApiError::invalid(
                "payment_id",
                "Send payment_id, or billing_order_id for a subscription's billing order (one of them).",
            ));
        }
    };
    Ok(Ask {
        payment,
        amount,
        reason,
        metadata: metadata.map(|m| Value::Object(m).to_string()),
    })
}

/// `POST /v1/refunds`: all that is left of the payment when `amount` is absent.
pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let ask = read(call).await?;
    let amount = match refund_amount(ask.payment.amount, ask.payment.amount_refunded, ask.amount) {
        Ok(amount) => amount,
        Err(Refused::NothingLeft) => {
            return Err(ApiError::conflict(
                "payment_id",
                "Nothing is left to refund of this payment.",
            ));
        }
        Err(Refused::TooMuch { left }) => return Err(exceeds(left)),
    };
    let db = db::db(call.ctx)?;
    let now = db::now_unix();
    let Some((refund, payment)) = reserve(&db, &ask, amount, now).await? else {
        // Another refund took the rest meanwhile.
        let now_left = payments::load(call, &ask.payment.id, Some("payment_id"))
            .await?
            .refundable();
        return Err(exceeds(now_left));
    };
    let settled = settle(&call.ctx.env, &db, &refund, &payment, &call.origin).await?;
    crate::events::delivery::send_soon(call.ctx);
    let reply = render(&settled)?;
    Ok(match settled.status.as_str() {
        "FAILED" => Reply::json(402, refund_failed(&settled, reply)),
        _ => Reply::created(reply),
    })
}

fn exceeds(left: i64) -> ApiError {
    ApiError::conflict(
        "amount",
        format!("The refunds of a payment cannot pass its amount: {left} is left to refund."),
    )
}

/// A refund the processor refused: the error object, with the refund it leaves.
fn refund_failed(refund: &RefundRow, rendered: Value) -> Value {
    json!({"error": {
        "type": "invalid_request_error",
        "code": "refund_failed",
        "message": format!("The processor refused the refund: {}.", refund.failure_reason.as_deref().unwrap_or("unknown")),
        "param": "payment_id",
        "refund": rendered,
    }})
}

/// Takes `amount` from the payment and writes the refund PENDING with `refund.created`,
/// in one batch; `None` when the payment has less than `amount` left (another refund won).
/// Answers the refund and the payment as the reservation left it.
async fn reserve(
    db: &D1Database,
    ask: &Ask,
    amount: i64,
    now: i64,
) -> ApiResult<Option<(RefundRow, PaymentRow)>> {
    let payment = &ask.payment;
    let refund = RefundRow {
        id: RefundId::generate().to_string(),
        account_id: payment.account_id.clone(),
        environment: payment.environment.clone(),
        payment_id: payment.id.clone(),
        amount,
        currency: payment.currency.clone(),
        reason: ask.reason.map(str::to_owned),
        status: "PENDING".to_owned(),
        failure_reason: None,
        metadata: ask.metadata.clone(),
        processor_reference: None,
        source: "api".to_owned(),
        created_at: now,
        updated_at: now,
    };
    let take = Sql::new(
        "UPDATE payments SET amount_refunded = amount_refunded + :amount,
             status = CASE WHEN amount_refunded + :amount = amount THEN 'REFUNDED' ELSE 'PARTIALLY_REFUNDED' END,
             updated_at = :now
         WHERE id = :payment AND amount_refunded + :amount <= amount
         RETURNING *",
    )
    .bind("amount", amount)
    .bind("now", now)
    .bind("payment", payment.id.as_str())
    .prepare(db)?;
    let insert = Sql::new(
        "INSERT INTO refunds (id, account_id, environment, payment_id, amount, currency, reason, status,
             metadata, source, created_at, updated_at)
         SELECT :id, :account, :environment, :payment, :amount, :currency, :reason, 'PENDING', :metadata,
                'api', :now, :now
         WHERE changes() = 1",
    )
    .bind("id", refund.id.as_str())
    .bind("account", refund.account_id.as_str())
    .bind("environment", refund.environment.as_str())
    .bind("payment", refund.payment_id.as_str())
    .bind("amount", amount)
    .bind("currency", refund.currency.as_str())
    .bind("reason", refund.reason.as_deref())
    .bind("metadata", refund.metadata.as_deref())
    .bind("now", now)
    .prepare(db)?;
    let data = render(&refund)?;
    let created = Event {
        kind: "refund.created",
        object_id: &refund.id,
        data: &data,
    };
    let event = events::insert(db, refund.scope(), created, now, Guard::Applied)?;
    let results = match db
        .batch(vec![take, insert, event, events::fan_out(db, now)?])
        .await
    {
        Ok(results) => results,
        // The CHECK behind the condition: the batch is refused whole.
        Err(error) if error.to_string().contains("CHECK constraint failed") => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    if db::changes(&results, 1) != 1 {
        return Ok(None);
    }
    let after: Option<PaymentRow> = results
        .first()
        .and_then(|r| r.results::<PaymentRow>().ok())
        .and_then(|rows| rows.into_iter().next());
    let after = after.ok_or_else(|| ApiError::internal("the refunded payment was not returned"))?;
    Ok(Some((refund, after)))
}

/// Asks the payment's processor for a PENDING refund and writes the answer: SUCCEEDED
/// with `payment.refunded`, or FAILED with the amount given back and `refund.failed`.
/// When the processor cannot be reached the refund stays PENDING (the cron asks again).
pub async fn settle(
    env: &Env,
    db: &D1Database,
    refund: &RefundRow,
    payment: &PaymentRow,
    origin: &str,
) -> ApiResult<RefundRow> {
    let currency = Currency::parse(&refund.currency)
        .map_err(|_| ApiError::internal("a refund in an unknown currency"))?;
    let amount = Money::from_minor(refund.amount, currency).map_err(ApiError::internal)?;
    let connected = crate::accounts::processor::connected(
        env,
        db,
        &payment.account_id,
        &payment.environment,
        Some(&payment.processor),
    )
    .await?;
    let answer = match connected {
        Some(processor) => {
            processor
                .refund(&payment.processor_token, amount, &refund.id)
                .await
        }
        // The processor that took it is no longer connected: the refund waits.
        None => Refund::Unavailable,
    };
    let now = db::now_unix();
    let statements = match &answer {
        // Unanswered: asked again later, after the others waiting (its age starts again).
        Refund::Unavailable => {
            Sql::new("UPDATE refunds SET updated_at = :now WHERE id = :id AND status = 'PENDING'")
                .bind("now", now)
                .bind("id", refund.id.as_str())
                .prepare(db)?
                .run()
                .await?;
            return Ok(refund.clone());
        }
        Refund::Succeeded { reference } => {
            let after = RefundRow {
                status: "SUCCEEDED".to_owned(),
                processor_reference: Some(reference.clone()),
                updated_at: now,
                ..refund.clone()
            };
            let mut data = payments::render(payment, origin)?;
            data["refund"] = render(&after)?;
            let refunded = Event {
                kind: "payment.refunded",
                object_id: &payment.id,
                data: &data,
            };
            vec![
                Sql::new(
                    "UPDATE refunds SET status = 'SUCCEEDED', processor_reference = :reference, updated_at = :now
                     WHERE id = :id AND status = 'PENDING'",
                )
                .bind("reference", reference.as_str())
                .bind("now", now)
                .bind("id", refund.id.as_str())
                .prepare(db)?,
                events::insert(db, refund.scope(), refunded, now, Guard::Applied)?,
                events::fan_out(db, now)?,
            ]
        }
        Refund::Failed(reason) => {
            let after = RefundRow {
                status: "FAILED".to_owned(),
                failure_reason: Some((*reason).to_owned()),
                updated_at: now,
                ..refund.clone()
            };
            let data = render(&after)?;
            let failed = Event {
                kind: "refund.failed",
                object_id: &refund.id,
                data: &data,
            };
            vec![
                Sql::new(
                    "UPDATE refunds SET status = 'FAILED', failure_reason = :reason, updated_at = :now
                     WHERE id = :id AND status = 'PENDING'",
                )
                .bind("reason", *reason)
                .bind("now", now)
                .bind("id", refund.id.as_str())
                .prepare(db)?,
                give_back(db, refund, now)?,
                events::insert(db, refund.scope(), failed, now, Guard::Applied)?,
                events::fan_out(db, now)?,
            ]
        }
    };
    db.batch(statements).await?;
    load_row(db, &refund.id)
        .await?
        .ok_or_else(|| ApiError::internal("the settled refund is gone"))
}

/// A failed refund's amount, back on its payment (only right after the refund turned
/// FAILED in the same batch).
fn give_back(
    db: &D1Database,
    refund: &RefundRow,
    now: i64,
) -> ApiResult<worker::D1PreparedStatement> {
    Sql::new(
        "UPDATE payments SET amount_refunded = amount_refunded - :amount,
             status = CASE WHEN amount_refunded - :amount = 0 THEN 'SUCCEEDED' ELSE 'PARTIALLY_REFUNDED' END,
             updated_at = :now
         WHERE id = :payment AND changes() = 1",
    )
    .bind("amount", refund.amount)
    .bind("payment", refund.payment_id.as_str())
    .bind("now", now)
    .prepare(db)
}

async fn load_row(db: &D1Database, id: &str) -> ApiResult<Option<RefundRow>> {
    Ok(Sql::new("SELECT * FROM refunds WHERE id = :id")
        .bind("id", id)
        .prepare(db)?
        .first(None)
        .await?)
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?;
    let row: RefundRow = db::find(call.ctx, "refunds", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("refund", id, None))?;
    Ok(Reply::ok(render(&row)?))
}

/// `GET /v1/refunds`: newest first; by payment, status and creation time.
pub async fn list_refunds(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = created_range(call)?;
    if let Some(payment) = call.query("payment_id") {
        filters.push(Filter::eq("payment_id = :payment_id", payment));
    }
    filters.extend(payments::status_filter(call, STATUSES)?);
    Ok(Reply::ok(
        list(call, "refunds_view", filters, |row: RefundRow| render(&row)).await?,
    ))
}

/// The refunds of a payment, oldest first (its receipt lists them).
pub async fn of_payment(db: &D1Database, payment_id: &str) -> ApiResult<Vec<RefundRow>> {
    Ok(Sql::new(
        "SELECT * FROM refunds WHERE payment_id = :payment AND status <> 'FAILED' ORDER BY rowid LIMIT 100",
    )
    .bind("payment", payment_id)
    .prepare(db)?
    .all()
    .await?
    .results()?)
}

/// The cron's part: PENDING refunds whose answer never came are asked again (at most
/// `limit`, oldest first), each with its own idempotency key, so none is paid twice.
pub async fn settle_pending(
    env: &Env,
    db: &D1Database,
    origin: &str,
    limit: i64,
) -> ApiResult<usize> {
    let now = db::now_unix();
    let pending: Vec<RefundRow> = Sql::new(
        "SELECT * FROM refunds WHERE status = 'PENDING' AND updated_at < :before ORDER BY updated_at LIMIT :limit",
    )
    .bind("before", now - PENDING_GRACE_SECS)
    .bind("limit", limit)
    .prepare(db)?
    .all()
    .await?
    .results()?;
    let mut settled = 0;
    for refund in &pending {
        let payment: Option<PaymentRow> = Sql::new("SELECT * FROM payments WHERE id = :id")
            .bind("id", refund.payment_id.as_str())
            .prepare(db)?
            .first(None)
            .await?;
        let Some(payment) = payment else { continue };
        match settle(env, db, refund, &payment, origin).await {
            Ok(after) if after.status != "PENDING" => settled += 1,
            Ok(_) => {}
            Err(error) => console_error!("refund {} not settled: {error:?}", refund.id),
        }
    }
    Ok(settled)
}
