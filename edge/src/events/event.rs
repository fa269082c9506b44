//! Events: every state change that merchants hear about, written in the same D1 batch as
//! the change. `data` is the object itself, so `event.data.id` and `event.data.metadata`
//! read as the hosted-checkout guide's webhook sample reads them.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::keys::Environment;
use till_shared::time::parse_request_time;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::reply::Reply;
use crate::error::{ApiError, ApiResult};

use crate::api::list::Filter;
use crate::db;

#[derive(Deserialize)]
pub struct EventRow {
    pub id: String,
    pub account_id: String,
    pub environment: Environment,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: String,
    pub created_at: i64,
}

/// The event object: what `GET /v1/events/{id}` answers and what a webhook delivers.
pub fn render(row: EventRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "event",
        "type": row.kind,
        "created": iso(row.created_at)?,
        "livemode": row.environment == Environment::Production,
        "account": row.account_id,
        "data": db::parse_json(Some(&row.data)),
    }))
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row: EventRow = db::find(call.ctx, "events", call.principal()?, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event", &id, None))?;
    let mut body = render(row)?;
    body["deliveries"] = crate::events::webhooks::of_event(call, &id).await?.into();
    Ok(Reply::ok(body))
}

/// `type` (exact, or a prefix ending in `.*`: `checkout.*`), `created_gte` /
/// `created_lte` (ISO 8601 or Unix seconds), and the usual paging.
pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    if let Some(kind) = call.query("type") {
        filters.push(match kind.strip_suffix(".*") {
            Some(prefix) => Filter::eq(
                "type LIKE :type ESCAPE '\\'",
                format!("{}.%", prefix.replace('%', "\\%").replace('_', "\\_")),
            ),
            None => Filter::eq("type = :type", kind),
        });
    }
    for (name, condition) in [
        ("created_gte", "created_at >= :created_gte"),
        ("created_lte", "created_at <= :created_lte"),
    ] {
        if let Some(text) = call.query(name) {
            let at = parse_request_time(&Value::String(text.to_owned()))
                .map_err(|e| ApiError::invalid(name, e.to_string()))?;
            filters.push(Filter::eq(condition, at));
        }
    }
    Ok(Reply::ok(
        crate::api::list::list(call, "events_view", filters, render).await?,
    ))
}
