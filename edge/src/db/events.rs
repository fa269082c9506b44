//! The one way to write an event: its INSERT, in the batch of the change it reports, and
//! the fan-out that queues its webhook deliveries.

use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::db::Bind;
use crate::error::ApiResult;

/// Queues a delivery of every event created since `?1` to every enabled endpoint of its
/// account that wants its type (and existed when it happened). Run in the batch that
/// writes the event; duplicates are ignored.
pub const FAN_OUT: &str = "INSERT OR IGNORE INTO webhook_deliveries
        (id, account_id, environment, event_id, endpoint_id, next_attempt_at, created_at)
     SELECT 'wd_' || lower(hex(randomblob(12))), e.account_id, e.environment, e.id, w.id, e.created_at, e.created_at
     FROM events e JOIN webhook_endpoints w ON w.account_id = e.account_id AND w.environment = e.environment
     WHERE e.created_at >= ?1 AND w.enabled = 1 AND w.deleted = 0 AND w.created_at <= e.created_at
       AND (w.enabled_events = '[\"*\"]' OR EXISTS (SELECT 1 FROM json_each(w.enabled_events) j WHERE j.value = e.type))";

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
        till_shared::ids::EventId::generate().to_string().js(),
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
    Ok(db.prepare(crate::db::events::FAN_OUT).bind(&[now.js()])?)
}
