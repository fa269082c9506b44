//! Subscriptions: a customer billed for recurring prices on a saved card, every period
//! from the first billing time, until canceled or `total_billing_cycles` are paid. Created
//! by a SUBSCRIPTION checkout or through the API (the subscription document's fields:
//! `customer_id`, `token_id`, `products`, `total_billing_cycles`, `start_time`); billed by
//! [`crate::billing::biller`]; each charge is a billing order `sub_ord_{subscription}_{0001}`.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::billing::{
    ChangeError, Changes, Cycle, Outcome, Schedule, State, Terms, Trigger, before_first_charge,
    billing_order_id, change,
};
use till_shared::catalog::Interval;
use till_shared::keys::Environment;
use till_shared::money::Currency;
use till_shared::params::{ParamError, Params};
use till_shared::plan::{PlanError, PlanItem, subscription_plan};
use till_shared::pricing::Recurrence;
use till_shared::time::parse_request_time;
use worker::{D1Database, D1PreparedStatement};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::billing::biller;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Sql, columns};
use crate::error::{ApiError, ApiResult};
use crate::links::payment_links::LineItem;

/// Longest free trial: two years.
const MAX_TRIAL_DAYS: i64 = 730;
/// A `start_time` this far in the past still means "now" (clocks differ).
const START_SLACK_SECS: i64 = 300;

/// A subscription row, read once into its types.
#[derive(Deserialize, Clone)]
pub struct SubscriptionRow {
    pub id: String,
    pub account_id: String,
    pub environment: Environment,
    pub customer_id: String,
    pub payment_method_id: Option<String>,
    #[serde(deserialize_with = "columns::json")]
    pub items: Vec<PlanItem>,
    pub currency: Currency,
    pub amount: i64,
    pub interval: Interval,
    pub interval_count: u32,
    pub total_billing_cycles: Option<u32>,
    pub start_time: i64,
    pub trial_end: Option<i64>,
    pub anchor_time: i64,
    pub anchor_sequence: u32,
    pub state: State,
    pub completed_billing_iteration: u32,
    pub last_billing_time: Option<i64>,
    pub next_billing_time: Option<i64>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub retry_at: Option<i64>,
    pub due_at: Option<i64>,
    #[serde(deserialize_with = "columns::flag")]
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub test_clock_id: Option<String>,
    pub checkout_session_id: Option<String>,
    pub metadata: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Started again from the customer portal as this subscription (once only).
    #[serde(default)]
    pub resubscribed_as: Option<String>,
}

impl SubscriptionRow {
    pub fn cycle(&self) -> Cycle {
        Cycle {
            anchor: self.anchor_time,
            anchor_sequence: self.anchor_sequence,
            interval: self.interval,
            interval_count: self.interval_count,
        }
    }

    pub fn schedule(&self) -> Schedule {
        Schedule {
            state: self.state,
            completed_billing_iteration: self.completed_billing_iteration,
            last_billing_time: self.last_billing_time,
            next_billing_time: self.next_billing_time,
            current_period_start: self.current_period_start,
            current_period_end: self.current_period_end,
            retry_at: self.retry_at,
            due_at: self.due_at,
        }
    }

    pub fn recurrence(&self) -> Recurrence {
        Recurrence {
            interval: self.interval,
            interval_count: self.interval_count,
        }
    }

    /// What the subscription bills now.
    pub fn plan(&self) -> Result<till_shared::plan::Plan, PlanError> {
        till_shared::plan::Plan::new(self.items.clone(), self.currency, self.recurrence())
    }

    /// The terms a merchant's change may move.
    pub fn terms(&self) -> Terms {
        Terms {
            state: self.state,
            completed_billing_iteration: self.completed_billing_iteration,
            total_billing_cycles: self.total_billing_cycles,
            start_time: self.start_time,
            trial_end: self.trial_end,
            anchor_time: self.anchor_time,
            next_billing_time: self.next_billing_time,
            current_period_start: self.current_period_start,
            current_period_end: self.current_period_end,
            due_at: self.due_at,
            cancel_at_period_end: self.cancel_at_period_end,
        }
    }

    /// The row with `terms` in place of its own.
    pub fn with_terms(&self, terms: &Terms) -> SubscriptionRow {
        SubscriptionRow {
            state: terms.state,
            completed_billing_iteration: terms.completed_billing_iteration,
            total_billing_cycles: terms.total_billing_cycles,
            start_time: terms.start_time,
            trial_end: terms.trial_end,
            anchor_time: terms.anchor_time,
            next_billing_time: terms.next_billing_time,
            current_period_start: terms.current_period_start,
            current_period_end: terms.current_period_end,
            due_at: terms.due_at,
            cancel_at_period_end: terms.cancel_at_period_end,
            ..self.clone()
        }
    }

    /// The row with `schedule`'s fields.
    pub fn with_schedule(self, s: &Schedule) -> SubscriptionRow {
        SubscriptionRow {
            state: s.state,
            completed_billing_iteration: s.completed_billing_iteration,
            last_billing_time: s.last_billing_time,
            next_billing_time: s.next_billing_time,
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            retry_at: s.retry_at,
            due_at: s.due_at,
            ..self
        }
    }

    /// The row as the billing job leaves it after `outcome`, written at `updated_at`.
    pub fn after(&self, outcome: &Outcome, updated_at: i64) -> SubscriptionRow {
        SubscriptionRow {
            anchor_time: outcome.anchor_time,
            anchor_sequence: outcome.anchor_sequence,
            ended_at: outcome.ended_at.or(self.ended_at),
            canceled_at: outcome.canceled_at.or(self.canceled_at),
            updated_at,
            ..self.clone()
        }
        .with_schedule(&outcome.schedule)
    }

    /// The row as [`cancel_statement`] leaves it.
    pub fn canceled(&self, cancellation: &Cancellation) -> SubscriptionRow {
        SubscriptionRow {
            state: State::Canceled,
            canceled_at: Some(cancellation.canceled_at),
            ended_at: Some(cancellation.ended_at),
            next_billing_time: None,
            due_at: None,
            retry_at: None,
            updated_at: cancellation.updated_at,
            ..self.clone()
        }
    }

    pub fn scope(&self) -> Scope<'_> {
        Scope {
            account_id: &self.account_id,
            environment: self.environment.as_str(),
        }
    }
}

fn time(at: Option<i64>) -> ApiResult<Option<String>> {
    at.map(iso).transpose()
}

pub fn render(row: &SubscriptionRow) -> ApiResult<Value> {
    let products: Vec<Value> = row
        .items
        .iter()
        .map(|i| json!({"product_id": i.product_id, "quantity": i.quantity}))
        .collect();
    Ok(json!({
        "id": row.id,
        "object": "subscription",
        "subscription_id": row.id,
        "customer_id": row.customer_id,
        "payment_method": row.payment_method_id,
        "token_id": row.payment_method_id,
        "items": row.items,
        "products": products,
        "currency": row.currency,
        "amount": row.amount,
        "interval": row.interval,
        "interval_count": row.interval_count,
        "total_billing_cycles": row.total_billing_cycles,
        "state": row.state,
        "status": row.state,
        "start_time": iso(row.start_time)?,
        "trial_end": time(row.trial_end)?,
        "next_billing_time": time(row.next_billing_time)?,
        "last_billing_time": time(row.last_billing_time)?,
        "completed_billing_iteration": row.completed_billing_iteration,
        "current_period_start": time(row.current_period_start)?,
        "current_period_end": time(row.current_period_end)?,
        "next_retry_time": time(row.retry_at)?,
        "cancel_at_period_end": row.cancel_at_period_end,
        "canceled_at": time(row.canceled_at)?,
        "ended_at": time(row.ended_at)?,
        "test_clock": row.test_clock_id,
        "checkout_session_id": row.checkout_session_id,
        "metadata": db::parse_json(row.metadata.as_deref()),
        "livemode": row.environment == Environment::Production,
        "created_at": iso(row.created_at)?,
        "updated_at": iso(row.updated_at)?,
    }))
}

pub async fn load(call: &Call<'_>, id: &str) -> ApiResult<SubscriptionRow> {
    db::find(call.ctx, "subscriptions", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("subscription", id, None))
}

/// The time a customer's subscriptions live on: its test clock's, or the platform's.
pub async fn now_for(call: &Call<'_>, test_clock: Option<&str>) -> ApiResult<i64> {
    match test_clock {
        Some(clock) => Ok(crate::billing::test_clocks::load(call, clock, None)
            .await?
            .frozen_time),
        None => Ok(db::now_unix()),
    }
}

/// A subscription's plan on its way into a row: `billed`, the plan
/// [`till_shared::plan`] made, and copied out of it the four columns a SUBSCRIPTION
/// checkout reads (`checkout/completion.rs`; they go once it reads `billed`).
pub struct Plan {
    pub billed: till_shared::plan::Plan,
    pub currency: String,
    pub amount: i64,
    pub interval: Interval,
    pub interval_count: i64,
}

impl From<till_shared::plan::Plan> for Plan {
    fn from(billed: till_shared::plan::Plan) -> Plan {
        Plan {
            currency: billed.currency().code().to_owned(),
            amount: billed.amount.amount(),
            interval: billed.recurrence.interval,
            interval_count: i64::from(billed.recurrence.interval_count),
            billed,
        }
    }
}

/// The plan of recurring line items ([`subscription_plan`]); `param` names the list in
/// errors.
pub fn plan(lines: &[LineItem], param: &str, sandbox: bool) -> ApiResult<Plan> {
    subscription_plan(lines, sandbox)
        .map(Plan::from)
        .map_err(|e| plan_error(e, param))
}

/// The API's answer to a plan the rules refuse; `param` names the list of items (or
/// `quantity`), `param[i]` the line at fault. An empty list is the request's own fault
/// (400); every other refusal is about what the named prices, or the subscription, are: a
/// well-formed request at odds with them (409).
fn plan_error(error: PlanError, param: &str) -> ApiError {
    let at = |index: usize| format!("{param}[{index}]");
    let (field, message) = match error {
        PlanError::NoLines => return ApiError::invalid(param, "At least one item is needed."),
        PlanError::OneTime { index } | PlanError::MissingInterval { index } => (
            at(index),
            "Subscriptions bill recurring prices only; this price is one-time.",
        ),
        PlanError::SubscriptionNeedsRecurring | PlanError::PaymentWithRecurring => (
            param.to_owned(),
            "Subscriptions bill recurring prices only; this price is one-time.",
        ),
        PlanError::SandboxOnlyInterval { index, .. } => (
            at(index),
            "MINUTE and HOUR intervals exist only in SANDBOX.",
        ),
        PlanError::CurrencyMismatch { index, .. } | PlanError::IntervalMismatch { index, .. } => (
            at(index),
            "All items of a subscription share one currency and one billing interval.",
        ),
        PlanError::TooLarge => (param.to_owned(), "The subscription's amount is too large."),
        PlanError::NotOneItem => (
            param.to_owned(),
            "quantity applies to one-item subscriptions; send items instead.",
        ),
        PlanError::TermsChanged => (
            param.to_owned(),
            "New items must keep the subscription's currency and billing interval.",
        ),
    };
    ApiError::conflict(field, message)
}

/// The API's answer to a change [`change`] refuses; `cancel_param` is the field that asked
/// to cancel at period end.
fn change_error(error: ChangeError, cancel_param: &str) -> ApiError {
    match error {
        ChangeError::AlreadyBilled { completed } => ApiError::invalid(
            "total_billing_cycles",
            format!("{completed} cycles were already billed."),
        ),
        ChangeError::StartAfterFirstCharge => ApiError::invalid(
            "start_time",
            "start_time can change only before the first charge.",
        ),
        ChangeError::CannotCancelAtPeriodEnd => ApiError::invalid(
            cancel_param,
            "Only ACTIVE or TRIALING subscriptions cancel at period end; cancel this one now.",
        ),
    }
}

/// A checkout session still holding its reservation: what a SUBSCRIPTION checkout's writes
/// are conditional on.
const RESERVATION_HELD: &str = "EXISTS (SELECT 1 FROM checkout_sessions WHERE id = :held_session AND reservation = :held_token)";

/// A subscription about to be stored, by the API or a SUBSCRIPTION checkout.
pub struct NewSubscription<'a> {
    pub id: &'a str,
    pub customer_id: &'a str,
    pub payment_method_id: &'a str,
    pub plan: &'a Plan,
    pub total: Option<u32>,
    pub start: i64,
    pub trial_end: Option<i64>,
    /// The first billing time: charges are whole periods from it.
    pub anchor: i64,
    pub schedule: Schedule,
    pub test_clock_id: Option<&'a str>,
    pub checkout_session_id: Option<&'a str>,
    pub metadata: Option<String>,
}

impl NewSubscription<'_> {
    /// The row as it will be stored.
    pub fn row(&self, scope: Scope<'_>, now: i64) -> SubscriptionRow {
        let s = &self.schedule;
        let billed = &self.plan.billed;
        SubscriptionRow {
            id: self.id.to_owned(),
            account_id: scope.account_id.to_owned(),
            environment: crate::billing::environment(scope),
            customer_id: self.customer_id.to_owned(),
            payment_method_id: Some(self.payment_method_id.to_owned()),
            items: billed.items.clone(),
            currency: billed.currency(),
            amount: billed.amount.amount(),
            interval: billed.recurrence.interval,
            interval_count: billed.recurrence.interval_count,
            total_billing_cycles: self.total,
            start_time: self.start,
            trial_end: self.trial_end,
            anchor_time: self.anchor,
            anchor_sequence: 1,
            state: s.state,
            completed_billing_iteration: s.completed_billing_iteration,
            last_billing_time: s.last_billing_time,
            next_billing_time: s.next_billing_time,
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            retry_at: s.retry_at,
            due_at: s.due_at,
            cancel_at_period_end: false,
            canceled_at: None,
            ended_at: None,
            test_clock_id: self.test_clock_id.map(str::to_owned),
            checkout_session_id: self.checkout_session_id.map(str::to_owned),
            metadata: self.metadata.clone(),
            created_at: now,
            updated_at: now,
            resubscribed_as: None,
        }
    }

    /// The INSERT of `row` (this subscription's [`NewSubscription::row`]); with `held` (a
    /// checkout session id and its reservation token), only while that session still holds
    /// the reservation.
    pub fn insert(
        &self,
        db: &D1Database,
        row: &SubscriptionRow,
        held: Option<(&str, &str)>,
    ) -> ApiResult<D1PreparedStatement> {
        let condition = if held.is_some() {
            RESERVATION_HELD
        } else {
            "1"
        };
        let mut sql = Sql::new(&format!(
            "INSERT INTO subscriptions (id, account_id, environment, customer_id, payment_method_id, items, currency,
                 amount, interval, interval_count, total_billing_cycles, start_time, trial_end, anchor_time,
                 anchor_sequence, state, completed_billing_iteration, last_billing_time, next_billing_time,
                 current_period_start, current_period_end, retry_at, due_at, cancel_at_period_end, test_clock_id,
                 checkout_session_id, metadata, created_at, updated_at)
             SELECT :id, :account_id, :environment, :customer_id, :payment_method_id, :items, :currency, :amount,
                    :interval, :interval_count, :total_billing_cycles, :start_time, :trial_end, :anchor_time,
                    :anchor_sequence, :state, :completed_billing_iteration, :last_billing_time, :next_billing_time,
                    :current_period_start, :current_period_end, :retry_at, :due_at, :cancel_at_period_end,
                    :test_clock_id, :checkout_session_id, :metadata, :created_at, :updated_at
             WHERE {condition}"
        ))
        .bind("id", row.id.as_str())
        .bind("account_id", row.account_id.as_str())
        .bind("environment", row.environment.as_str())
        .bind("customer_id", row.customer_id.as_str())
        .bind("payment_method_id", row.payment_method_id.as_deref())
        .bind("items", serde_json::to_string(&row.items)?)
        .bind("currency", row.currency.code())
        .bind("amount", row.amount)
        .bind("interval", row.interval.as_str())
        .bind("interval_count", i64::from(row.interval_count))
        .bind("total_billing_cycles", row.total_billing_cycles.map(i64::from))
        .bind("start_time", row.start_time)
        .bind("trial_end", row.trial_end)
        .bind("anchor_time", row.anchor_time)
        .bind("anchor_sequence", i64::from(row.anchor_sequence))
        .schedule(row)
        .bind("cancel_at_period_end", row.cancel_at_period_end)
        .bind("test_clock_id", row.test_clock_id.as_deref())
        .bind("checkout_session_id", row.checkout_session_id.as_deref())
        .bind("metadata", row.metadata.as_deref())
        .bind("created_at", row.created_at)
        .bind("updated_at", row.updated_at);
        if let Some((session, token)) = held {
            sql = sql.bind("held_session", session).bind("held_token", token);
        }
        sql.prepare(db)
    }
}

/// Binds a subscription's schedule columns (`:state`, `:completed_billing_iteration`,
/// `:last_billing_time`, `:next_billing_time`, `:current_period_start`,
/// `:current_period_end`, `:retry_at`, `:due_at`) from `row`.
pub trait ScheduleColumns {
    fn schedule(self, row: &SubscriptionRow) -> Self;
}

impl ScheduleColumns for Sql {
    fn schedule(self, row: &SubscriptionRow) -> Sql {
        self.bind("state", row.state.as_str())
            .bind(
                "completed_billing_iteration",
                i64::from(row.completed_billing_iteration),
            )
            .bind("last_billing_time", row.last_billing_time)
            .bind("next_billing_time", row.next_billing_time)
            .bind("current_period_start", row.current_period_start)
            .bind("current_period_end", row.current_period_end)
            .bind("retry_at", row.retry_at)
            .bind("due_at", row.due_at)
    }
}

/// Only while no biller holds the subscription and it is as it was read: the same state
/// and the same cycles billed, so the event written with the change shows what is stored.
const AS_READ: &str =
    "claim IS NULL AND state = :read_state AND completed_billing_iteration = :read_completed";

/// Stores a merchant's change of `before` (items, payment method, terms, metadata) as
/// `after`, only while the row is as it was read.
fn update_statement(
    db: &D1Database,
    before: &SubscriptionRow,
    after: &SubscriptionRow,
) -> ApiResult<D1PreparedStatement> {
    Sql::new(&format!(
        "UPDATE subscriptions SET payment_method_id = :payment_method_id, items = :items, amount = :amount,
             total_billing_cycles = :total_billing_cycles, start_time = :start_time, trial_end = :trial_end,
             anchor_time = :anchor_time, next_billing_time = :next_billing_time,
             current_period_start = :current_period_start, current_period_end = :current_period_end,
             due_at = :due_at, cancel_at_period_end = :cancel_at_period_end, metadata = :metadata,
             updated_at = :updated_at
         WHERE id = :id AND {AS_READ}"
    ))
    .bind("id", before.id.as_str())
    .bind("read_state", before.state.as_str())
    .bind(
        "read_completed",
        i64::from(before.completed_billing_iteration),
    )
    .bind("payment_method_id", after.payment_method_id.as_deref())
    .bind("items", serde_json::to_string(&after.items)?)
    .bind("amount", after.amount)
    .bind(
        "total_billing_cycles",
        after.total_billing_cycles.map(i64::from),
    )
    .bind("start_time", after.start_time)
    .bind("trial_end", after.trial_end)
    .bind("anchor_time", after.anchor_time)
    .bind("next_billing_time", after.next_billing_time)
    .bind("current_period_start", after.current_period_start)
    .bind("current_period_end", after.current_period_end)
    .bind("due_at", after.due_at)
    .bind("cancel_at_period_end", after.cancel_at_period_end)
    .bind("metadata", after.metadata.as_deref())
    .bind("updated_at", after.updated_at)
    .prepare(db)
}

/// A subscription ending now: CANCELED at `canceled_at`, ended at `ended_at` (the same
/// time, or the end of the period it was set to cancel at), nothing more to bill or retry.
pub struct Cancellation {
    pub canceled_at: i64,
    pub ended_at: i64,
    pub updated_at: i64,
}

/// Who cancels, and so what the cancellation is conditional on.
pub enum Canceler<'a> {
    /// A merchant's request: only while the row is as it was read ([`AS_READ`]).
    Merchant(&'a SubscriptionRow),
    /// The biller holding the claim `token` (a period's end came with
    /// `cancel_at_period_end` set).
    Biller(&'a str),
    /// The subscription's test clock being deleted: whoever holds it; a biller still at work
    /// on it loses its claim, and with it every write it would make.
    ClockDeletion,
}

/// The one statement that cancels a live subscription (see [`SubscriptionRow::canceled`]
/// for the row it leaves); it lets go of any claim.
pub fn cancel_statement(
    db: &D1Database,
    id: &str,
    cancellation: &Cancellation,
    canceler: Canceler<'_>,
) -> ApiResult<D1PreparedStatement> {
    let condition = match canceler {
        Canceler::Merchant(_) => AS_READ,
        Canceler::Biller(_) => "claim = :claim",
        Canceler::ClockDeletion => "1",
    };
    let sql = Sql::new(&format!(
        "UPDATE subscriptions SET state = 'CANCELED', canceled_at = :canceled_at, ended_at = :ended_at,
             next_billing_time = NULL, due_at = NULL, retry_at = NULL, updated_at = :updated_at,
             claim = NULL, claimed_at = NULL
         WHERE id = :id AND state NOT IN ('CANCELED', 'COMPLETED') AND {condition}"
    ))
    .bind("id", id)
    .bind("canceled_at", cancellation.canceled_at)
    .bind("ended_at", cancellation.ended_at)
    .bind("updated_at", cancellation.updated_at);
    match canceler {
        Canceler::Merchant(read) => sql.bind("read_state", read.state.as_str()).bind(
            "read_completed",
            i64::from(read.completed_billing_iteration),
        ),
        Canceler::Biller(token) => sql.bind("claim", token),
        Canceler::ClockDeletion => sql,
    }
    .prepare(db)
}

/// Writes `change` of a subscription with the `kind` event of the subscription as it
/// becomes (`after`), in one batch; the event is written only if the change applied, else
/// the answer is 409. Answers the subscription as stored.
async fn commit(
    call: &Call<'_>,
    db: &D1Database,
    change: D1PreparedStatement,
    kind: &str,
    after: &SubscriptionRow,
) -> ApiResult<Reply> {
    let data = render(after)?;
    let event = Event {
        kind,
        object_id: &after.id,
        data: &data,
    };
    let mut batch = vec![change];
    batch.extend(events::record(
        db,
        after.scope(),
        vec![(event, Guard::Applied)],
        after.updated_at,
    )?);
    let results = db.batch(batch).await?;
    if db::changes(&results, 0) != 1 {
        return Err(busy());
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(&load(call, &after.id).await?)?))
}

fn busy() -> ApiError {
    ApiError::conflict(
        "id",
        "The subscription is being billed right now; try again in a moment.",
    )
}

/// Items from `items: [{price_id, quantity}]` or the document's `products: [{product_id,
/// quantity}]` (each product's default price), with the name of the list sent. `None`
/// when neither was sent.
async fn read_lines(call: &Call<'_>, p: &mut Params) -> ApiResult<Option<(Vec<LineItem>, String)>> {
    if let Some(items) = p.objects("items", 20)? {
        return Ok(Some((
            crate::links::payment_links::price_lines(call, items).await?,
            p.name("items"),
        )));
    }
    let Some(mut products) = p.objects("products", 20)? else {
        return Ok(None);
    };
    let param = p.name("products");
    let mut lines = Vec::new();
    for (i, item) in products.iter_mut().enumerate() {
        let field = format!("{param}[{i}].product_id");
        let product_id = item.required_string("product_id", 100)?;
        let quantity = item.integer("quantity", 1, 999)?.unwrap_or(1);
        let product = crate::catalog::products::load(call, &product_id, Some(&field)).await?;
        let Some(price_id) = product.default_price_id.as_deref() else {
            return Err(ApiError::conflict(field, "This product has no price."));
        };
        let price = crate::catalog::prices::load(call, price_id, Some(&field)).await?;
        lines.push(price.line(quantity, Some(product.name))?);
    }
    for item in products {
        item.finish()?;
    }
    Ok(Some((lines, param)))
}

/// `payment_method`, `payment_method_id` or the document's `token_id`, with the name of
/// the field sent.
fn read_payment_method(p: &mut Params) -> Result<Option<(String, String)>, ParamError> {
    let mut sent = None;
    for field in ["payment_method", "payment_method_id", "token_id"] {
        if let Some(id) = p.string(field, 64)? {
            if sent.is_some() {
                return Err(ParamError::new(
                    p.name(field),
                    "Send one of payment_method, payment_method_id or token_id.",
                ));
            }
            sent = Some((id, p.name(field)));
        }
    }
    Ok(sent)
}

/// `total_billing_cycles`: a limit, or `null` for none.
fn read_total(p: &mut Params) -> Result<Option<Option<u32>>, ParamError> {
    let total = p.patch("total_billing_cycles", |p, f| p.integer(f, 1, 100_000))?;
    Ok(total.map(|t| t.and_then(|t| u32::try_from(t).ok())))
}

fn read_start(p: &mut Params, now: i64) -> ApiResult<Option<i64>> {
    p.raw("start_time").map(|v| start_at(&v, now)).transpose()
}

/// A requested `start_time` (ISO 8601 or Unix seconds): not in the past, and "now" if it
/// is only a little behind.
fn start_at(value: &Value, now: i64) -> ApiResult<i64> {
    let at =
        parse_request_time(value).map_err(|e| ApiError::invalid("start_time", e.to_string()))?;
    if at < now - START_SLACK_SECS || iso(at).is_err() {
        return Err(ApiError::invalid(
            "start_time",
            "start_time may not be in the past.",
        ));
    }
    Ok(at.max(now))
}

/// What `POST /v1/subscriptions` asked for, read before anything is looked up.
struct Creation {
    customer_id: String,
    method: Option<(String, String)>,
    lines: Option<(Vec<LineItem>, String)>,
    total: Option<u32>,
    trial_days: i64,
    metadata: Option<String>,
    /// Checked once the customer's clock says what "now" is.
    start: Option<Value>,
}

async fn read_creation(call: &mut Call<'_>) -> ApiResult<Creation> {
    let mut p = call.params()?;
    let creation = Creation {
        customer_id: p.required_string("customer_id", 64)?,
        method: read_payment_method(&mut p)?,
        lines: read_lines(call, &mut p).await?,
        total: read_total(&mut p)?.flatten(),
        trial_days: p.integer("trial_days", 0, MAX_TRIAL_DAYS)?.unwrap_or(0),
        metadata: db::json_text(p.metadata("metadata")?.map(Value::Object).as_ref()),
        start: p.raw("start_time"),
    };
    p.finish()?;
    Ok(creation)
}

/// Creates a subscription and, when its first billing time has come, charges it at once
/// (a failure leaves it INCOMPLETE).
pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let creation = read_creation(call).await?;
    let customer =
        crate::billing::customers::load(call, &creation.customer_id, Some("customer_id")).await?;
    let Some((method_id, method_param)) = creation.method else {
        return Err(ApiError::invalid(
            "token_id",
            "A saved payment method is required (token_id or payment_method).",
        ));
    };
    crate::billing::payment_methods::load_usable(
        call,
        &method_id,
        &creation.customer_id,
        &method_param,
    )
    .await?;
    let Some((lines, param)) = creation.lines else {
        return Err(ApiError::invalid(
            "products",
            "Send products: [{product_id, quantity}] or items: [{price_id, quantity}].",
        ));
    };
    let plan = plan(&lines, &param, call.sandbox())?;
    let now = now_for(call, customer.test_clock_id.as_deref()).await?;
    let start = creation.start.map(|v| start_at(&v, now)).transpose()?;
    let start = start.unwrap_or(now);
    let trial_end = (creation.trial_days > 0).then(|| start + creation.trial_days * 86_400);
    let schedule = before_first_charge(start, trial_end);
    let id = till_shared::ids::SubscriptionId::generate().to_string();
    let new = NewSubscription {
        id: &id,
        customer_id: &creation.customer_id,
        payment_method_id: &method_id,
        plan: &plan,
        total: creation.total,
        start,
        trial_end,
        anchor: trial_end.unwrap_or(start),
        schedule,
        test_clock_id: customer.test_clock_id.as_deref(),
        checkout_session_id: None,
        metadata: creation.metadata,
    };
    let db = db::db(call.ctx)?;
    let row = new.row(crate::billing::scope(call.principal()?), db::now_unix());
    let data = render(&row)?;
    let event = Event {
        kind: "subscription.created",
        object_id: &id,
        data: &data,
    };
    let mut batch = vec![new.insert(&db, &row, None)?];
    batch.extend(events::record(
        &db,
        row.scope(),
        vec![(event, Guard::Always)],
        row.created_at,
    )?);
    db.batch(batch).await?;
    if new.anchor <= now {
        biller::bill_now(&call.ctx.env, &db, &id, Trigger::Creation, now).await?;
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::created(render(&load(call, &id).await?)?))
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(&load(call, call.id()?).await?)?))
}

/// `subscription_id`, `customer_id`, `state`, with cursor or page paging.
pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    for (name, condition) in [
        ("subscription_id", "id = :subscription"),
        ("customer_id", "customer_id = :customer"),
    ] {
        if let Some(value) = call.query(name) {
            filters.push(Filter::eq(condition, value.to_owned()));
        }
    }
    if let Some(state) = call.query("state").or(call.query("status")) {
        let state = State::parse(state).ok_or_else(|| {
            ApiError::invalid(
                "state",
                "state is one of INCOMPLETE, TRIALING, ACTIVE, PAST_DUE, UNPAID, CANCELED, COMPLETED.",
            )
        })?;
        filters.push(Filter::eq("state = :state", state.as_str()));
    }
    Ok(Reply::ok(
        crate::api::list::list(
            call,
            "subscriptions_view",
            filters,
            |row: SubscriptionRow| render(&row),
        )
        .await?,
    ))
}

/// What `PATCH /v1/subscriptions/{id}` asked for.
struct Update {
    method: Option<(String, String)>,
    lines: Option<(Vec<LineItem>, String)>,
    quantity: Option<u32>,
    changes: Changes,
    metadata: Option<String>,
}

async fn read_update(call: &mut Call<'_>, row: &SubscriptionRow, now: i64) -> ApiResult<Update> {
    let mut p = call.params()?;
    let update = Update {
        method: read_payment_method(&mut p)?,
        lines: read_lines(call, &mut p).await?,
        quantity: p
            .integer("quantity", 1, 999)?
            .and_then(|q| u32::try_from(q).ok()),
        changes: Changes {
            total_billing_cycles: read_total(&mut p)?,
            start_time: read_start(&mut p, now)?,
            cancel_at_period_end: p.boolean("cancel_at_period_end")?,
        },
        metadata: crate::api::list::patch_metadata(&mut p, row.metadata.as_deref())?,
    };
    p.finish()?;
    Ok(update)
}

/// The plan a change asks for: new items, or the one item in another quantity, on the
/// subscription's currency and interval (no proration exists).
fn new_plan(
    row: &SubscriptionRow,
    lines: Option<(Vec<LineItem>, String)>,
    quantity: Option<u32>,
    sandbox: bool,
) -> ApiResult<Option<till_shared::plan::Plan>> {
    let (plan, param) = match (lines, quantity) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "quantity",
                "Send items or quantity, not both.",
            ));
        }
        (Some((lines, param)), None) => (subscription_plan(&lines, sandbox), param),
        (None, Some(quantity)) => (
            row.plan().and_then(|plan| plan.with_quantity(quantity)),
            "quantity".to_owned(),
        ),
        (None, None) => return Ok(None),
    };
    let plan = plan.map_err(|e| plan_error(e, &param))?;
    plan.keeps_terms(row.currency, row.recurrence())
        .map_err(|e| plan_error(e, &param))?;
    Ok(Some(plan))
}

/// Items (from the next charge on; no proration), `quantity` (of a one-item
/// subscription), payment method, `total_billing_cycles`, `start_time` (before the first
/// charge), `cancel_at_period_end`, metadata.
pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id).await?;
    if !row.state.is_live() {
        return Err(ApiError::invalid(
            "id",
            format!(
                "This subscription is {}; it can no longer change.",
                row.state.as_str()
            ),
        ));
    }
    let now = now_for(call, row.test_clock_id.as_deref()).await?;
    let update = read_update(call, &row, now).await?;
    let mut after = row.clone();
    if let Some((method_id, param)) = update.method {
        crate::billing::payment_methods::load_usable(call, &method_id, &row.customer_id, &param)
            .await?;
        after.payment_method_id = Some(method_id);
    }
    if let Some(plan) = new_plan(&row, update.lines, update.quantity, call.sandbox())? {
        after.amount = plan.amount.amount();
        after.items = plan.items;
    }
    let terms = change(&row.terms(), &update.changes)
        .map_err(|e| change_error(e, "cancel_at_period_end"))?;
    after = after.with_terms(&terms);
    after.metadata = update.metadata;
    after.updated_at = db::now_unix();
    let db = db::db(call.ctx)?;
    let statement = update_statement(&db, &row, &after)?;
    commit(call, &db, statement, "subscription.updated", &after).await
}

/// Cancel now (default), or at the end of the current period with `at_period_end`.
pub async fn cancel(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id).await?;
    let mut p = call.params()?;
    let at_period_end = match p.boolean("at_period_end")? {
        Some(flag) => flag,
        None => p.boolean("cancel_at_period_end")?.unwrap_or(false),
    };
    p.finish()?;
    if !row.state.is_live() {
        return Err(ApiError::invalid(
            "id",
            format!("This subscription is already {}.", row.state.as_str()),
        ));
    }
    let at_end = Changes {
        cancel_at_period_end: Some(true),
        ..Changes::default()
    };
    let terms = if at_period_end {
        Some(change(&row.terms(), &at_end).map_err(|e| change_error(e, "at_period_end"))?)
    } else {
        None
    };
    let real_now = db::now_unix();
    let now = now_for(call, row.test_clock_id.as_deref()).await?;
    let db = db::db(call.ctx)?;
    if let Some(terms) = terms {
        let mut after = row.with_terms(&terms);
        after.updated_at = real_now;
        let statement = update_statement(&db, &row, &after)?;
        return commit(call, &db, statement, "subscription.updated", &after).await;
    }
    let cancellation = Cancellation {
        canceled_at: now,
        ended_at: now,
        updated_at: real_now,
    };
    let statement = cancel_statement(&db, &id, &cancellation, Canceler::Merchant(&row))?;
    let after = row.canceled(&cancellation);
    commit(call, &db, statement, "subscription.canceled", &after).await
}

/// Charges the open billing order again now, for UNPAID, INCOMPLETE and PAST_DUE
/// subscriptions. Paid: ACTIVE again; if the next billing date already passed, the
/// schedule restarts from today instead of charging twice in a row. Failed: the state
/// stays as it was. Answers the billing order.
pub async fn retry(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id).await?;
    let mut p = call.params()?;
    let order_id = p.string("subscription_order_id", 120)?;
    p.finish()?;
    if !row.state.retryable() {
        return Err(ApiError::invalid(
            "id",
            format!(
                "Only UNPAID, INCOMPLETE or PAST_DUE subscriptions can be retried; this one is {}.",
                row.state.as_str()
            ),
        ));
    }
    let open = billing_order_id(&id, row.completed_billing_iteration.saturating_add(1));
    if let Some(order_id) = &order_id
        && *order_id != open
    {
        return Err(ApiError::invalid(
            "subscription_order_id",
            format!("Only the unpaid order `{open}` of this subscription can be retried."),
        ));
    }
    let now = now_for(call, row.test_clock_id.as_deref()).await?;
    let db = db::db(call.ctx)?;
    if !biller::bill_now(&call.ctx.env, &db, &id, Trigger::Manual, now).await? {
        return Err(busy());
    }
    crate::events::delivery::send_soon(call.ctx);
    let order = biller::load_order(call, &open)
        .await?
        .ok_or_else(|| ApiError::not_found("billing order", &open, None))?;
    Ok(Reply::ok(biller::render_order(&order)?))
}

/// `GET /v1/subscriptions/{id}/billing_orders`, paged as the document pages.
pub async fn billing_orders(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    load(call, &id).await?;
    Ok(Reply::ok(
        crate::api::list::list(
            call,
            "billing_orders_view",
            vec![Filter::eq("subscription_id = :subscription", id)],
            |row: biller::OrderRow| biller::render_order(&row),
        )
        .await?,
    ))
}
