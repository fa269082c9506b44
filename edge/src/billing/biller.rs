//! The billing job: charges subscriptions that are due, once per cycle.
//!
//! A biller first **claims** a batch of due subscriptions (one conditional UPDATE …
//! RETURNING: two billers running at once get disjoint batches), charges each saved card
//! outside D1, then writes every outcome in one batch whose statements are conditional on
//! still holding the claim: the billing order (UNIQUE per subscription and sequence
//! number), the charge attempt (at most one successful charge per order, by a partial
//! unique index), the events, and the subscription's new schedule, which lets go of the
//! claim. A claim older than ten minutes belonged to a biller that stopped; the cron trigger
//! frees it and the charge is retried with the same idempotency key, so the processor
//! charges once.
//!
//! What to do with a claimed subscription, and what a charge's result changes, are
//! [`till_shared::billing::next_step`] and [`till_shared::billing::outcome`]; this module
//! reads the claim, charges, and turns the decided [`Outcome`] into statements.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::billing::{
    BillingEvent, ChargeResult, Collect, Due, Dunning, OpenOrder, OrderRecord, OrderStatus,
    Outcome, Step, Trigger, billing_order_id, collect, next_step, outcome,
};
use till_shared::ids::{ChargeId, PaymentId, random_base62};
use till_shared::keys::Environment;
use till_shared::money::Currency;
use worker::js_sys;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{D1Database, D1PreparedStatement, Env, console_error};

use crate::accounts::processor;
use crate::api::call::Call;
use crate::api::iso;
use crate::billing::subscriptions::{
    Canceler, Cancellation, ScheduleColumns, SubscriptionRow, cancel_statement, render,
};
use crate::db::events::{self, Event, Guard};
use crate::db::{self, Bind, Sql};
use crate::error::{ApiError, ApiResult};
use crate::processor::{Charge, Connected};

/// Subscriptions claimed (and written back) together.
const BATCH: i64 = 100;
/// A claim older than this belonged to a biller that stopped.
const STALE_CLAIM_SECS: i64 = 10 * 60;
/// How long one cron run (all its clocks included) or one clock advance bills before
/// leaving the rest to the next run.
const BUDGET_MILLIS: u64 = 25_000;

/// The time (platform milliseconds) until which billing that starts now may run.
pub fn deadline() -> u64 {
    db::now_millis() + BUDGET_MILLIS
}

/// What a claim returns besides the subscription: the account's dunning settings, the
/// saved card's processor token (if it is still attached), and the open billing order's
/// attempts so far.
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
        AS open_first_failed_at,
    (SELECT created_at FROM billing_orders o
     WHERE o.subscription_id = subscriptions.id AND o.sequence_no = subscriptions.completed_billing_iteration + 1)
        AS open_created_at";

/// A subscription this biller claimed, as [`RETURNING`] reads it.
struct Claimed {
    row: SubscriptionRow,
    beside: Beside,
}

/// The columns [`RETURNING`] adds to the subscription's own. Read from the same row as
/// the subscription, apart from it: the subscription is read the way every lookup reads
/// it (a flattened struct would compile a second reader of all its columns).
#[derive(Deserialize)]
struct Beside {
    retry_schedule: Option<String>,
    final_state: Option<String>,
    processor_token: Option<String>,
    open_attempts: Option<u32>,
    open_first_failed_at: Option<i64>,
    open_created_at: Option<i64>,
}

impl Claimed {
    fn read(row: JsValue) -> Result<Claimed, serde_wasm_bindgen::Error> {
        Ok(Claimed {
            beside: serde_wasm_bindgen::from_value(row.clone())?,
            row: serde_wasm_bindgen::from_value(row)?,
        })
    }
}

impl Claimed {
    fn dunning(&self) -> Dunning {
        Dunning::from_stored(
            self.beside.retry_schedule.as_deref(),
            self.beside.final_state.as_deref(),
        )
    }

    /// What the billing decisions know of it, charged by `trigger` at `now`.
    fn due<'a>(&self, trigger: Trigger, now: i64, dunning: &'a Dunning) -> Due<'a> {
        Due {
            trigger,
            now,
            schedule: self.row.schedule(),
            cycle: self.row.cycle(),
            total_billing_cycles: self.row.total_billing_cycles,
            cancel_at_period_end: self.row.cancel_at_period_end,
            open_attempts: self.beside.open_attempts.unwrap_or(0),
            open_first_failed_at: self.beside.open_first_failed_at,
            dunning,
        }
    }
}

/// The cron trigger's billing: frees dead billers' claims, bills what is due on the
/// platform's clock, and finishes test clocks left ADVANCING.
pub async fn run(env: &Env) {
    let db = match db::database(env) {
        Ok(db) => db,
        Err(error) => return console_error!("billing: no database: {error:?}"),
    };
    let now = db::now_unix();
    let deadline = deadline();
    if let Err(error) = free_stale_claims(&db, now).await {
        console_error!("billing: freeing stale claims failed: {error:?}");
    }
    if let Err(error) = run_due(env, &db, None, now, deadline).await {
        console_error!("billing: {error:?}");
    }
    let clocks = match advancing_clocks(&db).await {
        Ok(clocks) => clocks,
        Err(error) => return console_error!("billing: reading clocks failed: {error:?}"),
    };
    for clock in clocks {
        if let Err(error) = finish_clock(env, &db, &clock.id, clock.frozen_time, deadline).await {
            console_error!("billing: clock {} failed: {error:?}", clock.id);
        }
    }
}

async fn free_stale_claims(db: &D1Database, now: i64) -> ApiResult<()> {
    Sql::new(
        "UPDATE subscriptions SET claim = NULL, claimed_at = NULL
         WHERE claim IS NOT NULL AND claimed_at < :stale_before",
    )
    .bind("stale_before", now - STALE_CLAIM_SECS)
    .prepare(db)?
    .run()
    .await?;
    Ok(())
}

/// A test clock whose advance is still billing.
#[derive(Deserialize)]
struct Advancing {
    id: String,
    frozen_time: i64,
}

async fn advancing_clocks(db: &D1Database) -> ApiResult<Vec<Advancing>> {
    Ok(
        Sql::new("SELECT id, frozen_time FROM test_clocks WHERE status = 'ADVANCING' LIMIT 20")
            .prepare(db)?
            .all()
            .await?
            .results()?,
    )
}

/// Bills everything due at `now` on `clock` (or the platform's time), batch after batch
/// until nothing is due or `deadline` (platform milliseconds) has passed. Answers whether
/// it finished.
pub async fn run_due(
    env: &Env,
    db: &D1Database,
    clock: Option<&str>,
    now: i64,
    deadline: u64,
) -> ApiResult<bool> {
    loop {
        if db::now_millis() > deadline {
            return Ok(false);
        }
        let claim = random_base62(24);
        let statement = Sql::new(&format!(
            "UPDATE subscriptions SET claim = :claim, claimed_at = :claimed_at
             WHERE id IN (SELECT id FROM subscriptions
                          WHERE test_clock_id IS :clock AND due_at <= :now AND claim IS NULL
                          ORDER BY due_at LIMIT {BATCH})
             {RETURNING}"
        ))
        .bind("claim", claim.as_str())
        .bind("claimed_at", db::now_unix())
        .bind("clock", clock)
        .bind("now", now)
        .prepare(db)?;
        let rows = claimed(statement).await?;
        if rows.is_empty() {
            return Ok(true);
        }
        settle(env, db, read_claimed(rows), &claim, Trigger::Auto, now).await?;
    }
}

/// Bills a clock's subscriptions up to its time (until `deadline`), then marks it READY.
pub async fn finish_clock(
    env: &Env,
    db: &D1Database,
    clock_id: &str,
    now: i64,
    deadline: u64,
) -> ApiResult<()> {
    if run_due(env, db, Some(clock_id), now, deadline).await? {
        Sql::new("UPDATE test_clocks SET status = 'READY' WHERE id = :id")
            .bind("id", clock_id)
            .prepare(db)?
            .run()
            .await?;
    }
    Ok(())
}

/// Charges one subscription's open order now (creation or a manual retry). `false` when
/// another biller holds it.
pub async fn bill_now(
    env: &Env,
    db: &D1Database,
    id: &str,
    trigger: Trigger,
    now: i64,
) -> ApiResult<bool> {
    let claim = random_base62(24);
    let statement = Sql::new(&format!(
        "UPDATE subscriptions SET claim = :claim, claimed_at = :claimed_at
         WHERE id = :id AND claim IS NULL {RETURNING}"
    ))
    .bind("claim", claim.as_str())
    .bind("claimed_at", db::now_unix())
    .bind("id", id)
    .prepare(db)?;
    let rows = claimed(statement).await?;
    if rows.is_empty() {
        return Ok(false);
    }
    let rows = read_claimed(rows);
    if rows.is_empty() {
        return Err(ApiError::internal(format!(
            "subscription {id} could not be read"
        )));
    }
    settle(env, db, rows, &claim, trigger, now).await?;
    Ok(true)
}

/// The rows a claim returned, as they came.
async fn claimed(statement: D1PreparedStatement) -> ApiResult<Vec<JsValue>> {
    let js = |error: JsValue| ApiError::from(worker::Error::from(error));
    let result = JsFuture::from(statement.inner().all().map_err(js)?)
        .await
        .map_err(js)?;
    let result: worker::worker_sys::D1Result = result.unchecked_into();
    let rows = result.results().map_err(js)?;
    Ok(rows.map(|rows| rows.to_vec()).unwrap_or_default())
}

/// The claimed rows that read as subscriptions. One that does not stays claimed, and so
/// is left alone until its claim goes stale, rather than holding up the rest.
fn read_claimed(rows: Vec<JsValue>) -> Vec<Claimed> {
    rows.into_iter()
        .filter_map(|row| {
            let id = js_sys::Reflect::get(&row, &JsValue::from_str("id"))
                .ok()
                .and_then(|id| id.as_string())
                .unwrap_or_default();
            Claimed::read(row)
                .inspect_err(|error| {
                    console_error!("billing: subscription {id} unreadable: {error}");
                })
                .ok()
        })
        .collect()
}

/// Charges the claimed subscriptions and writes the outcomes. When the batch of all of
/// them fails, each is written alone, so one bad row cannot hold the others.
async fn settle(
    env: &Env,
    db: &D1Database,
    rows: Vec<Claimed>,
    claim: &str,
    trigger: Trigger,
    now: i64,
) -> ApiResult<()> {
    let real_now = db::now_unix();
    let mut per_row = Vec::with_capacity(rows.len());
    for row in &rows {
        per_row.push(bill(env, db, row, claim, trigger, now, real_now).await?);
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
                console_error!(
                    "billing: subscription {} not written: {error:?}",
                    row.row.id
                );
            }
        }
    }
    Ok(())
}

/// Decides what one claimed subscription needs, charges it if it is due, and answers the
/// statements that store the outcome (all conditional on still holding `claim`).
async fn bill(
    env: &Env,
    db: &D1Database,
    claimed: &Claimed,
    claim: &str,
    trigger: Trigger,
    now: i64,
    real_now: i64,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let dunning = claimed.dunning();
    let due = claimed.due(trigger, now, &dunning);
    match next_step(&due) {
        Step::Release => Ok(vec![release(db, &claimed.row.id, claim)?]),
        Step::Cancel(ended) => period_ended(db, &claimed.row, claim, &ended, now, real_now),
        Step::Charge(order) => {
            let Some(attempt) = charge(env, db, claimed, &order).await else {
                // Unanswered: nothing is recorded, and the same attempt (the same
                // idempotency key) is made again a minute later, so a charge whose answer
                // was lost is found, never made twice.
                return Ok(vec![postpone(db, &claimed.row.id, claim, now)?]);
            };
            let decided = outcome(&due, &order, attempt.result)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            charged(db, claimed, claim, trigger, &decided, &attempt, real_now)
        }
    }
}

/// One charge attempt, as the charge row stores it.
struct Attempt {
    result: ChargeResult,
    /// The processor's token of a successful charge.
    token: Option<String>,
    failure_code: Option<&'static str>,
}

impl Attempt {
    fn failed(code: &'static str) -> Attempt {
        Attempt {
            result: ChargeResult::Failed,
            token: None,
            failure_code: Some(code),
        }
    }
}

/// Collects the open order: nothing to charge for a free plan, the saved card otherwise
/// (with the order attempt's idempotency key, so a replaced biller charges once).
/// `None` when the processor did not answer: nothing is known of the attempt.
async fn charge(
    env: &Env,
    db: &D1Database,
    claimed: &Claimed,
    order: &OpenOrder,
) -> Option<Attempt> {
    let row = &claimed.row;
    let saved = claimed.beside.processor_token.as_deref();
    let answer = match (
        collect(row.amount, row.currency.code(), saved.is_some()),
        saved,
    ) {
        (Collect::Free, _) => Charge::Succeeded {
            token: "free".to_owned(),
        },
        (Collect::Card(amount), Some(saved)) => {
            let key = order.idempotency_key(&row.id);
            match processor_of(env, db, row, saved).await {
                Some(processor) => processor.charge_saved(saved, amount, &key).await,
                // The card was kept at a Stripe that is no longer connected.
                None => Charge::Declined("processing_error"),
            }
        }
        (Collect::Card(_), None) => Charge::Declined("no_payment_method"),
        (Collect::Decline(code), _) => Charge::Declined(code),
    };
    Some(match answer {
        Charge::Succeeded { token } => Attempt {
            result: ChargeResult::Paid,
            token: Some(token),
            failure_code: None,
        },
        Charge::Declined(code) => Attempt::failed(code),
        // A saved card is charged without the shopper; a bank asking for one declines.
        Charge::ChallengeRequired { .. } => Attempt::failed("authentication_required"),
        Charge::Unavailable => return None,
    })
}

/// What charges a saved card: the sandbox for its own tokens, the account's Stripe for a
/// card kept there (`cus_…/pm_…`); `None` when that Stripe is no longer connected.
async fn processor_of(
    env: &Env,
    db: &D1Database,
    row: &SubscriptionRow,
    saved: &str,
) -> Option<Connected> {
    if saved.starts_with("tok_") {
        return Some(Connected::Sandbox);
    }
    processor::connected(
        env,
        db,
        &row.account_id,
        row.environment.as_str(),
        Some("stripe"),
    )
    .await
    .ok()
    .flatten()
}

/// The period ended on a subscription set to cancel then: it ends, unbilled.
fn period_ended(
    db: &D1Database,
    row: &SubscriptionRow,
    claim: &str,
    ended: &Outcome,
    now: i64,
    real_now: i64,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let cancellation = Cancellation {
        canceled_at: ended.canceled_at.unwrap_or(now),
        ended_at: ended.ended_at.unwrap_or(now),
        updated_at: real_now,
    };
    let after = row.canceled(&cancellation);
    let mut statements = outcome_events(db, &after, None, &ended.events, claim)?;
    statements.push(cancel_statement(
        db,
        &row.id,
        &cancellation,
        Canceler::Biller(claim),
    )?);
    Ok(statements)
}

/// The statements of a charge's outcome: the billing order, the charge, the events, and
/// the subscription's new schedule (which lets go of the claim), in that order.
fn charged(
    db: &D1Database,
    claimed: &Claimed,
    claim: &str,
    trigger: Trigger,
    decided: &Outcome,
    attempt: &Attempt,
    real_now: i64,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let row = &claimed.row;
    let record = decided
        .order
        .ok_or_else(|| ApiError::internal("a charge without a billing order"))?;
    let order = OrderRow::of(
        row,
        trigger,
        &record,
        attempt.failure_code,
        claimed.beside.open_created_at.unwrap_or(real_now),
    );
    let after = row.after(decided, real_now);
    let mut statements = vec![
        upsert_order(db, row, &order, claim, real_now)?,
        insert_charge(db, row, &order, attempt, claim, real_now)?,
    ];
    if attempt.result == ChargeResult::Paid && order.amount > 0 {
        statements.push(insert_payment(db, row, &order, attempt, claim, real_now)?);
    }
    statements.extend(outcome_events(
        db,
        &after,
        Some(&order),
        &decided.events,
        claim,
    )?);
    statements.push(store_schedule(db, &after, claim)?);
    Ok(statements)
}

/// Only while this biller still holds the subscription's claim.
const STILL_CLAIMED: &str =
    "EXISTS (SELECT 1 FROM subscriptions WHERE id = :claimed_id AND claim = :claim)";

fn still_claimed(id: &str, claim: &str) -> Guard<'static> {
    Guard::When(
        STILL_CLAIMED,
        vec![("claimed_id", id.js()), ("claim", claim.js())],
    )
}

/// The outcome's events, in its order: an order's about `order` as the billing orders
/// list renders it, a subscription's about `after` as `GET` renders it (a renewal also
/// carries the order it paid).
fn outcome_events(
    db: &D1Database,
    after: &SubscriptionRow,
    order: Option<&OrderRow>,
    kinds: &[BillingEvent],
    claim: &str,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let subscription = render(after)?;
    let rendered = order.map(render_order).transpose()?;
    let mut statements = Vec::with_capacity(kinds.len());
    for kind in kinds {
        let (object_id, data) = match (order, &rendered) {
            (Some(order), Some(json)) if kind.is_about_the_order() => (&order.id, json.clone()),
            (_, Some(json)) if *kind == BillingEvent::SubscriptionRenewed => {
                let mut renewed = subscription.clone();
                renewed["billing_order"] = json.clone();
                (&after.id, renewed)
            }
            _ => (&after.id, subscription.clone()),
        };
        let event = Event {
            kind: kind.as_str(),
            object_id,
            data: &data,
        };
        statements.push(events::insert(
            db,
            after.scope(),
            event,
            after.updated_at,
            still_claimed(&after.id, claim),
        )?);
    }
    Ok(statements)
}

/// The open billing order as this attempt leaves it: a new one, or the one an earlier
/// attempt failed (a paid order is never written again).
fn upsert_order(
    db: &D1Database,
    row: &SubscriptionRow,
    order: &OrderRow,
    claim: &str,
    now: i64,
) -> ApiResult<D1PreparedStatement> {
    Sql::new(&format!(
        "INSERT INTO billing_orders (id, account_id, environment, subscription_id, sequence_no, trigger_by, amount,
             currency, status, billing_time, period_start, period_end, attempts, first_failed_at, failure_code,
             paid_at, created_at, updated_at)
         SELECT :id, :account_id, :environment, :subscription_id, :sequence_no, :trigger_by, :amount, :currency,
                :status, :billing_time, :period_start, :period_end, :attempts, :first_failed_at, :failure_code,
                :paid_at, :created_at, :updated_at
         WHERE {STILL_CLAIMED}
         ON CONFLICT (subscription_id, sequence_no) DO UPDATE SET trigger_by = excluded.trigger_by,
             amount = excluded.amount, status = excluded.status, period_start = excluded.period_start,
             period_end = excluded.period_end, attempts = excluded.attempts,
             first_failed_at = excluded.first_failed_at, failure_code = excluded.failure_code,
             paid_at = excluded.paid_at, updated_at = excluded.updated_at
         WHERE billing_orders.status <> 'PAID'"
    ))
    .bind("id", order.id.as_str())
    .bind("account_id", row.account_id.as_str())
    .bind("environment", order.environment.as_str())
    .bind("subscription_id", order.subscription_id.as_str())
    .bind("sequence_no", i64::from(order.sequence_no))
    .bind("trigger_by", order.trigger_by.as_str())
    .bind("amount", order.amount)
    .bind("currency", order.currency.code())
    .bind("status", order.status.as_str())
    .bind("billing_time", order.billing_time)
    .bind("period_start", order.period_start)
    .bind("period_end", order.period_end)
    .bind("attempts", i64::from(order.attempts))
    .bind("first_failed_at", order.first_failed_at)
    .bind("failure_code", order.failure_code.as_deref())
    .bind("paid_at", order.paid_at)
    .bind("created_at", order.created_at)
    .bind("updated_at", now)
    .bind("claimed_id", row.id.as_str())
    .bind("claim", claim)
    .prepare(db)
}

/// The record of one attempt to collect `order`.
fn insert_charge(
    db: &D1Database,
    row: &SubscriptionRow,
    order: &OrderRow,
    attempt: &Attempt,
    claim: &str,
    now: i64,
) -> ApiResult<D1PreparedStatement> {
    Sql::new(&format!(
        "INSERT INTO charges (id, account_id, environment, billing_order_id, attempt, trigger_by, amount, currency,
             status, failure_code, payment_method_id, processor_token, created_at)
         SELECT :id, :account_id, :environment, :billing_order_id, :attempt, :trigger_by, :amount, :currency,
                CASE WHEN :paid THEN 'SUCCEEDED' ELSE 'FAILED' END, :failure_code, :payment_method_id,
                :processor_token, :created_at
         WHERE {STILL_CLAIMED}"
    ))
    .bind("id", ChargeId::generate().to_string())
    .bind("account_id", row.account_id.as_str())
    .bind("environment", order.environment.as_str())
    .bind("billing_order_id", order.id.as_str())
    .bind("attempt", i64::from(order.attempts))
    .bind("trigger_by", order.trigger_by.as_str())
    .bind("amount", order.amount)
    .bind("currency", order.currency.code())
    .bind("paid", attempt.result == ChargeResult::Paid)
    .bind("failure_code", attempt.failure_code)
    .bind("payment_method_id", row.payment_method_id.as_deref())
    .bind("processor_token", attempt.token.as_deref())
    .bind("created_at", now)
    .bind("claimed_id", row.id.as_str())
    .bind("claim", claim)
    .prepare(db)
}

/// A paid renewal's payment (refundable, with its receipt), carrying the card the
/// subscription charged.
fn insert_payment(
    db: &D1Database,
    row: &SubscriptionRow,
    order: &OrderRow,
    attempt: &Attempt,
    claim: &str,
    now: i64,
) -> ApiResult<D1PreparedStatement> {
    Sql::new(&format!(
        "INSERT INTO payments (id, account_id, environment, billing_order_id, subscription_id, customer_id, amount,
             currency, status, card_brand, card_last4, card_exp_month, card_exp_year, processor, processor_token,
             receipt_key, created_at, updated_at)
         SELECT :id, :account_id, :environment, :billing_order_id, :subscription_id, :customer_id, :amount,
                :currency, 'SUCCEEDED', m.card_brand, m.card_last4, m.card_exp_month, m.card_exp_year, :processor,
                :processor_token, :receipt_key, :now, :now
         FROM payment_methods m WHERE m.id = :payment_method_id AND {STILL_CLAIMED}"
    ))
    .bind("id", PaymentId::generate().to_string())
    .bind("account_id", row.account_id.as_str())
    .bind("environment", order.environment.as_str())
    .bind("billing_order_id", order.id.as_str())
    .bind("subscription_id", row.id.as_str())
    .bind("customer_id", row.customer_id.as_str())
    .bind("amount", order.amount)
    .bind("currency", order.currency.code())
    .bind("payment_method_id", row.payment_method_id.as_deref())
    .bind("processor_token", attempt.token.as_deref())
    // Stripe's charges are PaymentIntents; the sandbox's tokens are its own.
    .bind(
        "processor",
        if attempt.token.as_deref().is_some_and(|t| t.starts_with("pi_")) {
            "stripe"
        } else {
            "sandbox"
        },
    )
    .bind("receipt_key", till_shared::ids::receipt_key())
    .bind("now", now)
    .bind("claimed_id", row.id.as_str())
    .bind("claim", claim)
    .prepare(db)
}

/// The subscription's schedule as the outcome leaves it (`after`); lets go of the claim.
fn store_schedule(
    db: &D1Database,
    after: &SubscriptionRow,
    claim: &str,
) -> ApiResult<D1PreparedStatement> {
    Sql::new(
        "UPDATE subscriptions SET state = :state, completed_billing_iteration = :completed_billing_iteration,
             last_billing_time = :last_billing_time, next_billing_time = :next_billing_time,
             current_period_start = :current_period_start, current_period_end = :current_period_end,
             retry_at = :retry_at, due_at = :due_at, anchor_time = :anchor_time,
             anchor_sequence = :anchor_sequence, ended_at = :ended_at, canceled_at = :canceled_at,
             updated_at = :updated_at, claim = NULL, claimed_at = NULL
         WHERE id = :id AND claim = :claim",
    )
    .bind("id", after.id.as_str())
    .bind("claim", claim)
    .schedule(after)
    .bind("anchor_time", after.anchor_time)
    .bind("anchor_sequence", i64::from(after.anchor_sequence))
    .bind("ended_at", after.ended_at)
    .bind("canceled_at", after.canceled_at)
    .bind("updated_at", after.updated_at)
    .prepare(db)
}

/// Lets go of a claim without billing.
/// Lets go of the claim and looks again a minute after `now` (the run's time: the
/// clock's, on a test clock), so this run does not take it up again.
fn postpone(db: &D1Database, id: &str, claim: &str, now: i64) -> ApiResult<D1PreparedStatement> {
    Sql::new(
        "UPDATE subscriptions SET claim = NULL, claimed_at = NULL, due_at = max(coalesce(due_at, :now), :now) + 60
         WHERE id = :id AND claim = :claim",
    )
    .bind("id", id)
    .bind("claim", claim)
    .bind("now", now)
    .prepare(db)
}

fn release(db: &D1Database, id: &str, claim: &str) -> ApiResult<D1PreparedStatement> {
    Sql::new("UPDATE subscriptions SET claim = NULL, claimed_at = NULL WHERE id = :id AND claim = :claim")
        .bind("id", id)
        .bind("claim", claim)
        .prepare(db)
}

/// A billing order: one charge of a subscription, `sub_ord_{subscription}_{0001}`.
#[derive(Deserialize)]
pub struct OrderRow {
    pub id: String,
    pub subscription_id: String,
    pub environment: Environment,
    pub sequence_no: u32,
    pub trigger_by: String,
    pub amount: i64,
    pub currency: Currency,
    pub status: OrderStatus,
    pub billing_time: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub attempts: u32,
    pub first_failed_at: Option<i64>,
    pub failure_code: Option<String>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
}

impl OrderRow {
    /// The order of `row` as `record` leaves it: the subscription's amount, charged by
    /// `trigger`; `created_at` is the first attempt's.
    fn of(
        row: &SubscriptionRow,
        trigger: Trigger,
        record: &OrderRecord,
        failure_code: Option<&str>,
        created_at: i64,
    ) -> OrderRow {
        OrderRow {
            id: billing_order_id(&row.id, record.sequence_no),
            subscription_id: row.id.clone(),
            environment: row.environment,
            sequence_no: record.sequence_no,
            trigger_by: trigger.as_str().to_owned(),
            amount: row.amount,
            currency: row.currency,
            status: record.status,
            billing_time: record.billing_time,
            period_start: record.period_start,
            period_end: record.period_end,
            attempts: record.attempts,
            first_failed_at: record.first_failed_at,
            failure_code: failure_code.map(str::to_owned),
            paid_at: record.paid_at,
            created_at,
        }
    }
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
        "livemode": row.environment == Environment::Production,
        "created_at": iso(row.created_at)?,
    }))
}

pub async fn load_order(call: &Call<'_>, id: &str) -> ApiResult<Option<OrderRow>> {
    db::find(call.ctx, "billing_orders", call.principal()?, id).await
}
