//! Events: every state change that merchants hear about, written in the same D1 batch as
//! the change. `data` is the object itself, so `event.data.id` and `event.data.metadata`
//! read as the hosted-checkout guide's webhook sample reads them.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::time::parse_request_time;

use crate::call::Call;
use crate::error::{ApiError, ApiResult};
use crate::prices::iso;
use crate::reply::Reply;
use crate::store::{self, Filter};

#[derive(Deserialize)]
pub struct EventRow {
    pub id: String,
    pub account_id: String,
    pub environment: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: String,
    pub created_at: i64,
}

pub fn render(row: EventRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "event",
        "type": row.kind,
        "created": iso(row.created_at)?,
        "livemode": row.environment == "PRODUCTION",
        "account": row.account_id,
        "data": store::parse_json(Some(&row.data)),
    }))
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row: EventRow = store::find(call.ctx, "events", call.principal()?, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event", &id, None))?;
    Ok(Reply::ok(render(row)?))
}

/// `type` (exact, or a prefix ending in `.*`: `checkout.*`), `created_gte` /
/// `created_lte` (ISO 8601 or Unix seconds), and the usual paging.
pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    if let Some(kind) = call.query("type") {
        filters.push(match kind.strip_suffix(".*") {
            Some(prefix) => Filter::eq(
                "type LIKE ? ESCAPE '\\'",
                format!("{}.%", prefix.replace('%', "\\%").replace('_', "\\_")),
            ),
            None => Filter::eq("type = ?", kind),
        });
    }
    for (name, condition) in [
        ("created_gte", "created_at >= ?"),
        ("created_lte", "created_at <= ?"),
    ] {
        if let Some(text) = call.query(name) {
            let at = parse_request_time(&Value::String(text.to_owned()))
                .map_err(|e| ApiError::invalid(name, e.to_string()))?;
            filters.push(Filter::eq(condition, at));
        }
    }
    Ok(Reply::ok(
        store::list(call, "events_view", filters, render).await?,
    ))
}
