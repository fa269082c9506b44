//! Payments: every successful charge a merchant can refund — a checkout's (with its
//! order) and a subscription renewal's (with its billing order) — with the card's brand,
//! last4 and expiry, what has been refunded, and the hosted receipt's URL.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::{Filter, created_range, list};
use crate::api::reply::Reply;
use crate::db::{self, Sql};
use crate::error::{ApiError, ApiResult};

/// The statuses a payment moves through as refunds take its money back.
pub const STATUSES: &[&str] = &["SUCCEEDED", "PARTIALLY_REFUNDED", "REFUNDED"];

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentRow {
    pub id: String,
    pub account_id: String,
    pub environment: String,
    pub order_id: Option<String>,
    pub billing_order_id: Option<String>,
    pub checkout_session_id: Option<String>,
    pub payment_link_id: Option<String>,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
    pub status: String,
    pub disputed: i64,
    pub card_brand: String,
    pub card_last4: String,
    pub card_exp_month: i64,
    pub card_exp_year: i64,
    pub processor: String,
    pub processor_token: String,
    pub receipt_key: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PaymentRow {
    /// What is left to refund.
    pub fn refundable(&self) -> i64 {
        self.amount - self.amount_refunded
    }

    pub fn livemode(&self) -> bool {
        self.environment == "PRODUCTION"
    }
}

/// The hosted receipt of a payment, on the Worker's origin.
pub fn receipt_url(origin: &str, receipt_key: &str) -> String {
    format!("{origin}/receipts/{receipt_key}")
}

/// A payment as the API answers it; `origin` makes its `receipt_url`.
pub fn render(row: &PaymentRow, origin: &str) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "payment",
        "status": row.status,
        "amount": row.amount,
        "amount_refunded": row.amount_refunded,
        "refunded": row.amount > 0 && row.amount_refunded == row.amount,
        "currency": row.currency,
        "disputed": row.disputed == 1,
        "card": {
            "brand": row.card_brand,
            "last4": row.card_last4,
            "exp_month": row.card_exp_month,
            "exp_year": row.card_exp_year,
        },
        "processor": row.processor,
        "processor_reference": row.processor_token,
        "order_id": row.order_id,
        "billing_order_id": row.billing_order_id,
        "checkout_session_id": row.checkout_session_id,
        "payment_link": row.payment_link_id,
        "subscription_id": row.subscription_id,
        "customer_id": row.customer_id,
        "receipt_url": receipt_url(origin, &row.receipt_key),
        "livemode": row.livemode(),
        "environment": row.environment,
        "created_at": iso(row.created_at)?,
        "updated_at": iso(row.updated_at)?,
    }))
}

/// The payment `id` of the caller's scope; a body or query field (`param`) naming none is
/// a 409 `resource_missing`, the URL's a 404.
pub async fn load(call: &Call<'_>, id: &str, param: Option<&str>) -> ApiResult<PaymentRow> {
    db::find(call.ctx, "payments", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment", id, param))
}

/// The payment that paid a subscription's billing order: the renewal's own, or for the
/// first period of a subscription started at checkout, that checkout's payment.
pub async fn of_billing_order(call: &Call<'_>, billing_order_id: &str) -> ApiResult<PaymentRow> {
    let found: Option<PaymentRow> = Sql::new(
        "SELECT p.* FROM payments p
         WHERE p.account_id = :account AND p.environment = :environment
           AND (p.billing_order_id = :order
                OR (p.order_id IS NOT NULL AND EXISTS (SELECT 1 FROM billing_orders b
                     WHERE b.id = :order AND b.sequence_no = 1 AND b.subscription_id = p.subscription_id)))
         LIMIT 1",
    )
    .bind("order", billing_order_id)
    .scoped(call.principal()?)
    .prepare(&db::db(call.ctx)?)?
    .first(None)
    .await?;
    found.ok_or_else(|| {
        ApiError::not_found(
            "paid billing order",
            billing_order_id,
            Some("billing_order_id"),
        )
    })
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    let row = load(call, call.id()?, None).await?;
    Ok(Reply::ok(render(&row, &call.origin)?))
}

/// The filters orders and payments share: what was sold through, to whom, and when.
pub fn sale_filters(call: &Call<'_>) -> ApiResult<Vec<Filter>> {
    let mut filters = created_range(call)?;
    for (name, condition) in [
        ("payment_link", "payment_link_id = :payment_link"),
        (
            "checkout_session",
            "checkout_session_id = :checkout_session",
        ),
        ("customer_id", "customer_id = :customer_id"),
        ("subscription_id", "subscription_id = :subscription_id"),
    ] {
        if let Some(value) = call.query(name) {
            filters.push(Filter::eq(condition, value));
        }
    }
    Ok(filters)
}

/// `?status=` as one of `allowed` (any case), else a 400 naming them.
pub fn status_filter(call: &Call<'_>, allowed: &[&str]) -> ApiResult<Option<Filter>> {
    let Some(status) = call.query("status") else {
        return Ok(None);
    };
    let status = status.to_ascii_uppercase();
    if !allowed.contains(&status.as_str()) {
        return Err(ApiError::invalid(
            "status",
            format!("`status` must be one of: {}.", allowed.join(", ")),
        ));
    }
    Ok(Some(Filter::eq("status = :status", status)))
}

/// `GET /v1/payments`: newest first; by link, session, customer, subscription, status
/// and creation time; cursor or page paging.
pub async fn list_payments(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = sale_filters(call)?;
    filters.extend(status_filter(call, STATUSES)?);
    if let Some(order) = call.query("order_id") {
        filters.push(Filter::eq("order_id = :order_id", order));
    }
    let origin = call.origin.clone();
    Ok(Reply::ok(
        list(call, "payments_view", filters, |row: PaymentRow| {
            render(&row, &origin)
        })
        .await?,
    ))
}
