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
use till_shared::ids::random_base62;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::store::{self, Bind, Filter};

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
    let mut body = render(row)?;
    body["deliveries"] = crate::webhooks::of_event(call, &id).await?.into();
    Ok(Reply::ok(body))
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

/// Where an event belongs: the account and environment of the change.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub account_id: &'a str,
    pub environment: &'a str,
}

/// The INSERT of one event, to run in the batch of its change. `guard` (a SQL condition
/// whose placeholders start at `?7`, with `guard_values`) makes it conditional, so the
/// event exists exactly when the change it reports was applied.
pub fn insert(
    db: &D1Database,
    scope: Scope<'_>,
    kind: &str,
    object_id: &str,
    data: &Value,
    now: i64,
    guard: Option<(&str, &[JsValue])>,
) -> ApiResult<D1PreparedStatement> {
    let (condition, guard_values) = guard.unwrap_or(("1", &[]));
    let mut values = vec![
        format!("evt_{}", random_base62(24)).js(),
        scope.account_id.js(),
        scope.environment.js(),
        kind.js(),
        object_id.js(),
        data.to_string().js(),
    ];
    values.extend_from_slice(guard_values);
    values.push(now.js());
    let at = values.len();
    Ok(db
        .prepare(format!(
            "INSERT INTO events (id, account_id, environment, type, object_id, data, created_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?{at} WHERE {condition}"
        ))
        .bind(&values)?)
}

/// The events' webhook deliveries; the last statement of a batch that wrote events.
pub fn fan_out(db: &D1Database, now: i64) -> ApiResult<D1PreparedStatement> {
    Ok(db.prepare(crate::webhooks::FAN_OUT).bind(&[now.js()])?)
}
