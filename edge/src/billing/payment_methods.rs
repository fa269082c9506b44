//! Saved payment methods: cards kept for charges made without the shopper (renewals). What
//! is stored is brand, last4, expiry and the processor's token, never the number. SETUP and
//! SUBSCRIPTION checkouts save them; in SANDBOX only, `POST /v1/payment_methods` also takes
//! a test card directly, so scripts can set up subscriptions without a browser.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::api::ErrorCode;
use till_shared::card::{CardError, check_card};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Bind};
use crate::error::{ApiError, ApiResult};
use crate::processor::{Processor, Sandbox};

#[derive(Deserialize)]
pub struct PaymentMethodRow {
    pub id: String,
    pub environment: String,
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
        "livemode": row.environment == "PRODUCTION",
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

/// The stored card facts and event data of a saved card.
pub fn card_json(brand: &str, last4: &str, exp_month: i64, exp_year: i64) -> Value {
    json!({"brand": brand, "last4": last4, "exp_month": exp_month, "exp_year": exp_year})
}

/// `POST /v1/payment_methods` (SANDBOX): `customer_id` and `card: {number, exp_month,
/// exp_year, cvc}`.
pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    if !call.sandbox() {
        return Err(ApiError::forbidden(
            "Card numbers are refused over the API in PRODUCTION; save cards through a SETUP checkout.",
        ));
    }
    let mut p = call.params()?;
    let customer_id = p.required_string("customer_id", 64)?;
    let mut card = p.object("card")?.ok_or_else(|| {
        ApiError::invalid(
            "card",
            "card is required: {number, exp_month, exp_year, cvc}.",
        )
    })?;
    let number = card.required_string("number", 32)?;
    let exp_month = card.integer("exp_month", 1, 12)?;
    let exp_year = card.integer("exp_year", 2000, 2100)?;
    let cvc = card.required_string("cvc", 4)?;
    card.finish()?;
    p.finish()?;
    let (Some(exp_month), Some(exp_year)) = (exp_month, exp_year) else {
        return Err(ApiError::invalid(
            "card.exp_month",
            "card.exp_month and card.exp_year are required.",
        ));
    };
    let today = till_shared::time::month_and_year(db::now_unix());
    let checked =
        check_card(&number, &format!("{exp_month:02}/{exp_year}"), &cvc, today).map_err(|e| {
            let param = match e {
                CardError::InvalidNumber => "card.number",
                CardError::InvalidCvc => "card.cvc",
                CardError::InvalidExpiry | CardError::Expired => "card.exp_year",
            };
            ApiError::invalid(param, format!("The card was refused: {}.", e.code()))
        })?;
    crate::billing::customers::load(call, &customer_id, Some("customer_id")).await?;
    let token = Sandbox
        .save(&checked)
        .await
        .map_err(|code| ApiError::Client {
            code: ErrorCode::CardDeclined,
            message: format!("The card could not be saved: {code}."),
            param: Some("card".to_owned()),
        })?;

    let principal = call.principal()?;
    let scope = Scope {
        account_id: &principal.account_id,
        environment: principal.environment.as_str(),
    };
    let id = till_shared::ids::PaymentMethodId::generate().to_string();
    let now = db::now_unix();
    let db = db::db(call.ctx)?;
    let data = json!({
        "id": id, "object": "payment_method", "type": "card", "customer_id": customer_id,
        "card": card_json(checked.brand.as_str(), &checked.last4, i64::from(checked.exp_month), i64::from(checked.exp_year)),
    });
    db.batch(vec![
        NewPaymentMethod {
            id: &id,
            scope,
            customer_id: &customer_id,
            card: &data["card"],
            token: &token,
            checkout_session_id: None,
            now,
        }
        .insert(&db, None)?,
        events::insert(
            &db,
            scope,
            Event {
                kind: "payment_method.attached",
                object_id: &id,
                data: &data,
            },
            now,
            Guard::Always,
        )?,
        events::fan_out(&db, now)?,
    ])
    .await?;
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::created(render(load(call, &id, None).await?)?))
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

impl NewPaymentMethod<'_> {
    /// The INSERT; with `held` (a checkout session id and its reservation token), only
    /// while that session still holds the reservation.
    pub fn insert(
        &self,
        db: &worker::D1Database,
        held: Option<(&str, &str)>,
    ) -> ApiResult<worker::D1PreparedStatement> {
        let mut values = vec![
            self.id.js(),
            self.scope.account_id.js(),
            self.scope.environment.js(),
            self.customer_id.js(),
            self.card["brand"].as_str().js(),
            self.card["last4"].as_str().js(),
            self.card["exp_month"].as_i64().js(),
            self.card["exp_year"].as_i64().js(),
            self.token.js(),
            self.checkout_session_id.js(),
            self.now.js(),
        ];
        let condition = match held {
            Some((session, token)) => {
                values.extend([session.js(), token.js()]);
                "EXISTS (SELECT 1 FROM checkout_sessions WHERE id = ?12 AND reservation = ?13)"
            }
            None => "1",
        };
        Ok(db
            .prepare(format!(
                "INSERT INTO payment_methods (id, account_id, environment, customer_id, card_brand, card_last4,
                     card_exp_month, card_exp_year, processor_token, checkout_session_id, created_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 WHERE {condition}"
            ))
            .bind(&values)?)
    }
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(load(call, call.id()?, None).await?)?))
}

/// Attached cards, of one customer with `customer_id`.
pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = vec![Filter {
        condition: "detached_at IS NULL",
        values: Vec::new(),
    }];
    if let Some(customer) = call.query("customer_id") {
        filters.push(Filter::eq("customer_id = ?", customer.to_owned()));
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
    let principal = call.principal()?;
    let scope = Scope {
        account_id: &principal.account_id,
        environment: principal.environment.as_str(),
    };
    let db = db::db(call.ctx)?;
    let data = json!({"id": id, "object": "payment_method", "customer_id": method.customer_id, "detached": true});
    let results = db
        .batch(vec![
            db.prepare(
                "UPDATE payment_methods SET detached_at = ?2 WHERE id = ?1 AND detached_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM subscriptions
                                   WHERE payment_method_id = ?1 AND state NOT IN ('CANCELED', 'COMPLETED'))",
            )
            .bind(&[id.js(), now.js()])?,
            events::insert(
&db, scope, Event { kind: "payment_method.detached", object_id: &id, data: &data }, now, Guard::Applied)?,
            events::fan_out(&db, now)?,
        ])
        .await?;
    if results
        .first()
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        != Some(1)
    {
        return Err(ApiError::conflict(
            "id",
            "A live subscription charges this payment method; give it another one first.",
        ));
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(load(call, &id, None).await?)?))
}
