//! Saved payment methods: cards kept for charges made without the shopper (renewals). What
//! is stored is brand, last4, expiry and the processor's token, never the number. SETUP and
//! SUBSCRIPTION checkouts save them; in SANDBOX only, `POST /v1/payment_methods` also takes
//! a test card directly, so scripts can set up subscriptions without a browser.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::api::ErrorCode;
use till_shared::card::{CardError, CheckedCard, check_card};
use till_shared::keys::Environment;
use worker::{D1Database, D1PreparedStatement};

use crate::accounts::processor;
use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Sql};
use crate::error::{ApiError, ApiResult};
use crate::processor::Sandbox;

#[derive(Deserialize, Clone)]
pub struct PaymentMethodRow {
    pub id: String,
    pub environment: Environment,
    pub customer_id: String,
    pub card_brand: String,
    pub card_last4: String,
    pub card_exp_month: i64,
    pub card_exp_year: i64,
    pub checkout_session_id: Option<String>,
    pub detached_at: Option<i64>,
    pub created_at: i64,
}

pub fn render(row: PaymentMethodRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "payment_method",
        "type": "card",
        "customer_id": row.customer_id,
        "card": {
            "brand": row.card_brand,
            "last4": row.card_last4,
            "exp_month": row.card_exp_month,
            "exp_year": row.card_exp_year,
        },
        "checkout_session_id": row.checkout_session_id,
        "detached": row.detached_at.is_some(),
        "livemode": row.environment == Environment::Production,
        "created_at": iso(row.created_at)?,
    }))
}

pub async fn load(call: &Call<'_>, id: &str, param: Option<&str>) -> ApiResult<PaymentMethodRow> {
    db::find(call.ctx, "payment_methods", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment method", id, param))
}

/// A payment method that can be charged for `customer_id`: attached to that customer.
pub async fn load_usable(
    call: &Call<'_>,
    id: &str,
    customer_id: &str,
    param: &str,
) -> ApiResult<PaymentMethodRow> {
    let method = load(call, id, Some(param)).await?;
    if method.detached_at.is_some() {
        return Err(ApiError::invalid(
            param,
            "This payment method was detached.",
        ));
    }
    if method.customer_id != customer_id {
        return Err(ApiError::invalid(
            param,
            format!("This payment method belongs to another customer, not `{customer_id}`."),
        ));
    }
    Ok(method)
}

/// The card part of `card` as a saved card is stored: brand, last4, expiry.
fn card_facts(card: &CheckedCard) -> Value {
    json!({
        "brand": card.brand.as_str(),
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
    })
}

/// A test card as sent: `card: {number, exp_month, exp_year, cvc}`.
struct CardInput {
    number: String,
    exp_month: Option<i64>,
    exp_year: Option<i64>,
    cvc: String,
}

fn read_card(p: &mut till_shared::params::Params) -> ApiResult<CardInput> {
    let mut card = p.object("card")?.ok_or_else(|| {
        ApiError::invalid(
            "card",
            "card is required: {number, exp_month, exp_year, cvc}.",
        )
    })?;
    let input = CardInput {
        number: card.required_string("number", 32)?,
        exp_month: card.integer("exp_month", 1, 12)?,
        exp_year: card.integer("exp_year", 2000, 2100)?,
        cvc: card.required_string("cvc", 4)?,
    };
    card.finish()?;
    Ok(input)
}

impl CardInput {
    /// The card checked ([`check_card`]); errors name the field at fault.
    fn check(&self) -> ApiResult<CheckedCard> {
        let (Some(exp_month), Some(exp_year)) = (self.exp_month, self.exp_year) else {
            return Err(ApiError::invalid(
                "card.exp_month",
                "card.exp_month and card.exp_year are required.",
            ));
        };
        let today = till_shared::time::month_and_year(db::now_unix());
        let expiry = format!("{exp_month:02}/{exp_year}");
        check_card(&self.number, &expiry, &self.cvc, today).map_err(|e| match e {
            // A number or CVC that is not one is a malformed request; a well-formed card
            // past (or implausibly far from) its expiry is declined, as processors do.
            CardError::InvalidNumber | CardError::InvalidCvc => ApiError::invalid(
                if e == CardError::InvalidNumber {
                    "card.number"
                } else {
                    "card.cvc"
                },
                format!("The card was refused: {}.", e.code()),
            ),
            CardError::InvalidExpiry | CardError::Expired => ApiError::Client {
                code: ErrorCode::CardDeclined,
                message: format!("The card was declined: {}.", e.code()),
                param: Some("card.exp_year".to_owned()),
            },
        })
    }
}

/// `POST /v1/payment_methods` (SANDBOX): `customer_id` and `card: {number, exp_month,
/// exp_year, cvc}`.
pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let customer_id = p.required_string("customer_id", 64)?;
    // A Stripe PaymentMethod (Stripe connected), else a test card (the sandbox).
    p.forget_nulls(&["card", "payment_method"]);
    if p.sent("card") && p.sent("payment_method") {
        return Err(ApiError::invalid(
            "payment_method",
            "Send `card` or `payment_method`, not both.",
        ));
    }
    let source = match p.string("payment_method", 100)? {
        Some(method) => Err(method),
        None => Ok(read_card(&mut p)?),
    };
    p.finish()?;
    let customer = crate::billing::customers::load(call, &customer_id, Some("customer_id")).await?;
    let principal = call.principal()?;
    let db = db::db(call.ctx)?;
    let stripe = processor::connection(
        &call.ctx.env,
        &db,
        &principal.account_id,
        principal.environment.as_str(),
    )
    .await?
    .map(|c| c.stripe);
    let (facts, token) = match (source, stripe) {
        (Ok(_), Some(_)) => {
            return Err(ApiError::invalid(
                "card",
                "This environment charges through its Stripe account: send `payment_method`, the id of a PaymentMethod Stripe's own fields made, never a card number.",
            ));
        }
        (Ok(_), None) if !call.sandbox() => {
            return Err(ApiError::forbidden(
                "Card numbers are refused over the API in PRODUCTION; save cards through a SETUP checkout.",
            ));
        }
        (Ok(card), None) => {
            let checked = card.check()?;
            let token = Sandbox
                .save(&checked)
                .await
                .map_err(|code| refused_card(&format!("The card could not be saved: {code}.")))?;
            (card_facts(&checked), token)
        }
        (Err(method), Some(stripe)) => {
            let Ok(Some(card)) = stripe.card_of(&method).await else {
                return Err(ApiError::not_found(
                    "Stripe PaymentMethod",
                    &method,
                    Some("payment_method"),
                ));
            };
            let email = customer.email.clone().unwrap_or_default();
            let token = stripe
                .keep_card(&email, &method, &format!("till-{customer_id}-{method}"))
                .await
                .map_err(|_| refused_card("Stripe could not keep the card for this customer."))?;
            let shown = json!({"brand": card.brand, "last4": card.last4, "exp_month": card.exp_month,
                "exp_year": card.exp_year});
            (shown, token)
        }
        (Err(_), None) => {
            return Err(ApiError::conflict(
                "payment_method",
                "This environment has no Stripe connected: send `card` (a test card) instead.",
            ));
        }
    };
    let id = till_shared::ids::PaymentMethodId::generate().to_string();
    let new = NewPaymentMethod {
        id: &id,
        scope: crate::billing::scope(call.principal()?),
        customer_id: &customer_id,
        card: &facts,
        token: &token,
        checkout_session_id: None,
        now: db::now_unix(),
    };
    let data = render(new.row())?;
    let event = Event {
        kind: "payment_method.attached",
        object_id: &id,
        data: &data,
    };
    let mut batch = vec![new.insert(&db, None)?];
    batch.extend(events::record(
        &db,
        new.scope,
        vec![(event, Guard::Always)],
        new.now,
    )?);
    db.batch(batch).await?;
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::created(render(load(call, &id, None).await?)?))
}

fn refused_card(message: &str) -> ApiError {
    ApiError::Client {
        code: ErrorCode::CardDeclined,
        message: message.to_owned(),
        param: Some("card".to_owned()),
    }
}

/// A saved card about to be stored (`card`: brand, last4, exp_month, exp_year), from the
/// API or from a SETUP / SUBSCRIPTION checkout.
pub struct NewPaymentMethod<'a> {
    pub id: &'a str,
    pub scope: Scope<'a>,
    pub customer_id: &'a str,
    pub card: &'a Value,
    pub token: &'a str,
    pub checkout_session_id: Option<&'a str>,
    pub now: i64,
}

/// A checkout session still holding its reservation: what a checkout's writes are
/// conditional on.
const RESERVATION_HELD: &str = "EXISTS (SELECT 1 FROM checkout_sessions WHERE id = :held_session AND reservation = :held_token)";

impl NewPaymentMethod<'_> {
    /// The row as the INSERT stores it.
    pub fn row(&self) -> PaymentMethodRow {
        let text = |key: &str| self.card[key].as_str().unwrap_or_default().to_owned();
        let number = |key: &str| self.card[key].as_i64().unwrap_or_default();
        PaymentMethodRow {
            id: self.id.to_owned(),
            environment: crate::billing::environment(self.scope),
            customer_id: self.customer_id.to_owned(),
            card_brand: text("brand"),
            card_last4: text("last4"),
            card_exp_month: number("exp_month"),
            card_exp_year: number("exp_year"),
            checkout_session_id: self.checkout_session_id.map(str::to_owned),
            detached_at: None,
            created_at: self.now,
        }
    }

    /// The INSERT; with `held` (a checkout session id and its reservation token), only
    /// while that session still holds the reservation. A card missing a fact fails it.
    pub fn insert(
        &self,
        db: &D1Database,
        held: Option<(&str, &str)>,
    ) -> ApiResult<D1PreparedStatement> {
        let condition = if held.is_some() {
            RESERVATION_HELD
        } else {
            "1"
        };
        let mut sql = Sql::new(&format!(
            "INSERT INTO payment_methods (id, account_id, environment, customer_id, card_brand, card_last4,
                 card_exp_month, card_exp_year, processor_token, checkout_session_id, created_at)
             SELECT :id, :account_id, :environment, :customer_id, :card_brand, :card_last4, :card_exp_month,
                    :card_exp_year, :processor_token, :checkout_session_id, :created_at
             WHERE {condition}"
        ))
        .bind("id", self.id)
        .bind("account_id", self.scope.account_id)
        .bind("environment", self.scope.environment)
        .bind("customer_id", self.customer_id)
        .bind("card_brand", self.card["brand"].as_str())
        .bind("card_last4", self.card["last4"].as_str())
        .bind("card_exp_month", self.card["exp_month"].as_i64())
        .bind("card_exp_year", self.card["exp_year"].as_i64())
        .bind("processor_token", self.token)
        .bind("checkout_session_id", self.checkout_session_id)
        .bind("created_at", self.now);
        if let Some((session, token)) = held {
            sql = sql.bind("held_session", session).bind("held_token", token);
        }
        sql.prepare(db)
    }
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(load(call, call.id()?, None).await?)?))
}

/// Attached cards, of one customer with `customer_id`.
pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = vec![Filter::always("detached_at IS NULL")];
    if let Some(customer) = call.query("customer_id") {
        filters.push(Filter::eq("customer_id = :customer", customer.to_owned()));
    }
    Ok(Reply::ok(
        crate::api::list::list(call, "payment_methods_view", filters, render).await?,
    ))
}

/// Detaches a card; refused while a live subscription charges it.
pub async fn detach(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let method = load(call, &id, None).await?;
    if method.detached_at.is_some() {
        return Ok(Reply::ok(render(method)?));
    }
    let now = db::now_unix();
    let db = db::db(call.ctx)?;
    let change = Sql::new(
        "UPDATE payment_methods SET detached_at = :now WHERE id = :id AND detached_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM subscriptions
                           WHERE payment_method_id = :id AND state NOT IN ('CANCELED', 'COMPLETED'))",
    )
    .bind("id", id.as_str())
    .bind("now", now)
    .prepare(&db)?;
    let data = render(PaymentMethodRow {
        detached_at: Some(now),
        ..method
    })?;
    let event = Event {
        kind: "payment_method.detached",
        object_id: &id,
        data: &data,
    };
    let mut batch = vec![change];
    batch.extend(events::record(
        &db,
        crate::billing::scope(call.principal()?),
        vec![(event, Guard::Applied)],
        now,
    )?);
    let results = db.batch(batch).await?;
    if db::changes(&results, 0) != 1 {
        return Err(ApiError::conflict(
            "id",
            "A live subscription charges this payment method; give it another one first.",
        ));
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(load(call, &id, None).await?)?))
}
