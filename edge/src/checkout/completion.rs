//! Taking a payment for a session, in three D1 batches that the database keeps honest:
//!
//! 1. **reserve**: the session takes a reservation token (one holder at a time) — only
//!    while it still costs the amount this payment will charge, with the same promotion
//!    code, and while that code can still be used ([`RESERVABLE`]) — and the link's and
//!    promotion code's `reserved_count` go up. The tables' CHECK constraints refuse the
//!    batch when completions or redemptions would pass their limit, so a shopper over the
//!    limit is refused *before* being charged.
//! 2. the processor charges the card (outside D1);
//! 3. **complete** (order, payment, customer, event, counters, session COMPLETE) or, when
//!    nothing was charged, **release** (reservations returned, failed attempt counted). A
//!    charge whose completion D1 could not write keeps its reservation, its completion
//!    owed ([`Pending::owed`]) until a later request or the cron writes it. Every statement is
//!    conditional on the session still holding this reservation token
//!    ([`STILL_RESERVED`]), so a batch can only ever apply once.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use till_shared::billing::{Cycle, after_payment, billing_order_id};
use till_shared::checkout::{BillingAddress, Records, SessionStatus, records};
use till_shared::ids::{
    ChargeId, CustomerId, OrderId, PaymentId, PaymentMethodId, SetupIntentId, SubscriptionId,
    random_base62,
};
use till_shared::keys::Environment;
use till_shared::plan::{CheckoutMode, checkout_plan};
use worker::{D1Database, D1PreparedStatement};

use crate::billing::payment_methods::NewPaymentMethod;
use crate::billing::subscriptions::{NewSubscription, Plan, render as render_subscription};
use crate::checkout::sessions::{CheckoutSession, SessionRow, render};
use crate::db::events::{self, Event, Guard};
use crate::db::{self, Bind, Sql};
use crate::error::{ApiError, ApiResult};

/// The guard of every statement a payment writes after reserving: the session still holds
/// the payment's reservation token.
const STILL_RESERVED: &str = "EXISTS (SELECT 1 FROM checkout_sessions WHERE id = :held_session AND reservation = :held_token)";

/// The guard of a reservation: the session is open, not held by another payment and not
/// past its expiry; it still costs `:total` with promotion code `:code` (what the payment
/// read, and will charge and record: a code applied meanwhile changes neither); and its
/// code, if any, is still active, unexpired and not fully redeemed at `:now`.
const RESERVABLE: &str = "status = 'OPEN' AND reservation IS NULL AND expires_at > :now
     AND amount_total = :total AND promotion_code IS :code
     AND (promotion_code IS NULL OR EXISTS (SELECT 1 FROM promotion_codes p
          WHERE p.account_id = checkout_sessions.account_id AND p.environment = checkout_sessions.environment
            AND p.code_key = upper(checkout_sessions.promotion_code) AND p.active = 1
            AND (p.expires_at IS NULL OR p.expires_at > :now)
            AND (p.max_redemptions IS NULL OR p.times_redeemed + p.reserved_count < p.max_redemptions)))";

/// A payment's hold on its session.
pub struct Reservation<'a> {
    pub session: &'a CheckoutSession,
    pub token: &'a str,
}

impl Reservation<'_> {
    /// [`STILL_RESERVED`], for an event.
    fn guard(&self) -> Guard<'_> {
        Guard::When(
            STILL_RESERVED,
            vec![
                ("held_session", self.session.id.as_str().js()),
                ("held_token", self.token.js()),
            ],
        )
    }

    /// Binds [`STILL_RESERVED`]'s names in a statement that uses it.
    fn bind(&self, sql: Sql) -> Sql {
        sql.bind("held_session", self.session.id.as_str())
            .bind("held_token", self.token)
    }

    /// The session's id and token, as the billing area's INSERTs take their guard.
    fn held(&self) -> Option<(&str, &str)> {
        Some((self.session.id.as_str(), self.token))
    }
}

/// How a reservation attempt ended.
pub enum Reserved {
    Token(String),
    /// Someone else holds the session (a double submit), or it is no longer open.
    Busy,
    /// A limit would be passed: the link is sold out.
    Exhausted,
    /// The link was deactivated or deleted meanwhile.
    Inactive,
    /// The session's total or code changed since the payment read it (a code applied at
    /// the same moment): nothing is charged, the shopper sees the new total.
    Changed,
    /// The session's promotion code was deactivated, expired or fully redeemed after it
    /// was put on the session: nothing is charged.
    PromotionUnusable,
}

/// The link's and the promotion code's counters, moved by `link_set` and `code_set`
/// while the reservation holds.
fn counters(
    db: &D1Database,
    held: &Reservation<'_>,
    link_set: &str,
    code_set: &str,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let session = held.session;
    let mut statements = Vec::new();
    if let Some(link) = &session.payment_link_id {
        let sql = Sql::new(&format!(
            "UPDATE payment_links SET {link_set} WHERE id = :link AND {STILL_RESERVED}"
        ))
        .bind("link", link.as_str());
        statements.push(held.bind(sql).prepare(db)?);
    }
    if let Some(code) = &session.promotion_code {
        let sql = Sql::new(&format!(
            "UPDATE promotion_codes SET {code_set}
             WHERE code_key = :code AND account_id = :account AND environment = :environment
               AND {STILL_RESERVED}"
        ))
        .bind("code", code.to_ascii_uppercase())
        .bind("account", session.account_id.as_str())
        .bind("environment", session.environment.as_str());
        statements.push(held.bind(sql).prepare(db)?);
    }
    Ok(statements)
}

/// Takes the session's reservation and counts it against the link and the code.
pub async fn reserve(db: &D1Database, session: &CheckoutSession) -> ApiResult<Reserved> {
    let token = random_base62(24);
    let now = db::now_unix();
    let held = Reservation {
        session,
        token: &token,
    };
    let mut statements = vec![
        Sql::new(&format!(
            "UPDATE checkout_sessions SET reservation = :token, reserved_at = :now
             WHERE id = :id AND {RESERVABLE}"
        ))
        .bind("token", token.as_str())
        .bind("id", session.id.as_str())
        .bind("total", session.amounts.total)
        .bind("code", session.promotion_code.clone())
        .bind("now", now)
        .prepare(db)?,
    ];
    let plus_one = "reserved_count = reserved_count + 1";
    statements.extend(counters(db, &held, plus_one, plus_one)?);
    let results = match db.batch(statements).await {
        Ok(results) => results,
        Err(error) if error.to_string().contains("CHECK constraint failed") => {
            return Ok(Reserved::Exhausted);
        }
        Err(error) => return Err(error.into()),
    };
    if db::changes(&results, 0) != 1 {
        return why_not_reserved(db, session).await;
    }
    // The link must still be payable: a deactivation after the visit wins.
    if !link_still_payable(db, session).await? {
        release(db, &held, None).await?;
        return Ok(Reserved::Inactive);
    }
    Ok(Reserved::Token(token))
}

/// Why [`RESERVABLE`] did not hold, from the session as D1 has it now: its total or code
/// changed, its code can no longer be used, or it is held, closed or expired (busy).
async fn why_not_reserved(db: &D1Database, session: &CheckoutSession) -> ApiResult<Reserved> {
    #[derive(serde::Deserialize)]
    struct Now {
        amount_total: i64,
        promotion_code: Option<String>,
        open: i64,
        reservable: i64,
    }
    let now: Option<Now> = Sql::new(&format!(
        "SELECT amount_total, promotion_code,
                (status = 'OPEN' AND reservation IS NULL AND expires_at > :now) AS open,
                (SELECT count(*) FROM checkout_sessions WHERE id = :id AND {RESERVABLE}) AS reservable
         FROM checkout_sessions WHERE id = :id"
    ))
    .bind("id", session.id.as_str())
    .bind("total", session.amounts.total)
    .bind("code", session.promotion_code.clone())
    .bind("now", db::now_unix())
    .prepare(db)?
    .first(None)
    .await?;
    Ok(match now {
        Some(now)
            if now.amount_total != session.amounts.total
                || now.promotion_code != session.promotion_code =>
        {
            Reserved::Changed
        }
        Some(now) if now.open == 1 && now.reservable == 0 && now.promotion_code.is_some() => {
            Reserved::PromotionUnusable
        }
        _ => Reserved::Busy,
    })
}

/// Whether the session's link (if any) is active and not deleted, in D1 now.
async fn link_still_payable(db: &D1Database, session: &CheckoutSession) -> ApiResult<bool> {
    let Some(link) = &session.payment_link_id else {
        return Ok(true);
    };
    let payable: Option<i64> =
        Sql::new("SELECT active * (1 - deleted) AS payable FROM payment_links WHERE id = :link")
            .bind("link", link.as_str())
            .prepare(db)?
            .first(Some("payable"))
            .await?;
    Ok(payable == Some(1))
}

/// Gives the reservation back. A failed charge (`failure`: the `payment.failed` event's
/// data) counts against the session's attempts and is an event in the same batch.
pub async fn release(
    db: &D1Database,
    held: &Reservation<'_>,
    failure: Option<&Value>,
) -> ApiResult<()> {
    let minus_one = "reserved_count = reserved_count - 1";
    let mut statements = counters(db, held, minus_one, minus_one)?;
    let now = db::now_unix();
    if let Some(data) = failure {
        // Before the session lets go of the reservation, while the event's guard holds.
        let event = Event {
            kind: "payment.failed",
            object_id: held.session.id.as_str(),
            data,
        };
        statements.push(events::insert(
            db,
            held.session.scope(),
            event,
            now,
            held.guard(),
        )?);
        statements.push(events::fan_out(db, now)?);
    }
    statements.push(
        Sql::new(
            "UPDATE checkout_sessions SET reservation = NULL, reserved_at = NULL, pending_payment = NULL,
                 failed_attempts = failed_attempts + :failed
             WHERE id = :id AND reservation = :token",
        )
        .bind("failed", i64::from(failure.is_some()))
        .bind("id", held.session.id.as_str())
        .bind("token", held.token)
        .prepare(db)?,
    );
    db.batch(statements).await?;
    Ok(())
}

/// What may be kept of a card: never its number or CVC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardFacts {
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
    /// The processor's token of this charge attempt.
    pub token: String,
    /// SETUP and SUBSCRIPTION: the processor's token of the card saved for later charges.
    #[serde(default)]
    pub saved_token: Option<String>,
    /// Who took it, as `payments.processor` names it (`sandbox`, `stripe`).
    #[serde(default = "sandbox")]
    pub processor: String,
}

fn sandbox() -> String {
    "sandbox".to_owned()
}

impl CardFacts {
    /// The card as payments, payment methods and their events show it.
    pub fn shown(&self) -> Value {
        json!({"brand": self.brand, "last4": self.last4, "exp_month": self.exp_month, "exp_year": self.exp_year})
    }
}

/// What the shopper gave, kept with a payment until it completes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shopper {
    pub email: String,
    /// As typed; empty when not given.
    pub name: String,
    /// The answers to the link's questions.
    pub custom_fields: Value,
    #[serde(default)]
    pub billing_address: Option<BillingAddress>,
}

impl Shopper {
    fn name(&self) -> Option<&str> {
        Some(self.name.as_str()).filter(|n| !n.is_empty())
    }

    fn billing_address(&self) -> ApiResult<Option<Value>> {
        Ok(self
            .billing_address
            .as_ref()
            .map(serde_json::to_value)
            .transpose()?)
    }
}

/// A payment the session holds between its charge and its completion, as
/// `pending_payment` stores it: the card's facts, the shopper's, and the reservation the
/// payment holds. Either waiting for the shopper's 3-D Secure answer (`charged` false), or
/// charged already with its completion still owed (`charged` true), because D1 could not
/// write it at the time: such a payment keeps its reservation until it completes, by the
/// shopper's next visit or by the cron ([`complete_owed`]), and is never given back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    #[serde(flatten)]
    pub card: CardFacts,
    #[serde(flatten)]
    pub shopper: Shopper,
    pub reservation: String,
    #[serde(default)]
    pub charged: bool,
}

impl Pending {
    /// What the session holds, if it holds a payment.
    pub fn of(session: &CheckoutSession) -> Option<Pending> {
        session
            .pending_payment
            .clone()
            .and_then(|held| serde_json::from_value::<Pending>(held).ok())
            .filter(|p| !p.reservation.is_empty())
    }

    /// The same, when it is a charged payment whose completion is owed.
    pub fn owed(session: &CheckoutSession) -> Option<Pending> {
        Pending::of(session).filter(|p| p.charged)
    }
}

/// Keeps the payment (never the card number) on its session while the reservation holds:
/// while the shopper answers a 3-D Secure challenge, or once charged until it completes.
pub async fn keep_pending(
    db: &D1Database,
    held: &Reservation<'_>,
    pending: &Pending,
) -> ApiResult<()> {
    let kept = Sql::new("UPDATE checkout_sessions SET pending_payment = :pending WHERE id = :id AND reservation = :token")
        .bind("pending", serde_json::to_string(pending)?)
        .bind("id", held.session.id.as_str())
        .bind("token", held.token)
        .prepare(db)?;
    if db::run(kept).await? != 1 {
        return Err(ApiError::internal(
            "the payment no longer holds its session",
        ));
    }
    Ok(())
}

/// Completes a charged payment whose completion is owed ([`Pending::owed`]), at `origin`
/// (the session's own when there is no request). `None` when the session owes none.
pub async fn complete_owed(
    db: &D1Database,
    session: &CheckoutSession,
    origin: &str,
) -> ApiResult<Option<CheckoutSession>> {
    let Some(owed) = Pending::owed(session) else {
        return Ok(None);
    };
    let held = Reservation {
        session,
        token: &owed.reservation,
    };
    complete(db, &held, &owed.shopper, &owed.card, origin)
        .await
        .map(Some)
}

/// The sessions that owe a completion and whose shopper has not come back for it within
/// `grace` seconds, oldest first, at most `limit`.
pub async fn owing(
    db: &D1Database,
    now: i64,
    grace: i64,
    limit: i64,
) -> ApiResult<Vec<CheckoutSession>> {
    let rows: Vec<SessionRow> = Sql::new(
        "SELECT * FROM checkout_sessions
         WHERE status = 'OPEN' AND reservation IS NOT NULL AND reserved_at < :before
           AND json_extract(pending_payment, '$.charged') = 1
         ORDER BY reserved_at LIMIT :limit",
    )
    .bind("before", now - grace)
    .bind("limit", limit)
    .prepare(db)?
    .all()
    .await?
    .results()?;
    rows.into_iter().map(|row| row.parse()).collect()
}

/// What a SUBSCRIPTION session's subscription bills: its recurring lines (one-time lines
/// are charged with the first payment only). `None` when they make no plan.
fn subscription_plan(session: &CheckoutSession) -> Option<Plan> {
    let sandbox = session.environment == Environment::Sandbox;
    let plan = checkout_plan(&session.lines, sandbox).ok()?;
    Some(Plan::from(plan))
}

/// The ids of what a completion creates.
struct Created {
    customer: Option<String>,
    order: Option<String>,
    payment: Option<String>,
    payment_method: Option<String>,
    subscription: Option<String>,
    setup_intent: String,
}

impl Created {
    fn new(records: Records) -> Created {
        Created {
            customer: records.customer.then(|| CustomerId::generate().to_string()),
            order: records.order.then(|| OrderId::generate().to_string()),
            payment: records.order.then(|| PaymentId::generate().to_string()),
            payment_method: records
                .payment_method
                .then(|| PaymentMethodId::generate().to_string()),
            subscription: None,
            setup_intent: SetupIntentId::generate().to_string(),
        }
    }
}

/// The session as a completion leaves it.
fn completed(
    session: &CheckoutSession,
    shopper: &Shopper,
    ids: &Created,
    now: i64,
) -> CheckoutSession {
    let setup_intent_id = match session.mode {
        CheckoutMode::Setup => Some(ids.setup_intent.clone()),
        _ => session.setup_intent_id.clone(),
    };
    CheckoutSession {
        status: SessionStatus::Complete,
        completed_at: Some(now),
        order_id: ids.order.clone(),
        customer_id: ids.customer.clone(),
        customer_email: Some(shopper.email.clone()),
        customer_name: shopper.name().map(str::to_owned),
        setup_intent_id,
        subscription_id: ids.subscription.clone(),
        pending_payment: None,
        ..session.clone()
    }
}

/// The statements of one completion, each written only while the reservation holds.
struct Writes<'a> {
    db: &'a D1Database,
    held: &'a Reservation<'a>,
    now: i64,
    statements: Vec<D1PreparedStatement>,
}

impl Writes<'_> {
    fn push(&mut self, sql: Sql) -> ApiResult<()> {
        self.statements.push(self.held.bind(sql).prepare(self.db)?);
        Ok(())
    }

    fn event(&mut self, kind: &str, object_id: &str, data: &Value) -> ApiResult<()> {
        let event = Event {
            kind,
            object_id,
            data,
        };
        let scope = self.held.session.scope();
        let guard = self.held.guard();
        self.statements
            .push(events::insert(self.db, scope, event, self.now, guard)?);
        Ok(())
    }
}

/// Completes the session in one batch: the customer, order, payment, saved card and
/// subscription its mode needs ([`records`]), their events, and the session COMPLETE.
/// A subscription's plan is its recurring lines; when they make none, no subscription is
/// made. Answers the session as it is now; its `checkout.completed` carries it as
/// rendered at `origin`.
pub async fn complete(
    db: &D1Database,
    held: &Reservation<'_>,
    shopper: &Shopper,
    card: &CardFacts,
    origin: &str,
) -> ApiResult<CheckoutSession> {
    let session = held.session;
    let now = db::now_unix();
    let records = records(
        session.mode,
        session.customer_creation,
        card.saved_token.is_some(),
    );
    let plan = records
        .subscription
        .then(|| subscription_plan(session))
        .flatten();
    let mut ids = Created::new(records);
    let mut writes = Writes {
        db,
        held,
        now,
        statements: counters(
            db,
            held,
            "reserved_count = reserved_count - 1, completed_count = completed_count + 1",
            "reserved_count = reserved_count - 1, times_redeemed = times_redeemed + 1",
        )?,
    };
    if let Some(customer) = &ids.customer {
        insert_customer(&mut writes, customer, shopper)?;
    }
    if let Some(order) = &ids.order {
        insert_order(&mut writes, order, ids.customer.as_deref(), shopper)?;
    }
    if let (Some(method), Some(customer)) = (&ids.payment_method, &ids.customer) {
        attach_card(&mut writes, method, customer, card)?;
        if let Some(plan) = &plan {
            ids.subscription = Some(first_period(&mut writes, plan, customer, method, card)?);
        }
    }
    if let (Some(order), Some(payment)) = (&ids.order, &ids.payment) {
        insert_payment(&mut writes, payment, order, &ids, card)?;
    }
    let after = completed(session, shopper, &ids, now);
    writes.event(
        "checkout.completed",
        session.id.as_str(),
        &render(&after, origin)?,
    )?;
    completion_events(&mut writes, &ids, shopper, card)?;
    writes.statements.push(events::fan_out(db, now)?);
    writes.statements.push(mark_complete(db, held, &after)?);
    let results = db.batch(writes.statements).await?;
    if db::changes(&results, results.len().saturating_sub(1)) != 1 {
        return Err(ApiError::internal(
            "completion batch ran without holding the reservation",
        ));
    }
    Ok(after)
}

/// The last statement of a completion: the session as [`completed`] made it, and the
/// reservation let go.
fn mark_complete(
    db: &D1Database,
    held: &Reservation<'_>,
    after: &CheckoutSession,
) -> ApiResult<D1PreparedStatement> {
    Sql::new(
        "UPDATE checkout_sessions SET status = 'COMPLETE', completed_at = :completed_at, order_id = :order,
             customer_id = :customer, customer_email = :email, customer_name = :name, reservation = NULL,
             pending_payment = NULL, setup_intent_id = :setup_intent, subscription_id = :subscription
         WHERE id = :id AND reservation = :token",
    )
    .bind("completed_at", after.completed_at)
    .bind("order", after.order_id.clone())
    .bind("customer", after.customer_id.clone())
    .bind("email", after.customer_email.clone())
    .bind("name", after.customer_name.clone())
    .bind("setup_intent", after.setup_intent_id.clone())
    .bind("subscription", after.subscription_id.clone())
    .bind("id", after.id.as_str())
    .bind("token", held.token)
    .prepare(db)
}

fn insert_customer(writes: &mut Writes<'_>, customer: &str, shopper: &Shopper) -> ApiResult<()> {
    let session = writes.held.session;
    writes.push(
        Sql::new(&format!(
            "INSERT INTO customers (id, customer_id, account_id, environment, email, name, created_at, updated_at)
             SELECT :customer, :customer, :account, :environment, :email, :name, :now, :now
             WHERE {STILL_RESERVED}"
        ))
        .bind("customer", customer)
        .bind("account", session.account_id.as_str())
        .bind("environment", session.environment.as_str())
        .bind("email", shopper.email.as_str())
        .bind("name", shopper.name())
        .bind("now", writes.now),
    )
}

fn insert_order(
    writes: &mut Writes<'_>,
    order: &str,
    customer: Option<&str>,
    shopper: &Shopper,
) -> ApiResult<()> {
    let session = writes.held.session;
    writes.push(
        Sql::new(&format!(
            "INSERT INTO orders (id, account_id, environment, checkout_session_id, payment_link_id, currency,
                 amount_subtotal, amount_discount, amount_total, promotion_code, customer_id, customer_email,
                 customer_name, custom_fields, billing_address, status, created_at)
             SELECT :order, :account, :environment, :session, :link, :currency, :subtotal, :discount, :total,
                    :promotion_code, :customer, :email, :name, :custom_fields, :billing_address, 'PAID', :now
             WHERE {STILL_RESERVED}"
        ))
        .bind("order", order)
        .bind("account", session.account_id.as_str())
        .bind("environment", session.environment.as_str())
        .bind("session", session.id.as_str())
        .bind("link", session.payment_link_id.clone())
        .bind("currency", session.currency.code())
        .bind("subtotal", session.amounts.subtotal)
        .bind("discount", session.amounts.discount)
        .bind("total", session.amounts.total)
        .bind("promotion_code", session.promotion_code.clone())
        .bind("customer", customer)
        .bind("email", shopper.email.as_str())
        .bind("name", shopper.name())
        .bind("custom_fields", shopper.custom_fields.to_string())
        .bind(
            "billing_address",
            db::json_text(shopper.billing_address()?.as_ref()),
        )
        .bind("now", writes.now),
    )
}

/// The order's payment, with its receipt key; it names the subscription the payment
/// started, if any.
fn insert_payment(
    writes: &mut Writes<'_>,
    payment: &str,
    order: &str,
    ids: &Created,
    card: &CardFacts,
) -> ApiResult<()> {
    let session = writes.held.session;
    writes.push(
        Sql::new(&format!(
            "INSERT INTO payments (id, account_id, environment, order_id, checkout_session_id, payment_link_id,
                 subscription_id, customer_id, amount, currency, status, card_brand, card_last4, card_exp_month,
                 card_exp_year, processor, processor_token, receipt_key, created_at, updated_at)
             SELECT :payment, :account, :environment, :order, :session, :link, :subscription, :customer, :amount,
                    :currency, 'SUCCEEDED', :brand, :last4, :exp_month, :exp_year, :processor, :token, :receipt,
                    :now, :now
             WHERE {STILL_RESERVED}"
        ))
        .bind("payment", payment)
        .bind("account", session.account_id.as_str())
        .bind("environment", session.environment.as_str())
        .bind("order", order)
        .bind("session", session.id.as_str())
        .bind("link", session.payment_link_id.clone())
        .bind("subscription", ids.subscription.clone())
        .bind("customer", ids.customer.clone())
        .bind("receipt", till_shared::ids::receipt_key())
        .bind("processor", card.processor.as_str())
        .bind("amount", session.amounts.total)
        .bind("currency", session.currency.code())
        .bind("brand", card.brand.as_str())
        .bind("last4", card.last4.as_str())
        .bind("exp_month", i64::from(card.exp_month))
        .bind("exp_year", i64::from(card.exp_year))
        .bind("token", card.token.as_str())
        .bind("now", writes.now),
    )
}

/// The saved card, attached to the new customer, and its event.
fn attach_card(
    writes: &mut Writes<'_>,
    method: &str,
    customer: &str,
    card: &CardFacts,
) -> ApiResult<()> {
    let session = writes.held.session;
    let shown = card.shown();
    let new = NewPaymentMethod {
        id: method,
        scope: session.scope(),
        customer_id: customer,
        card: &shown,
        token: card.saved_token.as_deref().unwrap_or_default(),
        checkout_session_id: Some(session.id.as_str()),
        now: writes.now,
    };
    writes
        .statements
        .push(new.insert(writes.db, writes.held.held())?);
    let data = json!({"id": method, "object": "payment_method", "type": "card", "customer_id": customer,
        "card": shown, "checkout_session_id": session.id.as_str()});
    writes.event("payment_method.attached", method, &data)
}

/// The events after `checkout.completed`: the payment and the new customer.
fn completion_events(
    writes: &mut Writes<'_>,
    ids: &Created,
    shopper: &Shopper,
    card: &CardFacts,
) -> ApiResult<()> {
    let session = writes.held.session;
    if let (Some(order), Some(payment)) = (&ids.order, &ids.payment) {
        let data = json!({
            "id": payment,
            "object": "payment",
            "status": "SUCCEEDED",
            "amount": session.amounts.total,
            "currency": session.currency.code(),
            "card": card.shown(),
            "order_id": order,
            "checkout_session_id": session.id.as_str(),
            "payment_link": session.payment_link_id,
        });
        writes.event("payment.succeeded", payment, &data)?;
    }
    if let Some(customer) = &ids.customer {
        let data = json!({"id": customer, "object": "customer", "email": shopper.email, "name": shopper.name()});
        writes.event("customer.created", customer, &data)?;
    }
    Ok(())
}

/// A SUBSCRIPTION checkout's subscription, whose first period this payment paid: the
/// subscription, its billing order 0001 and the charge, with their events. Answers the
/// subscription id.
fn first_period(
    writes: &mut Writes<'_>,
    plan: &Plan,
    customer: &str,
    method: &str,
    card: &CardFacts,
) -> ApiResult<String> {
    let session = writes.held.session;
    let now = writes.now;
    let id = SubscriptionId::generate().to_string();
    let cycle = Cycle {
        anchor: now,
        anchor_sequence: 1,
        interval: plan.interval,
        interval_count: u32::try_from(plan.interval_count).unwrap_or(1),
    };
    let schedule = after_payment(&cycle, 1, None)
        .ok_or_else(|| ApiError::internal("billing time out of range"))?;
    let new = NewSubscription {
        id: &id,
        customer_id: customer,
        payment_method_id: method,
        plan,
        total: None,
        start: now,
        trial_end: None,
        anchor: now,
        schedule,
        test_clock_id: None,
        checkout_session_id: Some(session.id.as_str()),
        metadata: None,
    };
    let row = new.row(session.scope(), now);
    writes
        .statements
        .push(new.insert(writes.db, &row, writes.held.held())?);
    let order = billing_order_id(&id, 1);
    first_charge(
        writes,
        plan,
        &id,
        &order,
        method,
        card,
        schedule.current_period_end.unwrap_or(now),
    )?;
    writes.event("subscription.created", &id, &render_subscription(&row)?)?;
    let data = json!({
        "id": order, "object": "billing_order", "subscription_order_id": order, "subscription_id": id,
        "trigger_by": "auto", "sequence_no": 1, "amount": plan.amount, "currency": plan.currency, "status": "PAID",
        "attempts": 1,
    });
    writes.event("billing_order.paid", &order, &data)?;
    Ok(id)
}

/// The first period's billing order, paid, and its successful charge.
fn first_charge(
    writes: &mut Writes<'_>,
    plan: &Plan,
    subscription: &str,
    order: &str,
    method: &str,
    card: &CardFacts,
    period_end: i64,
) -> ApiResult<()> {
    let session = writes.held.session;
    writes.push(
        Sql::new(&format!(
            "INSERT INTO billing_orders (id, account_id, environment, subscription_id, sequence_no, trigger_by,
                 amount, currency, status, billing_time, period_start, period_end, attempts, paid_at, created_at,
                 updated_at)
             SELECT :order, :account, :environment, :subscription, 1, 'auto', :amount, :currency, 'PAID', :now,
                    :now, :period_end, 1, :now, :now, :now
             WHERE {STILL_RESERVED}"
        ))
        .bind("order", order)
        .bind("account", session.account_id.as_str())
        .bind("environment", session.environment.as_str())
        .bind("subscription", subscription)
        .bind("amount", plan.amount)
        .bind("currency", plan.currency.as_str())
        .bind("now", writes.now)
        .bind("period_end", period_end),
    )?;
    writes.push(
        Sql::new(&format!(
            "INSERT INTO charges (id, account_id, environment, billing_order_id, attempt, trigger_by, amount,
                 currency, status, payment_method_id, processor_token, created_at)
             SELECT :charge, :account, :environment, :order, 1, 'auto', :amount, :currency, 'SUCCEEDED',
                    :method, :token, :now
             WHERE {STILL_RESERVED}"
        ))
        .bind("charge", ChargeId::generate().to_string())
        .bind("account", session.account_id.as_str())
        .bind("environment", session.environment.as_str())
        .bind("order", order)
        .bind("amount", plan.amount)
        .bind("currency", plan.currency.as_str())
        .bind("method", method)
        .bind("token", card.token.as_str())
        .bind("now", writes.now),
    )
}
