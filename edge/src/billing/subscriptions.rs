//! Subscriptions: a customer billed for recurring prices on a saved card, every period
//! from the first billing time, until canceled or `total_billing_cycles` are paid. Created
//! by a SUBSCRIPTION checkout or through the API (the subscription document's fields:
//! `customer_id`, `token_id`, `products`, `total_billing_cycles`, `start_time`); billed by
//! [`crate::billing::biller`]; each charge is a billing order `sub_ord_{subscription}_{0001}`.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::billing::{Cycle, Schedule, State};
use till_shared::catalog::Interval;
use till_shared::money::MAX_MINOR_UNITS;
use till_shared::params::{ParamError, Params};
use till_shared::time::parse_request_time;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::billing::biller::{self, Trigger};
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Bind};
use crate::error::{ApiError, ApiResult};
use crate::links::payment_links::LineItem;

/// Longest free trial: two years.
const MAX_TRIAL_DAYS: i64 = 730;
/// A `start_time` this far in the past still means "now" (clocks differ).
const START_SLACK_SECS: i64 = 300;

/// A subscription row; the billing job's claim also returns the `#[serde(default)]` fields.
#[derive(Deserialize, Clone)]
pub struct SubscriptionRow {
    pub id: String,
    pub account_id: String,
    pub environment: String,
    pub customer_id: String,
    pub payment_method_id: Option<String>,
    pub items: String,
    pub currency: String,
    pub amount: i64,
    pub interval: String,
    pub interval_count: i64,
    pub total_billing_cycles: Option<i64>,
    pub start_time: i64,
    pub trial_end: Option<i64>,
    pub anchor_time: i64,
    pub anchor_sequence: i64,
    pub state: String,
    pub completed_billing_iteration: i64,
    pub last_billing_time: Option<i64>,
    pub next_billing_time: Option<i64>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub retry_at: Option<i64>,
    pub due_at: Option<i64>,
    pub cancel_at_period_end: i64,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub test_clock_id: Option<String>,
    pub checkout_session_id: Option<String>,
    pub metadata: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub retry_schedule: Option<String>,
    #[serde(default)]
    pub final_state: Option<String>,
    #[serde(default)]
    pub processor_token: Option<String>,
    #[serde(default)]
    pub open_attempts: Option<i64>,
    #[serde(default)]
    pub open_first_failed_at: Option<i64>,
}

impl SubscriptionRow {
    pub fn state(&self) -> State {
        State::parse(&self.state).unwrap_or(State::Canceled)
    }

    pub fn cycle(&self) -> Cycle {
        Cycle {
            anchor: self.anchor_time,
            anchor_sequence: u32::try_from(self.anchor_sequence).unwrap_or(1),
            interval: Interval::parse(&self.interval).unwrap_or(Interval::Month),
            interval_count: u32::try_from(self.interval_count).unwrap_or(1),
        }
    }

    pub fn schedule(&self) -> Schedule {
        Schedule {
            state: self.state(),
            completed_billing_iteration: u32::try_from(self.completed_billing_iteration)
                .unwrap_or(0),
            last_billing_time: self.last_billing_time,
            next_billing_time: self.next_billing_time,
            current_period_start: self.current_period_start,
            current_period_end: self.current_period_end,
            retry_at: self.retry_at,
            due_at: self.due_at,
        }
    }

    pub fn total(&self) -> Option<u32> {
        self.total_billing_cycles
            .and_then(|t| u32::try_from(t).ok())
    }

    /// The row as it is after `schedule` is stored.
    pub fn with(&self, schedule: &Schedule) -> SubscriptionRow {
        SubscriptionRow {
            state: schedule.state.as_str().to_owned(),
            completed_billing_iteration: i64::from(schedule.completed_billing_iteration),
            last_billing_time: schedule.last_billing_time,
            next_billing_time: schedule.next_billing_time,
            current_period_start: schedule.current_period_start,
            current_period_end: schedule.current_period_end,
            retry_at: schedule.retry_at,
            due_at: schedule.due_at,
            ..self.clone()
        }
    }

    pub fn scope(&self) -> Scope<'_> {
        Scope {
            account_id: &self.account_id,
            environment: &self.environment,
        }
    }

    /// This subscription canceled `at` (its clock's time), nothing more to bill or retry.
    pub fn canceled(&self, at: i64, updated_at: i64) -> SubscriptionRow {
        SubscriptionRow {
            state: State::Canceled.as_str().to_owned(),
            canceled_at: Some(at),
            ended_at: Some(at),
            next_billing_time: None,
            due_at: None,
            retry_at: None,
            updated_at,
            ..self.clone()
        }
    }
}

fn time(at: Option<i64>) -> ApiResult<Option<String>> {
    at.map(iso).transpose()
}

pub fn render(row: &SubscriptionRow) -> ApiResult<Value> {
    let items = db::parse_json(Some(&row.items));
    let products: Vec<Value> = items
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| json!({"product_id": i["product_id"], "quantity": i["quantity"]}))
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({
        "id": row.id,
        "object": "subscription",
        "subscription_id": row.id,
        "customer_id": row.customer_id,
        "payment_method": row.payment_method_id,
        "token_id": row.payment_method_id,
        "items": items,
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
        "cancel_at_period_end": row.cancel_at_period_end == 1,
        "canceled_at": time(row.canceled_at)?,
        "ended_at": time(row.ended_at)?,
        "test_clock": row.test_clock_id,
        "checkout_session_id": row.checkout_session_id,
        "metadata": db::parse_json(row.metadata.as_deref()),
        "livemode": row.environment == "PRODUCTION",
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

/// What a subscription bills: items priced now, with one currency and one interval.
pub struct Plan {
    pub items: Value,
    pub currency: String,
    pub amount: i64,
    pub interval: Interval,
    pub interval_count: i64,
}

/// The plan of recurring line items; `param` names the list in errors.
pub fn plan(lines: &[LineItem], param: &str, sandbox: bool) -> ApiResult<Plan> {
    let first = lines
        .first()
        .ok_or_else(|| ApiError::invalid(param, "At least one item is needed."))?;
    let mut amount: i64 = 0;
    let mut items = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(interval) = line.interval.filter(|_| line.is_recurring()) else {
            return Err(ApiError::invalid(
                format!("{param}[{i}]"),
                "Subscriptions bill recurring prices only; this price is one-time.",
            ));
        };
        if !interval.allowed(sandbox) {
            return Err(ApiError::invalid(
                format!("{param}[{i}]"),
                "MINUTE and HOUR intervals exist only in SANDBOX.",
            ));
        }
        if line.currency != first.currency
            || line.interval != first.interval
            || line.interval_count != first.interval_count
        {
            return Err(ApiError::invalid(
                format!("{param}[{i}]"),
                "All items of a subscription share one currency and one billing interval.",
            ));
        }
        amount = line
            .amount
            .checked_mul(i64::from(line.quantity))
            .and_then(|a| a.checked_add(amount))
            .filter(|a| *a <= MAX_MINOR_UNITS)
            .ok_or_else(|| ApiError::invalid(param, "The subscription's amount is too large."))?;
        items.push(json!({
            "price_id": line.price_id,
            "product_id": line.product_id,
            "quantity": line.quantity,
            "unit_amount": line.amount,
            "name": line.name,
        }));
    }
    Ok(Plan {
        items: Value::Array(items),
        currency: first.currency.code().to_owned(),
        amount,
        interval: first.interval.unwrap_or(Interval::Month),
        interval_count: i64::from(first.interval_count.unwrap_or(1)),
    })
}

/// Items from `items: [{price_id, quantity}]` or the document's `products: [{product_id,
/// quantity}]` (each product's default price). `None` when neither was sent.
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
            return Err(ApiError::invalid(field, "This product has no price."));
        };
        let price = crate::catalog::prices::load(call, price_id, Some(&field)).await?;
        lines.push(price.line(quantity, Some(product.name))?);
    }
    for item in products {
        item.finish()?;
    }
    Ok(Some((lines, param)))
}

/// `payment_method`, `payment_method_id` or the document's `token_id`.
fn read_payment_method(p: &mut Params) -> Result<Option<(String, String)>, ParamError> {
    for field in ["payment_method", "payment_method_id", "token_id"] {
        if let Some(id) = p.string(field, 64)? {
            return Ok(Some((id, p.name(field))));
        }
    }
    Ok(None)
}

fn read_total(p: &mut Params) -> Result<Option<Option<i64>>, ParamError> {
    p.patch("total_billing_cycles", |p, f| p.integer(f, 1, 100_000))
}

fn read_start(p: &mut Params, now: i64) -> ApiResult<Option<i64>> {
    let Some(value) = p.raw("start_time") else {
        return Ok(None);
    };
    let at =
        parse_request_time(&value).map_err(|e| ApiError::invalid("start_time", e.to_string()))?;
    if at < now - START_SLACK_SECS || iso(at).is_err() {
        return Err(ApiError::invalid(
            "start_time",
            "start_time may not be in the past.",
        ));
    }
    Ok(Some(at.max(now)))
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let customer_id = p.required_string("customer_id", 64)?;
    let method = read_payment_method(&mut p)?;
    let lines = read_lines(call, &mut p).await?;
    let total = read_total(&mut p)?.flatten();
    let trial_days = p.integer("trial_days", 0, MAX_TRIAL_DAYS)?.unwrap_or(0);
    let metadata = p.metadata("metadata")?;
    let start_value = p.raw("start_time");
    p.finish()?;

    let customer = crate::billing::customers::load(call, &customer_id, Some("customer_id")).await?;
    let Some((method_id, method_param)) = method else {
        return Err(ApiError::invalid(
            "token_id",
            "A saved payment method is required (token_id or payment_method).",
        ));
    };
    crate::billing::payment_methods::load_usable(call, &method_id, &customer_id, &method_param)
        .await?;
    let Some((lines, param)) = lines else {
        return Err(ApiError::invalid(
            "products",
            "Send products: [{product_id, quantity}] or items: [{price_id, quantity}].",
        ));
    };
    let plan = plan(&lines, &param, call.sandbox())?;
    let now = now_for(call, customer.test_clock_id.as_deref()).await?;
    let start = match start_value {
        Some(value) => {
            let mut holder = Params::new(json!({ "start_time": value }))?;
            read_start(&mut holder, now)?.unwrap_or(now)
        }
        None => now,
    };
    let trial_end = (trial_days > 0).then(|| start + trial_days * 86_400);
    let first_billing = trial_end.unwrap_or(start);
    let state = if trial_end.is_some() {
        State::Trialing
    } else {
        State::Active
    };

    let principal = call.principal()?;
    let id = till_shared::ids::SubscriptionId::generate().to_string();
    let real_now = db::now_unix();
    let new = NewSubscription {
        id: &id,
        customer_id: &customer_id,
        payment_method_id: &method_id,
        plan: &plan,
        total,
        start,
        trial_end,
        anchor: first_billing,
        schedule: Schedule {
            state,
            completed_billing_iteration: 0,
            last_billing_time: None,
            next_billing_time: Some(first_billing),
            current_period_start: trial_end.map(|_| start),
            current_period_end: trial_end,
            retry_at: None,
            due_at: Some(first_billing),
        },
        test_clock_id: customer.test_clock_id.as_deref(),
        checkout_session_id: None,
        metadata: db::json_text(metadata.map(Value::Object).as_ref()),
    };
    let db = db::db(call.ctx)?;
    let scope = Scope {
        account_id: &principal.account_id,
        environment: principal.environment.as_str(),
    };
    let row = new.row(scope, real_now);
    db.batch(vec![
        new.insert(&db, &row, None)?,
        events::insert(
            &db,
            scope,
            Event {
                kind: "subscription.created",
                object_id: &id,
                data: &render(&row)?,
            },
            real_now,
            Guard::Always,
        )?,
        events::fan_out(&db, real_now)?,
    ])
    .await?;
    if first_billing <= now {
        biller::bill_now(&db, &id, Trigger::Creation, now).await?;
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::created(render(&load(call, &id).await?)?))
}

/// A subscription about to be stored, by the API or a SUBSCRIPTION checkout.
pub struct NewSubscription<'a> {
    pub id: &'a str,
    pub customer_id: &'a str,
    pub payment_method_id: &'a str,
    pub plan: &'a Plan,
    pub total: Option<i64>,
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
        SubscriptionRow {
            id: self.id.to_owned(),
            account_id: scope.account_id.to_owned(),
            environment: scope.environment.to_owned(),
            customer_id: self.customer_id.to_owned(),
            payment_method_id: Some(self.payment_method_id.to_owned()),
            items: self.plan.items.to_string(),
            currency: self.plan.currency.clone(),
            amount: self.plan.amount,
            interval: self.plan.interval.as_str().to_owned(),
            interval_count: self.plan.interval_count,
            total_billing_cycles: self.total,
            start_time: self.start,
            trial_end: self.trial_end,
            anchor_time: self.anchor,
            anchor_sequence: 1,
            state: s.state.as_str().to_owned(),
            completed_billing_iteration: i64::from(s.completed_billing_iteration),
            last_billing_time: s.last_billing_time,
            next_billing_time: s.next_billing_time,
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            retry_at: s.retry_at,
            due_at: s.due_at,
            cancel_at_period_end: 0,
            canceled_at: None,
            ended_at: None,
            test_clock_id: self.test_clock_id.map(str::to_owned),
            checkout_session_id: self.checkout_session_id.map(str::to_owned),
            metadata: self.metadata.clone(),
            created_at: now,
            updated_at: now,
            retry_schedule: None,
            final_state: None,
            processor_token: None,
            open_attempts: None,
            open_first_failed_at: None,
        }
    }

    /// The INSERT; with `held` (a checkout session id and its reservation token), only
    /// while that session still holds the reservation.
    pub fn insert(
        &self,
        db: &worker::D1Database,
        row: &SubscriptionRow,
        held: Option<(&str, &str)>,
    ) -> ApiResult<worker::D1PreparedStatement> {
        let mut values = vec![
            row.id.js(),
            row.account_id.js(),
            row.environment.js(),
            row.customer_id.js(),
            row.payment_method_id.js(),
            row.items.js(),
            row.currency.js(),
            row.amount.js(),
            row.interval.js(),
            row.interval_count.js(),
            row.total_billing_cycles.js(),
            row.start_time.js(),
            row.trial_end.js(),
            row.anchor_time.js(),
            row.state.js(),
            row.completed_billing_iteration.js(),
            row.last_billing_time.js(),
            row.next_billing_time.js(),
            row.current_period_start.js(),
            row.current_period_end.js(),
            row.due_at.js(),
            row.test_clock_id.js(),
            row.checkout_session_id.js(),
            row.metadata.js(),
            row.created_at.js(),
        ];
        let condition = match held {
            Some((session, token)) => {
                values.extend([session.js(), token.js()]);
                "EXISTS (SELECT 1 FROM checkout_sessions WHERE id = ?26 AND reservation = ?27)"
            }
            None => "1",
        };
        Ok(db
            .prepare(format!(
                "INSERT INTO subscriptions (id, account_id, environment, customer_id, payment_method_id, items, currency,
                     amount, interval, interval_count, total_billing_cycles, start_time, trial_end, anchor_time,
                     anchor_sequence, state, completed_billing_iteration, last_billing_time, next_billing_time,
                     current_period_start, current_period_end, due_at, test_clock_id, checkout_session_id, metadata,
                     created_at, updated_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 1, ?15, ?16, ?17, ?18, ?19, ?20,
                        ?21, ?22, ?23, ?24, ?25, ?25
                 WHERE {condition}"
            ))
            .bind(&values)?)
    }
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(&load(call, call.id()?).await?)?))
}

/// `subscription_id`, `customer_id`, `state`, with cursor or page paging.
pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    for (name, condition) in [
        ("subscription_id", "id = ?"),
        ("customer_id", "customer_id = ?"),
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
        filters.push(Filter::eq("state = ?", state.as_str()));
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

/// Items (from the next charge on; no proration), `quantity` (of a one-item
/// subscription), payment method, `total_billing_cycles`, `start_time` (before the first
/// charge), `cancel_at_period_end`, metadata.
pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id).await?;
    if !row.state().is_live() {
        return Err(ApiError::invalid(
            "id",
            format!(
                "This subscription is {}; it can no longer change.",
                row.state
            ),
        ));
    }
    let now = now_for(call, row.test_clock_id.as_deref()).await?;
    let mut p = call.params()?;
    let method = read_payment_method(&mut p)?;
    let lines = read_lines(call, &mut p).await?;
    let quantity = p.integer("quantity", 1, 999)?;
    let total = read_total(&mut p)?;
    let start = read_start(&mut p, now)?;
    let cancel_at_period_end = p.boolean("cancel_at_period_end")?;
    let metadata = crate::api::list::patch_metadata(&mut p, row.metadata.as_deref())?;
    p.finish()?;

    let mut updated = row.clone();
    if let Some((method_id, param)) = method {
        crate::billing::payment_methods::load_usable(call, &method_id, &row.customer_id, &param)
            .await?;
        updated.payment_method_id = Some(method_id);
    }
    let plan = match (lines, quantity) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "quantity",
                "Send items or quantity, not both.",
            ));
        }
        (Some((lines, param)), None) => Some((plan(&lines, &param, call.sandbox())?, param)),
        (None, Some(quantity)) => {
            let mut items: Vec<Value> = serde_json::from_str(&row.items)?;
            if items.len() != 1 {
                return Err(ApiError::invalid(
                    "quantity",
                    "quantity applies to one-item subscriptions; send items instead.",
                ));
            }
            items[0]["quantity"] = json!(quantity);
            let unit = items[0]["unit_amount"].as_i64().unwrap_or(0);
            Some((
                Plan {
                    items: Value::Array(items),
                    currency: row.currency.clone(),
                    amount: unit * quantity,
                    interval: row.cycle().interval,
                    interval_count: row.interval_count,
                },
                "quantity".to_owned(),
            ))
        }
        (None, None) => None,
    };
    if let Some((plan, param)) = plan {
        if plan.currency != row.currency
            || plan.interval.as_str() != row.interval
            || plan.interval_count != row.interval_count
        {
            return Err(ApiError::invalid(
                param,
                "New items must keep the subscription's currency and billing interval.",
            ));
        }
        updated.items = plan.items.to_string();
        updated.amount = plan.amount;
    }
    if let Some(total) = total {
        if total.is_some_and(|t| t < row.completed_billing_iteration.max(1)) {
            return Err(ApiError::invalid(
                "total_billing_cycles",
                format!(
                    "{} cycles were already billed.",
                    row.completed_billing_iteration
                ),
            ));
        }
        updated.total_billing_cycles = total;
    }
    if let Some(start) = start {
        if row.completed_billing_iteration > 0
            || !matches!(row.state(), State::Active | State::Trialing)
        {
            return Err(ApiError::invalid(
                "start_time",
                "start_time can change only before the first charge.",
            ));
        }
        let first = row
            .trial_end
            .map_or(start, |end| start + (end - row.start_time));
        updated.start_time = start;
        updated.trial_end = row.trial_end.map(|_| first);
        updated.anchor_time = first;
        updated.next_billing_time = Some(first);
        updated.due_at = Some(first);
    }
    if let Some(flag) = cancel_at_period_end {
        if !matches!(row.state(), State::Active | State::Trialing) && flag {
            return Err(ApiError::invalid(
                "cancel_at_period_end",
                "Only ACTIVE or TRIALING subscriptions cancel at period end; cancel this one now.",
            ));
        }
        updated.cancel_at_period_end = i64::from(flag);
    }
    updated.metadata = metadata;
    let real_now = db::now_unix();
    updated.updated_at = real_now;
    let db = db::db(call.ctx)?;
    let change = db.prepare(
                "UPDATE subscriptions SET payment_method_id = ?2, items = ?3, amount = ?4, total_billing_cycles = ?5,
                     start_time = ?6, trial_end = ?7, anchor_time = ?8, next_billing_time = ?9, due_at = ?10,
                     cancel_at_period_end = ?11, metadata = ?12, updated_at = ?13
                 WHERE id = ?1 AND claim IS NULL AND state = ?14 AND completed_billing_iteration = ?15",
            )
            .bind(&[
                id.js(),
                updated.payment_method_id.js(),
                updated.items.js(),
                updated.amount.js(),
                updated.total_billing_cycles.js(),
                updated.start_time.js(),
                updated.trial_end.js(),
                updated.anchor_time.js(),
                updated.next_billing_time.js(),
                updated.due_at.js(),
                updated.cancel_at_period_end.js(),
                updated.metadata.js(),
                real_now.js(),
                row.state.js(),
                row.completed_billing_iteration.js(),
            ])?;
    commit(
        call,
        &db,
        change,
        &row,
        "subscription.updated",
        &updated,
        real_now,
    )
    .await
}

/// Writes `change` (an UPDATE of `row` guarded by its state) with the `kind` event of the
/// subscription as it becomes (`after`), in one batch; the event is written only if the
/// UPDATE changed the row, else the answer is 409. Answers the subscription as stored.
async fn commit(
    call: &Call<'_>,
    db: &worker::D1Database,
    change: worker::D1PreparedStatement,
    row: &SubscriptionRow,
    kind: &str,
    after: &SubscriptionRow,
    now: i64,
) -> ApiResult<Reply> {
    let results = db
        .batch(vec![
            change,
            events::insert(
                db,
                row.scope(),
                Event {
                    kind,
                    object_id: &row.id,
                    data: &render(after)?,
                },
                now,
                Guard::Applied,
            )?,
            events::fan_out(db, now)?,
        ])
        .await?;
    if db::changes(&results, 0) != 1 {
        return Err(busy());
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(&load(call, &row.id).await?)?))
}

fn busy() -> ApiError {
    ApiError::conflict(
        "id",
        "The subscription is being billed right now; try again in a moment.",
    )
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
    if !row.state().is_live() {
        return Err(ApiError::invalid(
            "id",
            format!("This subscription is already {}.", row.state),
        ));
    }
    if at_period_end && !matches!(row.state(), State::Active | State::Trialing) {
        return Err(ApiError::invalid(
            "at_period_end",
            "Only ACTIVE or TRIALING subscriptions cancel at period end; cancel this one now.",
        ));
    }
    let real_now = db::now_unix();
    let now = now_for(call, row.test_clock_id.as_deref()).await?;
    let mut ended = if at_period_end {
        row.clone()
    } else {
        row.canceled(now, real_now)
    };
    let (sql, kind) = if at_period_end {
        ended.cancel_at_period_end = 1;
        (
            "UPDATE subscriptions SET cancel_at_period_end = 1, updated_at = ?2
             WHERE id = ?1 AND claim IS NULL AND state IN ('ACTIVE', 'TRIALING')",
            "subscription.updated",
        )
    } else {
        (
            "UPDATE subscriptions SET state = 'CANCELED', canceled_at = ?3, ended_at = ?3, next_billing_time = NULL,
                 due_at = NULL, retry_at = NULL, updated_at = ?2
             WHERE id = ?1 AND claim IS NULL AND state NOT IN ('CANCELED', 'COMPLETED')",
            "subscription.canceled",
        )
    };
    ended.updated_at = real_now;
    let db = db::db(call.ctx)?;
    let mut values = vec![id.js(), real_now.js()];
    if !at_period_end {
        values.push(now.js());
    }
    let change = db.prepare(sql).bind(&values)?;
    commit(call, &db, change, &row, kind, &ended, real_now).await
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
    if !row.state().retryable() {
        return Err(ApiError::invalid(
            "id",
            format!(
                "Only UNPAID, INCOMPLETE or PAST_DUE subscriptions can be retried; this one is {}.",
                row.state
            ),
        ));
    }
    let sequence = u32::try_from(row.completed_billing_iteration + 1).unwrap_or(1);
    let open = till_shared::billing::billing_order_id(&id, sequence);
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
    if !biller::bill_now(&db, &id, Trigger::Manual, now).await? {
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
            vec![Filter::eq("subscription_id = ?", id)],
            |row: biller::OrderRow| biller::render_order(&row),
        )
        .await?,
    ))
}
