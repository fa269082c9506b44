//! The one way to write an event: its INSERT, in the batch of the change it reports, and
//! the fan-out that queues its webhook deliveries.

use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use till_shared::ids::{EventId, WebhookDeliveryId, WebhookEndpointId};

use crate::db::Sql;
use crate::error::ApiResult;

/// The id of the delivery of event `e` to the endpoint whose id is the SQL expression
/// `endpoint`: `wd_`, then the random part of the event's id, then the endpoint's, as
/// `WebhookDeliveryId::of` makes it (one delivery per event and endpoint, so the pair names
/// it). The substrings skip the ids' prefixes, `evt_` and `we_`.
pub fn delivery_id(endpoint: &str) -> String {
    format!(
        "'{}' || substr(e.id, {}) || substr({endpoint}, {})",
        WebhookDeliveryId::PREFIX,
        EventId::PREFIX.len() + 1,
        WebhookEndpointId::PREFIX.len() + 1
    )
}

/// Queues a delivery of every event created since `:since` to every enabled endpoint of its
/// account that wants its type (and existed when it happened). Run in the batch that
/// writes the event; duplicates are ignored.
fn fan_out_sql() -> String {
    format!(
        "INSERT OR IGNORE INTO webhook_deliveries
        (id, account_id, environment, event_id, endpoint_id, next_attempt_at, created_at)
     SELECT {}, e.account_id, e.environment, e.id, w.id, e.created_at, e.created_at
     FROM events e JOIN webhook_endpoints w ON w.account_id = e.account_id AND w.environment = e.environment
     WHERE e.created_at >= :since AND w.enabled = 1 AND w.deleted = 0 AND w.created_at <= e.created_at
       AND (w.enabled_events = '[\"*\"]' OR EXISTS (SELECT 1 FROM json_each(w.enabled_events) j WHERE j.value = e.type))",
        delivery_id("w.id")
    )
}

/// Where an event belongs: the account and environment of the change.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub account_id: &'a str,
    pub environment: &'a str,
}

/// When an event is written: exactly when the change it reports was applied.
pub enum Guard<'a> {
    /// The batch is the change (an INSERT that fails the whole batch if it fails).
    Always,
    /// The statement just before the event's in the batch changed a row.
    Applied,
    /// A condition of the event's own, in SQL with named parameters, and their values.
    When(&'a str, Vec<(&'a str, JsValue)>),
}

/// One event about to be written: its type, the object it is about, and `data`, the
/// object as the API's `GET` renders it.
pub struct Event<'a> {
    pub kind: &'a str,
    pub object_id: &'a str,
    pub data: &'a Value,
}

/// The INSERT of one event, to run in the batch of its change, written only when `guard`
/// holds.
pub fn insert(
    db: &D1Database,
    scope: Scope<'_>,
    event: Event<'_>,
    now: i64,
    guard: Guard<'_>,
) -> ApiResult<D1PreparedStatement> {
    let (condition, values) = match guard {
        Guard::Always => ("1", Vec::new()),
        Guard::Applied => ("changes() = 1", Vec::new()),
        Guard::When(condition, values) => (condition, values),
    };
    let mut sql = Sql::new(&format!(
        "INSERT INTO events (id, account_id, environment, type, object_id, data, created_at)
         SELECT :event_id, :event_account, :event_environment, :event_type, :event_object,
                :event_data, :event_at
         WHERE {condition}"
    ))
    .bind("event_id", EventId::generate().to_string())
    .bind("event_account", scope.account_id)
    .bind("event_environment", scope.environment)
    .bind("event_type", event.kind)
    .bind("event_object", event.object_id)
    .bind("event_data", event.data.to_string())
    .bind("event_at", now);
    for (name, value) in values {
        sql = sql.bind(name, value);
    }
    sql.prepare(db)
}

/// The statements that record `events` for one change: each event's guarded INSERT, then
/// the fan-out that queues their webhook deliveries. Append them to the change's batch.
pub fn record(
    db: &D1Database,
    scope: Scope<'_>,
    events: Vec<(Event<'_>, Guard<'_>)>,
    now: i64,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let mut statements = events
        .into_iter()
        .map(|(event, guard)| insert(db, scope, event, now, guard))
        .collect::<ApiResult<Vec<_>>>()?;
    statements.push(fan_out(db, now)?);
    Ok(statements)
}

/// The events' webhook deliveries; the last statement of a batch that wrote events.
pub fn fan_out(db: &D1Database, now: i64) -> ApiResult<D1PreparedStatement> {
    Sql::new(&fan_out_sql()).bind("since", now).prepare(db)
}
