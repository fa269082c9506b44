//! Taking a payment for a session, in three D1 batches that the database keeps honest:
//!
//! 1. **reserve**: the session takes a reservation token (one holder at a time) and the
//!    link's and promotion code's `reserved_count` go up. The tables' CHECK constraints
//!    refuse the batch when completions or redemptions would pass their limit, so a
//!    shopper over the limit is refused *before* being charged.
//! 2. the processor charges the card (outside D1);
//! 3. **complete** (order, payment, customer, event, counters, session COMPLETE) or
//!    **release** (reservations returned, failed attempt counted). Every statement is
//!    conditional on the session still holding this reservation token, so a batch can
//!    only ever apply once.

use serde_json::{Value, json};
use till_shared::billing::{Cycle, after_payment, billing_order_id};
use till_shared::ids::random_base62;
use worker::{D1Database, D1PreparedStatement};

use crate::billing::payment_methods::NewPaymentMethod;
use crate::billing::subscriptions::{NewSubscription, Plan, render};
use crate::db::events::Scope;
use crate::db::{self, Bind};
use crate::error::{ApiError, ApiResult};

/// The session facts the batches need.
pub struct Payment<'a> {
    pub session_id: &'a str,
    pub account_id: &'a str,
    pub environment: &'a str,
    pub link_id: Option<&'a str>,
    pub promotion_code: Option<&'a str>,
}

const HELD: &str = "EXISTS (SELECT 1 FROM checkout_sessions WHERE id = ?1 AND reservation = ?2)";

/// How a reservation attempt ended.
pub enum Reserved {
    Token(String),
    /// Someone else holds the session (a double submit), or it is no longer open.
    Busy,
    /// A limit would be passed: the link is sold out or the code fully redeemed.
    Exhausted,
    /// The link was deactivated or deleted meanwhile.
    Inactive,
}

fn counters(
    db: &D1Database,
    p: &Payment,
    token: &str,
    link_sql: &str,
    code_sql: &str,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let mut statements = Vec::new();
    if let Some(link) = p.link_id {
        statements.push(
            db.prepare(format!(
                "UPDATE payment_links SET {link_sql} WHERE id = ?3 AND {HELD}"
            ))
            .bind(&[p.session_id.js(), token.js(), link.js()])?,
        );
    }
    if let Some(code) = p.promotion_code {
        statements.push(
            db.prepare(format!(
                "UPDATE promotion_codes SET {code_sql}
                 WHERE code_key = ?3 AND account_id = ?4 AND environment = ?5 AND {HELD}"
            ))
            .bind(&[
                p.session_id.js(),
                token.js(),
                code.to_ascii_uppercase().js(),
                p.account_id.js(),
                p.environment.js(),
            ])?,
        );
    }
    Ok(statements)
}

pub async fn reserve(db: &D1Database, p: &Payment<'_>) -> ApiResult<Reserved> {
    let token = random_base62(24);
    let now = db::now_unix();
    let mut statements = vec![
        db.prepare(
            "UPDATE checkout_sessions SET reservation = ?2, reserved_at = ?3
             WHERE id = ?1 AND status = 'OPEN' AND reservation IS NULL AND expires_at > ?3",
        )
        .bind(&[p.session_id.js(), token.js(), now.js()])?,
    ];
    statements.extend(counters(
        db,
        p,
        &token,
        "reserved_count = reserved_count + 1",
        "reserved_count = reserved_count + 1",
    )?);
    let results = match db.batch(statements).await {
        Ok(results) => results,
        Err(error) if error.to_string().contains("CHECK constraint failed") => {
            return Ok(Reserved::Exhausted);
        }
        Err(error) => return Err(error.into()),
    };
    let changes = |i: usize| {
        results
            .get(i)
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0)
    };
    if changes(0) != 1 {
        return Ok(Reserved::Busy);
    }
    // The link must still be payable: a deactivation after the visit wins.
    if p.link_id.is_some() {
        let active: Option<i64> = db
            .prepare("SELECT active * (1 - deleted) AS payable FROM payment_links WHERE id = ?1")
            .bind(&[p.link_id.js()])?
            .first(Some("payable"))
            .await?;
        if active != Some(1) {
            release(db, p, &token, None).await?;
            return Ok(Reserved::Inactive);
        }
    }
    Ok(Reserved::Token(token))
}

/// Gives the reservation back; a failed charge counts against the session's attempts.
/// An event row written only while the session still holds `token` (so a batch that
/// no longer holds it writes nothing).
fn held_event(
    db: &D1Database,
    p: &Payment<'_>,
    token: &str,
    kind: &str,
    object_id: &str,
    data: &Value,
    now: i64,
) -> ApiResult<D1PreparedStatement> {
    Ok(db
        .prepare(format!(
            "INSERT INTO events (id, account_id, environment, type, object_id, data, created_at)
             SELECT ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE {HELD}"
        ))
        .bind(&[
            p.session_id.js(),
            token.js(),
            till_shared::ids::EventId::generate().to_string().js(),
            p.account_id.js(),
            p.environment.js(),
            kind.js(),
            object_id.js(),
            data.to_string().js(),
            now.js(),
        ])?)
}

/// Gives the reservation back. A failed charge (`failure`: the `payment.failed` event's
/// data) counts against the session's attempts and is an event in the same batch.
pub async fn release(
    db: &D1Database,
    p: &Payment<'_>,
    token: &str,
    failure: Option<&Value>,
) -> ApiResult<()> {
    let mut statements = counters(
        db,
        p,
        token,
        "reserved_count = reserved_count - 1",
        "reserved_count = reserved_count - 1",
    )?;
    statements.push(
        db.prepare(
            "UPDATE checkout_sessions SET reservation = NULL, reserved_at = NULL, pending_payment = NULL,
                 failed_attempts = failed_attempts + ?3
             WHERE id = ?1 AND reservation = ?2",
        )
        .bind(&[p.session_id.js(), token.js(), i64::from(failure.is_some()).js()])?,
    );
    if let Some(data) = failure {
        let now = db::now_unix();
        // Before the session lets go of the reservation, while the event's guard holds.
        let at = statements.len() - 1;
        statements.insert(
            at,
            held_event(db, p, token, "payment.failed", p.session_id, data, now)?,
        );
        statements.insert(
            at + 1,
            db.prepare(crate::db::events::FAN_OUT).bind(&[now.js()])?,
        );
    }
    db.batch(statements).await?;
    Ok(())
}

/// Holds the card facts (never the number) while the shopper answers a 3-D Secure challenge.
pub async fn hold_for_challenge(
    db: &D1Database,
    p: &Payment<'_>,
    token: &str,
    card: &Value,
) -> ApiResult<()> {
    db.prepare(
        "UPDATE checkout_sessions SET pending_payment = ?3 WHERE id = ?1 AND reservation = ?2",
    )
    .bind(&[p.session_id.js(), token.js(), card.to_string().js()])?
    .run()
    .await?;
    Ok(())
}

/// Everything a completed payment writes.
pub struct Completed<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub custom_fields: Value,
    pub billing_address: Option<Value>,
    /// Brand, last4, expiry and processor token; `None` when nothing is charged (SETUP).
    pub card: Option<Value>,
    pub create_customer: bool,
    pub currency: &'a str,
    pub amount_subtotal: i64,
    pub amount_discount: i64,
    pub amount_total: i64,
    pub event_data: Value,
    /// SETUP and SUBSCRIPTION: the card saved for later charges (brand, last4, expiry and
    /// the processor's saved-card `token`), attached to the new customer.
    pub saved_card: Option<Value>,
    /// SUBSCRIPTION: what the subscription bills; this payment is its first charge.
    pub plan: Option<Plan>,
}

/// Completes the session in one batch; answers the order id (if an order was made).
pub async fn complete(
    db: &D1Database,
    p: &Payment<'_>,
    token: &str,
    done: &Completed<'_>,
) -> ApiResult<Option<String>> {
    let now = db::now_unix();
    let mut statements = counters(
        db,
        p,
        token,
        "reserved_count = reserved_count - 1, completed_count = completed_count + 1",
        "reserved_count = reserved_count - 1, times_redeemed = times_redeemed + 1",
    )?;
    let customer_id = done
        .create_customer
        .then(|| till_shared::ids::CustomerId::generate().to_string());
    if let Some(customer) = &customer_id {
        statements.push(
            db.prepare(format!(
                "INSERT INTO customers (id, customer_id, account_id, environment, email, name, created_at, updated_at)
                 SELECT ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?8 WHERE {HELD}"
            ))
            .bind(&[
                p.session_id.js(),
                token.js(),
                customer.js(),
                p.account_id.js(),
                p.environment.js(),
                done.email.js(),
                done.name.js(),
                now.js(),
            ])?,
        );
    }
    let payment_id = done
        .card
        .as_ref()
        .map(|_| till_shared::ids::PaymentId::generate().to_string());
    let order_id = done
        .card
        .as_ref()
        .map(|_| till_shared::ids::OrderId::generate().to_string());
    if let (Some(order), Some(card)) = (&order_id, &done.card) {
        statements.push(
            db.prepare(format!(
                "INSERT INTO orders (id, account_id, environment, checkout_session_id, payment_link_id, currency,
                     amount_subtotal, amount_discount, amount_total, promotion_code, customer_id, customer_email,
                     customer_name, custom_fields, billing_address, status, created_at)
                 SELECT ?3, ?4, ?5, ?1, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 'PAID', ?17 WHERE {HELD}"
            ))
            .bind(&[
                p.session_id.js(),
                token.js(),
                order.js(),
                p.account_id.js(),
                p.environment.js(),
                p.link_id.js(),
                done.currency.js(),
                done.amount_subtotal.js(),
                done.amount_discount.js(),
                done.amount_total.js(),
                p.promotion_code.js(),
                customer_id.js(),
                done.email.js(),
                done.name.js(),
                done.custom_fields.to_string().js(),
                db::json_text(done.billing_address.as_ref()).js(),
                now.js(),
            ])?,
        );
        let text = |key: &str| card[key].as_str().unwrap_or_default().to_owned();
        let payment_id = payment_id.as_deref().unwrap_or_default();
        statements.push(
            db.prepare(format!(
                "INSERT INTO payments (id, account_id, environment, order_id, amount, currency, status, card_brand,
                     card_last4, card_exp_month, card_exp_year, processor_token, created_at)
                 SELECT ?3, ?4, ?5, ?6, ?7, ?8, 'SUCCEEDED', ?9, ?10, ?11, ?12, ?13, ?14 WHERE {HELD}"
            ))
            .bind(&[
                p.session_id.js(),
                token.js(),
                payment_id.js(),
                p.account_id.js(),
                p.environment.js(),
                order.js(),
                done.amount_total.js(),
                done.currency.js(),
                text("brand").js(),
                text("last4").js(),
                card["exp_month"].as_i64().unwrap_or(0).js(),
                card["exp_year"].as_i64().unwrap_or(0).js(),
                text("token").js(),
                now.js(),
            ])?,
        );
    }
    let payment_method_id = match (&done.saved_card, &customer_id) {
        (Some(saved), Some(customer)) => {
            let id = till_shared::ids::PaymentMethodId::generate().to_string();
            let method = NewPaymentMethod {
                id: &id,
                scope: Scope {
                    account_id: p.account_id,
                    environment: p.environment,
                },
                customer_id: customer,
                card: saved,
                token: saved["token"].as_str().unwrap_or_default(),
                checkout_session_id: Some(p.session_id),
                now,
            };
            statements.push(method.insert(db, Some((p.session_id, token)))?);
            let data = json!({"id": id, "object": "payment_method", "type": "card", "customer_id": customer,
                "card": {"brand": saved["brand"], "last4": saved["last4"], "exp_month": saved["exp_month"], "exp_year": saved["exp_year"]},
                "checkout_session_id": p.session_id});
            statements.push(held_event(
                db,
                p,
                token,
                "payment_method.attached",
                &id,
                &data,
                now,
            )?);
            Some(id)
        }
        _ => None,
    };
    let subscription_id = match (&done.plan, &customer_id, &payment_method_id, &done.card) {
        (Some(plan), Some(customer), Some(method), Some(card)) => Some(first_period(
            db,
            p,
            token,
            plan,
            customer,
            method,
            card,
            now,
            &mut statements,
        )?),
        _ => None,
    };
    let mut data = done.event_data.clone();
    data["subscription_id"] = json!(subscription_id);
    data["subscriptionId"] = json!(subscription_id);
    data["status"] = json!("COMPLETE");
    data["order_id"] = json!(order_id);
    data["orderId"] = json!(order_id);
    data["customer_id"] = json!(customer_id);
    statements.push(
        db.prepare(format!(
            "INSERT INTO events (id, account_id, environment, type, object_id, data, created_at)
             SELECT ?3, ?4, ?5, 'checkout.completed', ?1, ?6, ?7 WHERE {HELD}"
        ))
        .bind(&[
            p.session_id.js(),
            token.js(),
            till_shared::ids::EventId::generate().to_string().js(),
            p.account_id.js(),
            p.environment.js(),
            data.to_string().js(),
            now.js(),
        ])?,
    );
    if let (Some(order), Some(card), Some(payment_id)) = (&order_id, &done.card, &payment_id) {
        let payment = json!({
            "id": payment_id,
            "object": "payment",
            "status": "SUCCEEDED",
            "amount": done.amount_total,
            "currency": done.currency,
            "card": {"brand": card["brand"], "last4": card["last4"], "exp_month": card["exp_month"], "exp_year": card["exp_year"]},
            "order_id": order,
            "checkout_session_id": p.session_id,
            "payment_link": p.link_id,
        });
        statements.push(held_event(
            db,
            p,
            token,
            "payment.succeeded",
            payment_id,
            &payment,
            now,
        )?);
    }
    if let Some(customer) = &customer_id {
        let data =
            json!({"id": customer, "object": "customer", "email": done.email, "name": done.name});
        statements.push(held_event(
            db,
            p,
            token,
            "customer.created",
            customer,
            &data,
            now,
        )?);
    }
    // Webhook deliveries of these events, in the same batch.
    statements.push(db.prepare(crate::db::events::FAN_OUT).bind(&[now.js()])?);
    statements.push(
        db.prepare(
            "UPDATE checkout_sessions SET status = 'COMPLETE', completed_at = ?3, order_id = ?4, customer_id = ?5,
                 customer_email = ?6, customer_name = ?7, reservation = NULL, pending_payment = NULL,
                 setup_intent_id = CASE WHEN mode = 'SETUP' THEN ?8 ELSE setup_intent_id END, subscription_id = ?9
             WHERE id = ?1 AND reservation = ?2",
        )
        .bind(&[
            p.session_id.js(),
            token.js(),
            now.js(),
            order_id.js(),
            customer_id.js(),
            done.email.js(),
            done.name.js(),
            till_shared::ids::SetupIntentId::generate().to_string().js(),
            subscription_id.js(),
        ])?,
    );
    let results = db.batch(statements).await?;
    let last = results
        .last()
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if last != 1 {
        return Err(ApiError::internal(
            "completion batch ran without holding the reservation",
        ));
    }
    Ok(order_id)
}

/// A SUBSCRIPTION checkout's subscription, whose first period this payment paid: the
/// subscription, its billing order 0001 and the charge, with their events, all written
/// only while the session holds `token`. Answers the subscription id.
#[allow(clippy::too_many_arguments)]
fn first_period(
    db: &D1Database,
    p: &Payment<'_>,
    token: &str,
    plan: &Plan,
    customer: &str,
    method: &str,
    card: &Value,
    now: i64,
    statements: &mut Vec<D1PreparedStatement>,
) -> ApiResult<String> {
    let id = till_shared::ids::SubscriptionId::generate().to_string();
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
        checkout_session_id: Some(p.session_id),
        metadata: None,
    };
    let scope = Scope {
        account_id: p.account_id,
        environment: p.environment,
    };
    let row = new.row(scope, now);
    statements.push(new.insert(db, &row, Some((p.session_id, token)))?);
    let order_id = billing_order_id(&id, 1);
    let period_end = schedule.current_period_end.unwrap_or(now);
    statements.push(
        db.prepare(format!(
            "INSERT INTO billing_orders (id, account_id, environment, subscription_id, sequence_no, trigger_by, amount,
                 currency, status, billing_time, period_start, period_end, attempts, paid_at, created_at, updated_at)
             SELECT ?3, ?4, ?5, ?6, 1, 'auto', ?7, ?8, 'PAID', ?9, ?9, ?10, 1, ?9, ?9, ?9 WHERE {HELD}"
        ))
        .bind(&[
            p.session_id.js(),
            token.js(),
            order_id.js(),
            p.account_id.js(),
            p.environment.js(),
            id.js(),
            plan.amount.js(),
            plan.currency.js(),
            now.js(),
            period_end.js(),
        ])?,
    );
    statements.push(
        db.prepare(format!(
            "INSERT INTO charges (id, account_id, environment, billing_order_id, attempt, trigger_by, amount, currency,
                 status, payment_method_id, processor_token, created_at)
             SELECT ?3, ?4, ?5, ?6, 1, 'auto', ?7, ?8, 'SUCCEEDED', ?9, ?10, ?11 WHERE {HELD}"
        ))
        .bind(&[
            p.session_id.js(),
            token.js(),
            till_shared::ids::ChargeId::generate().to_string().js(),
            p.account_id.js(),
            p.environment.js(),
            order_id.js(),
            plan.amount.js(),
            plan.currency.js(),
            method.js(),
            card["token"].as_str().js(),
            now.js(),
        ])?,
    );
    statements.push(held_event(
        db,
        p,
        token,
        "subscription.created",
        &id,
        &render(&row)?,
        now,
    )?);
    let order = json!({
        "id": order_id, "object": "billing_order", "subscription_order_id": order_id, "subscription_id": id,
        "trigger_by": "auto", "sequence_no": 1, "amount": plan.amount, "currency": plan.currency, "status": "PAID",
        "attempts": 1,
    });
    statements.push(held_event(
        db,
        p,
        token,
        "billing_order.paid",
        &order_id,
        &order,
        now,
    )?);
    Ok(id)
}
