//! The billing job: charges subscriptions that are due, once per cycle.
//!
//! A biller first **claims** a batch of due subscriptions (one conditional UPDATE …
//! RETURNING: two billers running at once get disjoint batches), charges each saved card
//! outside D1, then writes every outcome in one batch whose statements are conditional on
//! still holding the claim: the billing order (UNIQUE per subscription and sequence
//! number), the charge attempt (at most one successful charge per order, by a partial
//! unique index), the events, and the subscription's new schedule, which lets go of the
//! claim. A claim older than ten minutes belonged to a biller that died; the cron trigger
//! frees it and the charge is retried with the same idempotency key, so the processor
//! charges once.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::billing::{
    Cycle, DEFAULT_DUNNING_SCHEDULE, FinalFailure, State, after_failure, after_payment,
    billing_order_id,
};
use till_shared::ids::random_base62;
use till_shared::money::{Currency, Money};
use worker::{D1Database, D1PreparedStatement, Env, console_error};

use crate::api::call::Call;
use crate::api::iso;
use crate::billing::subscriptions::{SubscriptionRow, render};
use crate::db::events::{self, Event, Guard};
use crate::db::{self, Bind};
use crate::error::{ApiError, ApiResult};
use crate::processor::{Charge, Processor, Sandbox};

/// Subscriptions claimed (and written back) together.
const BATCH: i64 = 100;
/// A claim older than this belonged to a biller that stopped.
const STALE_CLAIM_SECS: i64 = 10 * 60;
/// How long one cron run or one clock advance bills before leaving the rest to the next.
const BUDGET_MILLIS: u64 = 25_000;

/// Who started a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule (cron or a test clock).
    Auto,
    /// The first charge of a subscription created through the API: a failure makes it
    /// INCOMPLETE rather than starting dunning.
    Creation,
    /// `POST /v1/subscriptions/{id}/retry`.
    Manual,
}

impl Trigger {
    const fn as_str(self) -> &'static str {
        match self {
            Trigger::Auto | Trigger::Creation => "auto",
            Trigger::Manual => "manual",
        }
    }
}

const RETURNING: &str = "RETURNING *,
    (SELECT subscription_retry_schedule FROM accounts a WHERE a.id = subscriptions.account_id) AS retry_schedule,
    (SELECT subscription_final_state FROM accounts a WHERE a.id = subscriptions.account_id) AS final_state,
    (SELECT processor_token FROM payment_methods m
     WHERE m.id = subscriptions.payment_method_id AND m.detached_at IS NULL) AS processor_token,
    (SELECT attempts FROM billing_orders o
     WHERE o.subscription_id = subscriptions.id AND o.sequence_no = subscriptions.completed_billing_iteration + 1)
        AS open_attempts,
    (SELECT first_failed_at FROM billing_orders o
     WHERE o.subscription_id = subscriptions.id AND o.sequence_no = subscriptions.completed_billing_iteration + 1)
        AS open_first_failed_at";

/// The cron trigger's billing: frees dead billers' claims, bills what is due on the
/// platform's clock, and finishes test clocks left ADVANCING.
pub async fn run(env: &Env) {
    let db = match db::database(env) {
        Ok(db) => db,
        Err(error) => return console_error!("billing: no database: {error:?}"),
    };
    let now = db::now_unix();
    let freed = db
        .prepare(
            "UPDATE subscriptions SET claim = NULL, claimed_at = NULL WHERE claim IS NOT NULL AND claimed_at < ?1",
        )
        .bind(&[(now - STALE_CLAIM_SECS).js()]);
    if let Ok(statement) = freed
        && let Err(error) = statement.run().await
    {
        console_error!("billing: freeing stale claims failed: {error:?}");
    }
    if let Err(error) = run_due(&db, None, now).await {
        console_error!("billing: {error:?}");
    }
    #[derive(Deserialize)]
    struct Advancing {
        id: String,
        frozen_time: i64,
    }
    let clocks: Vec<Advancing> = match db
        .prepare("SELECT id, frozen_time FROM test_clocks WHERE status = 'ADVANCING' LIMIT 20")
        .all()
        .await
        .and_then(|r| r.results())
    {
        Ok(clocks) => clocks,
        Err(error) => return console_error!("billing: reading clocks failed: {error:?}"),
    };
    for clock in clocks {
        if let Err(error) = finish_clock(&db, &clock.id, clock.frozen_time).await {
            console_error!("billing: clock {} failed: {error:?}", clock.id);
        }
    }
}

/// Bills everything due at `now` on `clock` (or the platform's time), batch after batch
/// until nothing is due or the time budget is spent. Answers whether it finished.
pub async fn run_due(db: &D1Database, clock: Option<&str>, now: i64) -> ApiResult<bool> {
    let started = db::now_millis();
    loop {
        if db::now_millis().saturating_sub(started) > BUDGET_MILLIS {
            return Ok(false);
        }
        let token = random_base62(24);
        let rows: Vec<SubscriptionRow> = db
            .prepare(format!(
                "UPDATE subscriptions SET claim = ?1, claimed_at = ?2
                 WHERE id IN (SELECT id FROM subscriptions
                              WHERE test_clock_id IS ?3 AND due_at <= ?4 AND claim IS NULL
                              ORDER BY due_at LIMIT {BATCH})
                 {RETURNING}"
            ))
            .bind(&[token.js(), db::now_unix().js(), clock.js(), now.js()])?
            .all()
            .await?
            .results()?;
        if rows.is_empty() {
            return Ok(true);
        }
        settle(db, rows, &token, Trigger::Auto, now).await?;
    }
}

/// Bills a clock's subscriptions up to its time, then marks it READY.
pub async fn finish_clock(db: &D1Database, clock_id: &str, now: i64) -> ApiResult<()> {
    if run_due(db, Some(clock_id), now).await? {
        db.prepare("UPDATE test_clocks SET status = 'READY' WHERE id = ?1")
            .bind(&[clock_id.js()])?
            .run()
            .await?;
    }
    Ok(())
}

/// Charges one subscription's open order now (creation or a manual retry). `false` when
/// another biller holds it.
pub async fn bill_now(db: &D1Database, id: &str, trigger: Trigger, now: i64) -> ApiResult<bool> {
    let token = random_base62(24);
    let rows: Vec<SubscriptionRow> = db
        .prepare(format!(
            "UPDATE subscriptions SET claim = ?1, claimed_at = ?2 WHERE id = ?3 AND claim IS NULL {RETURNING}"
        ))
        .bind(&[token.js(), db::now_unix().js(), id.js()])?
        .all()
        .await?
        .results()?;
    if rows.is_empty() {
        return Ok(false);
    }
    settle(db, rows, &token, trigger, now).await?;
    Ok(true)
}

/// Charges the claimed subscriptions and writes the outcomes. When the batch of all of
/// them fails, each is written alone, so one bad row cannot hold the others.
async fn settle(
    db: &D1Database,
    rows: Vec<SubscriptionRow>,
    token: &str,
    trigger: Trigger,
    now: i64,
) -> ApiResult<()> {
    let real_now = db::now_unix();
    let mut per_row = Vec::with_capacity(rows.len());
    for row in &rows {
        per_row.push(outcome(db, row, token, trigger, now, real_now).await?);
    }
    let mut all: Vec<D1PreparedStatement> = per_row.iter().flatten().cloned().collect();
    all.push(events::fan_out(db, real_now)?);
    if let Err(error) = db.batch(all).await {
        console_error!(
            "billing: batch of {} failed ({error:?}); writing one by one",
            rows.len()
        );
        for (row, mut statements) in rows.iter().zip(per_row) {
            statements.push(events::fan_out(db, real_now)?);
            if let Err(error) = db.batch(statements).await {
                console_error!("billing: subscription {} not written: {error:?}", row.id);
            }
        }
    }
    Ok(())
}

/// Only while this biller still holds the subscription's claim.
const STILL_CLAIMED: &str =
    "EXISTS (SELECT 1 FROM subscriptions WHERE id = :claimed_id AND claim = :claim)";

/// `EXISTS` the claim, with its two values bound at `?{at}` and `?{at + 1}`.
fn held(at: usize) -> String {
    format!(
        "EXISTS (SELECT 1 FROM subscriptions WHERE id = ?{at} AND claim = ?{})",
        at + 1
    )
}

/// What the subscription's new schedule and an event say of one claimed row.
async fn outcome(
    db: &D1Database,
    row: &SubscriptionRow,
    token: &str,
    trigger: Trigger,
    now: i64,
    real_now: i64,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let state = row.state();
    let event = |kind: &str, object_id: &str, data: &Value| {
        events::insert(
            db,
            row.scope(),
            Event {
                kind,
                object_id,
                data,
            },
            real_now,
            Guard::When(
                STILL_CLAIMED,
                vec![("claimed_id", row.id.js()), ("claim", token.js())],
            ),
        )
    };

    // The period ended on a subscription set to cancel then: it ends, unbilled.
    if trigger == Trigger::Auto
        && row.cancel_at_period_end == 1
        && matches!(state, State::Active | State::Trialing)
    {
        let mut ended = row.clone();
        ended.state = State::Canceled.as_str().to_owned();
        ended.ended_at = row.due_at;
        ended.canceled_at = Some(now);
        ended.next_billing_time = None;
        ended.due_at = None;
        return Ok(vec![
            event("subscription.canceled", &row.id, &render(&ended)?)?,
            db.prepare(
                "UPDATE subscriptions SET state = 'CANCELED', ended_at = ?3, canceled_at = ?4, next_billing_time = NULL,
                     due_at = NULL, updated_at = ?5, claim = NULL, claimed_at = NULL
                 WHERE id = ?1 AND claim = ?2",
            )
            .bind(&[
                row.id.js(),
                token.js(),
                ended.ended_at.js(),
                now.js(),
                real_now.js(),
            ])?,
        ]);
    }
    if !state.is_live() || (trigger == Trigger::Manual && !state.retryable()) {
        return release(db, row, token).map(|s| vec![s]);
    }

    let sequence = u32::try_from(row.completed_billing_iteration + 1).unwrap_or(1);
    let order_id = billing_order_id(&row.id, sequence);
    let attempt = row.open_attempts.unwrap_or(0) + 1;
    let cycle = row.cycle();
    let (Some(billing_time), Some(next_time)) = (
        cycle.billing_time(sequence),
        cycle.billing_time(sequence + 1),
    ) else {
        return release(db, row, token).map(|s| vec![s]);
    };
    let charge = match (
        Currency::parse(&row.currency)
            .ok()
            .and_then(|c| Money::from_minor(row.amount, c).ok()),
        row.processor_token.as_deref(),
    ) {
        _ if row.amount == 0 => Charge::Succeeded {
            token: "free".to_owned(),
        },
        (Some(amount), Some(saved)) => {
            Sandbox
                .charge_saved(saved, amount, &format!("{order_id}:{attempt}"))
                .await
        }
        (None, _) => Charge::Declined("processing_error"),
        (_, None) => Charge::Declined("no_payment_method"),
    };
    let (paid, charge_token, failure_code) = match charge {
        Charge::Succeeded { token } => (true, Some(token), None),
        Charge::Declined(code) => (false, None, Some(code)),
        // A saved card is charged without the shopper; a bank asking for one declines.
        Charge::ChallengeRequired { .. } => (false, None, Some("authentication_required")),
    };

    let current = row.schedule();
    let mut anchor = (row.anchor_time, row.anchor_sequence);
    let (schedule, period) = if paid {
        // Paid late by hand: the schedule restarts today rather than billing again at once.
        let cycle = if trigger == Trigger::Manual && now >= next_time {
            anchor = (now, i64::from(sequence));
            Cycle {
                anchor: now,
                anchor_sequence: sequence,
                ..cycle
            }
        } else {
            cycle
        };
        let schedule = after_payment(&cycle, sequence, row.total())
            .ok_or_else(|| ApiError::internal("billing time out of range"))?;
        let period = (
            schedule.current_period_start.unwrap_or(billing_time),
            schedule.current_period_end.unwrap_or(next_time),
        );
        (schedule, period)
    } else if trigger == Trigger::Manual {
        (current, (billing_time, next_time))
    } else {
        let settings_schedule = row
            .retry_schedule
            .as_deref()
            .and_then(till_shared::webhooks::parse_retry_schedule)
            .unwrap_or_else(|| DEFAULT_DUNNING_SCHEDULE.to_vec());
        let final_failure = row
            .final_state
            .as_deref()
            .and_then(FinalFailure::parse)
            .unwrap_or(FinalFailure::Unpaid);
        (
            after_failure(
                &current,
                u32::try_from(attempt).unwrap_or(u32::MAX),
                row.open_first_failed_at.unwrap_or(now),
                &settings_schedule,
                final_failure,
                trigger == Trigger::Creation,
            ),
            (billing_time, next_time),
        )
    };

    let order = OrderRow {
        id: order_id.clone(),
        subscription_id: row.id.clone(),
        environment: row.environment.clone(),
        sequence_no: i64::from(sequence),
        trigger_by: trigger.as_str().to_owned(),
        amount: row.amount,
        currency: row.currency.clone(),
        status: if paid { "PAID" } else { "FAILED" }.to_owned(),
        billing_time,
        period_start: period.0,
        period_end: period.1,
        attempts: attempt,
        first_failed_at: if paid {
            row.open_first_failed_at
        } else {
            row.open_first_failed_at.or(Some(now))
        },
        failure_code: failure_code.map(str::to_owned),
        paid_at: paid.then_some(now),
        created_at: real_now,
    };
    let mut after = row.with(&schedule);
    after.anchor_time = anchor.0;
    after.anchor_sequence = anchor.1;
    after.updated_at = real_now;
    if !schedule.state.is_live() {
        after.ended_at = Some(now);
        if schedule.state == State::Canceled {
            after.canceled_at = Some(now);
        }
    }

    let mut statements = vec![
        db.prepare(format!(
            "INSERT INTO billing_orders (id, account_id, environment, subscription_id, sequence_no, trigger_by, amount,
                 currency, status, billing_time, period_start, period_end, attempts, first_failed_at, failure_code,
                 paid_at, created_at, updated_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17 WHERE {}
             ON CONFLICT (subscription_id, sequence_no) DO UPDATE SET trigger_by = excluded.trigger_by,
                 amount = excluded.amount, status = excluded.status, period_start = excluded.period_start,
                 period_end = excluded.period_end, attempts = excluded.attempts,
                 first_failed_at = excluded.first_failed_at, failure_code = excluded.failure_code,
                 paid_at = excluded.paid_at, updated_at = excluded.updated_at
             WHERE billing_orders.status <> 'PAID'",
            held(18)
        ))
        .bind(&[
            order.id.js(),
            row.account_id.js(),
            row.environment.js(),
            row.id.js(),
            order.sequence_no.js(),
            order.trigger_by.js(),
            order.amount.js(),
            order.currency.js(),
            order.status.js(),
            order.billing_time.js(),
            order.period_start.js(),
            order.period_end.js(),
            order.attempts.js(),
            order.first_failed_at.js(),
            order.failure_code.js(),
            order.paid_at.js(),
            real_now.js(),
            row.id.js(),
            token.js(),
        ])?,
        db.prepare(format!(
            "INSERT INTO charges (id, account_id, environment, billing_order_id, attempt, trigger_by, amount, currency,
                 status, failure_code, payment_method_id, processor_token, created_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 WHERE {}",
            held(14)
        ))
        .bind(&[
            till_shared::ids::ChargeId::generate().to_string().js(),
            row.account_id.js(),
            row.environment.js(),
            order.id.js(),
            attempt.js(),
            order.trigger_by.js(),
            order.amount.js(),
            order.currency.js(),
            if paid { "SUCCEEDED" } else { "FAILED" }.js(),
            order.failure_code.js(),
            row.payment_method_id.js(),
            charge_token.js(),
            real_now.js(),
            row.id.js(),
            token.js(),
        ])?,
    ];
    let order_json = render_order(&order)?;
    let subscription_json = render(&after)?;
    if paid {
        statements.push(event("billing_order.paid", &order.id, &order_json)?);
        let mut renewed = subscription_json.clone();
        renewed["billing_order"] = order_json;
        statements.push(event("subscription.renewed", &row.id, &renewed)?);
    } else {
        statements.push(event("billing_order.failed", &order.id, &order_json)?);
    }
    if schedule.state != state {
        // Every state change is `subscription.updated`; some also have their own event.
        let own = match schedule.state {
            State::Completed => Some("subscription.completed"),
            State::Canceled => Some("subscription.canceled"),
            State::PastDue => Some("subscription.past_due"),
            State::Unpaid => Some("subscription.unpaid"),
            _ => None,
        };
        statements.push(event("subscription.updated", &row.id, &subscription_json)?);
        if let Some(kind) = own {
            statements.push(event(kind, &row.id, &subscription_json)?);
        }
    }
    statements.push(
        db.prepare(
            "UPDATE subscriptions SET state = ?3, completed_billing_iteration = ?4, last_billing_time = ?5,
                 next_billing_time = ?6, current_period_start = ?7, current_period_end = ?8, retry_at = ?9, due_at = ?10,
                 anchor_time = ?11, anchor_sequence = ?12, ended_at = ?13, canceled_at = ?14, updated_at = ?15,
                 claim = NULL, claimed_at = NULL
             WHERE id = ?1 AND claim = ?2",
        )
        .bind(&[
            row.id.js(),
            token.js(),
            after.state.js(),
            after.completed_billing_iteration.js(),
            after.last_billing_time.js(),
            after.next_billing_time.js(),
            after.current_period_start.js(),
            after.current_period_end.js(),
            after.retry_at.js(),
            after.due_at.js(),
            after.anchor_time.js(),
            after.anchor_sequence.js(),
            after.ended_at.js(),
            after.canceled_at.js(),
            real_now.js(),
        ])?,
    );
    Ok(statements)
}

/// Lets go of a claim without billing.
fn release(db: &D1Database, row: &SubscriptionRow, token: &str) -> ApiResult<D1PreparedStatement> {
    Ok(db
        .prepare(
            "UPDATE subscriptions SET claim = NULL, claimed_at = NULL WHERE id = ?1 AND claim = ?2",
        )
        .bind(&[row.id.js(), token.js()])?)
}

/// A billing order: one charge of a subscription, `sub_ord_{subscription}_{0001}`.
#[derive(Deserialize)]
pub struct OrderRow {
    pub id: String,
    pub subscription_id: String,
    pub environment: String,
    pub sequence_no: i64,
    pub trigger_by: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub billing_time: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub attempts: i64,
    pub first_failed_at: Option<i64>,
    pub failure_code: Option<String>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
}

pub fn render_order(row: &OrderRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "billing_order",
        "subscription_order_id": row.id,
        "subscription_id": row.subscription_id,
        "trigger_by": row.trigger_by,
        "sequence_no": row.sequence_no,
        "amount": row.amount,
        "currency": row.currency,
        "status": row.status,
        "billing_time": iso(row.billing_time)?,
        "period_start": iso(row.period_start)?,
        "period_end": iso(row.period_end)?,
        "attempts": row.attempts,
        "failure_code": row.failure_code,
        "paid_at": row.paid_at.map(iso).transpose()?,
        "livemode": row.environment == "PRODUCTION",
        "created_at": iso(row.created_at)?,
    }))
}

pub async fn load_order(call: &Call<'_>, id: &str) -> ApiResult<Option<OrderRow>> {
    db::find(call.ctx, "billing_orders", call.principal()?, id).await
}
