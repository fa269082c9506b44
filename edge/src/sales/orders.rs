//! Orders: what a completed checkout sold — its lines, discount and totals, the shopper
//! and their answers and address, the reference and campaign the session carried, and the
//! payment that paid it (with what has been refunded of it).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::list;
use crate::api::reply::Reply;
use crate::db::{self, parse_json};
use crate::error::{ApiError, ApiResult};
use crate::sales::payments::{sale_filters, status_filter};

/// An order is PAID, or needed no payment (a zero total).
pub const STATUSES: &[&str] = &["PAID", "NO_PAYMENT_REQUIRED"];

/// A row of `orders_view`: the order and what its session and payment add.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderRow {
    pub id: String,
    pub environment: String,
    pub checkout_session_id: String,
    pub payment_link_id: Option<String>,
    pub currency: String,
    pub amount_subtotal: i64,
    pub amount_discount: i64,
    pub amount_total: i64,
    pub promotion_code: Option<String>,
    pub customer_id: Option<String>,
    pub customer_email: String,
    pub customer_name: Option<String>,
    pub custom_fields: String,
    pub billing_address: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub line_items: Option<String>,
    pub client_reference_id: Option<String>,
    pub utm: Option<String>,
    pub subscription_id: Option<String>,
    pub metadata: Option<String>,
    pub locale: Option<String>,
    pub payment_id: Option<String>,
    pub amount_refunded: Option<i64>,
    pub payment_status: Option<String>,
}

pub fn render(row: &OrderRow) -> ApiResult<Value> {
    let discount = row
        .promotion_code
        .as_ref()
        .map(|code| json!({"promotion_code": code, "amount": row.amount_discount}));
    let address = parse_json(row.billing_address.as_deref());
    Ok(json!({
        "id": row.id,
        "object": "order",
        "status": row.status,
        "checkout_session_id": row.checkout_session_id,
        "payment_link": row.payment_link_id,
        "line_items": parse_json(row.line_items.as_deref()),
        "currency": row.currency,
        "amount_subtotal": row.amount_subtotal,
        "amount_discount": row.amount_discount,
        "amount_total": row.amount_total,
        "amount_refunded": row.amount_refunded.unwrap_or(0),
        "discount": discount,
        "promotion_code": row.promotion_code,
        "customer_id": row.customer_id,
        "customer_email": row.customer_email,
        "customer_name": row.customer_name,
        "customer_details": {
            "email": row.customer_email,
            "name": row.customer_name,
            "address": address,
        },
        "custom_fields": parse_json(Some(&row.custom_fields)),
        "billing_address": address,
        "client_reference_id": row.client_reference_id,
        "utm": parse_json(row.utm.as_deref()),
        "metadata": parse_json(row.metadata.as_deref()),
        "subscription_id": row.subscription_id,
        "payment_id": row.payment_id,
        "payment_status": row.payment_status,
        "livemode": row.environment == "PRODUCTION",
        "environment": row.environment,
        "created_at": iso(row.created_at)?,
    }))
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?;
    let row: OrderRow = db::find(call.ctx, "orders_view", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("order", id, None))?;
    Ok(Reply::ok(render(&row)?))
}

/// `GET /v1/orders`: newest first; by link, session, customer, subscription, status and
/// creation time; cursor or page paging.
pub async fn list_orders(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = sale_filters(call)?;
    filters.extend(status_filter(call, STATUSES)?);
    Ok(Reply::ok(
        list(call, "orders_view", filters, |row: OrderRow| render(&row)).await?,
    ))
}
