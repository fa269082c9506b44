//! Webhook endpoints: where an account's events are delivered (`events::delivery` sends
//! them), their secrets and rolls, their deliveries with every attempt, and replays.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::ids::{WebhookEndpointId, random_base62};
use till_shared::keys::Environment;
use till_shared::webhooks::{DeliveryStatus, check_endpoint_url};
use worker::D1Database;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::db::{self, Bind, Sql};
use crate::error::{ApiError, ApiResult};
use crate::events::delivery::{cancel_pending, send_soon};
use worker::wasm_bindgen::JsValue;

/// After a roll, the old secret keeps signing for a day.
const ROLL_OVERLAP_SECS: i64 = 24 * 3600;
/// Endpoints an account may have in each environment.
pub const MAX_ENDPOINTS: i64 = 16;

/// An endpoint URL as the request gave it, checked against where this instance may send
/// (`till_shared::webhooks::check_endpoint_url`).
fn endpoint_url(call: &Call<'_>, text: &str) -> ApiResult<String> {
    check_endpoint_url(
        text,
        crate::ctx::webhook_reach(&call.ctx.env, call.sandbox()),
    )
    .map(|_| text.to_owned())
    .map_err(|message| ApiError::invalid("url", message))
}

fn new_secret() -> String {
    format!("whsec_{}", random_base62(32))
}

#[derive(Clone, Deserialize)]
pub struct EndpointRow {
    pub id: String,
    pub account_id: String,
    pub url: String,
    pub description: Option<String>,
    #[serde(deserialize_with = "crate::db::columns::json")]
    pub enabled_events: Vec<String>,
    #[serde(deserialize_with = "crate::db::columns::flag")]
    pub enabled: bool,
    pub failing_since: Option<i64>,
    pub environment: Environment,
    pub created_at: i64,
}

pub fn render(row: EndpointRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "webhook_endpoint",
        "url": row.url,
        "description": row.description,
        "enabled_events": row.enabled_events,
        "status": if row.enabled { "enabled" } else { "disabled" },
        "livemode": row.environment == Environment::Production,
        "created_at": iso(row.created_at)?,
    }))
}

async fn load(call: &Call<'_>, id: &str) -> ApiResult<EndpointRow> {
    db::find(call.ctx, "webhook_endpoints_view", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint", id, None))
}

fn read_events(p: &mut till_shared::params::Params) -> ApiResult<Option<Vec<String>>> {
    let Some(events) = p.strings("enabled_events", 50)? else {
        return Ok(None);
    };
    for (i, event) in events.iter().enumerate() {
        let pattern_ok = event == "*"
            || (event.contains('.')
                && event.len() <= 100
                && event
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'));
        if !pattern_ok {
            return Err(ApiError::invalid(
                format!("enabled_events[{i}]"),
                "Event types look like `checkout.completed`, or `*` for all.",
            ));
        }
    }
    if events.is_empty() {
        return Err(ApiError::invalid(
            "enabled_events",
            "List at least one event type, or `*`.",
        ));
    }
    Ok(Some(if events.iter().any(|e| e == "*") {
        vec!["*".to_owned()]
    } else {
        events
    }))
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let url = p.required_string("url", 2048)?;
    let url = endpoint_url(call, &url)?;
    let events = read_events(&mut p)?.unwrap_or_else(|| vec!["*".to_owned()]);
    let description = p.string("description", 500)?;
    p.finish()?;
    let principal = call.principal()?;
    let id = WebhookEndpointId::generate();
    let secret = new_secret();
    // One statement, so two concurrent creations cannot both take the last place.
    let inserted = db::run(
        Sql::new(
            "INSERT INTO webhook_endpoints (id, account_id, environment, url, description,
             enabled_events, secret, created_at)
         SELECT :id, :account, :environment, :url, :description, :enabled_events, :secret, :now
         WHERE (SELECT count(*) FROM webhook_endpoints
                WHERE account_id = :account AND environment = :environment AND deleted = 0) < :max",
        )
        .bind("id", id.as_str())
        .scoped(principal)
        .bind("url", url.as_str())
        .bind("description", description)
        .bind("enabled_events", serde_json::to_string(&events)?)
        .bind("secret", secret.as_str())
        .bind("now", db::now_unix())
        .bind("max", MAX_ENDPOINTS)
        .prepare(&db::db(call.ctx)?)?,
    )
    .await?;
    if inserted != 1 {
        return Err(ApiError::conflict(
            "url",
            format!(
                "An account may have at most {MAX_ENDPOINTS} webhook endpoints in each environment; delete one first."
            ),
        ));
    }
    let mut body = render(load(call, id.as_str()).await?)?;
    // The only time the secret is shown (and after a roll).
    body["secret"] = json!(secret);
    Ok(Reply::created(body).carrying_secret())
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(load(call, call.id()?).await?)?))
}

pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(
        crate::api::list::list(call, "webhook_endpoints_view", Vec::new(), render).await?,
    ))
}

pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id).await?;
    let mut p = call.params()?;
    let url = match p.string("url", 2048)? {
        Some(url) => endpoint_url(call, &url)?,
        None => row.url,
    };
    let events = match read_events(&mut p)? {
        Some(events) => serde_json::to_string(&events)?,
        None => serde_json::to_string(&row.enabled_events)?,
    };
    let description = p
        .patch("description", |p, f| p.string(f, 500))?
        .unwrap_or(row.description);
    let enabled = match (
        p.one_of("status", &["enabled", "disabled"])?,
        p.boolean("enabled")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "enabled",
                "Send status or enabled, not both.",
            ));
        }
        (Some(status), None) => status == "enabled",
        (None, enabled) => enabled.unwrap_or(row.enabled),
    };
    p.finish()?;
    let db = db::db(call.ctx)?;
    let mut statements = vec![
        Sql::new(
            "UPDATE webhook_endpoints SET url = :url, enabled_events = :enabled_events,
                 description = :description, enabled = :enabled
             WHERE id = :id AND account_id = :account AND environment = :environment",
        )
        .bind("id", id.as_str())
        .scoped(call.principal()?)
        .bind("url", url.as_str())
        .bind("enabled_events", events)
        .bind("description", description)
        .bind("enabled", enabled)
        .prepare(&db)?,
    ];
    // Disabled: what was still to be sent to it is canceled in the same batch.
    if !enabled {
        statements.push(cancel_pending(&db, &id)?);
    }
    db.batch(statements).await?;
    Ok(Reply::ok(render(load(call, &id).await?)?))
}

/// Deletes the endpoint; its deliveries not yet sent are canceled in the same batch.
pub async fn delete(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    load(call, &id).await?;
    let db = db::db(call.ctx)?;
    db.batch(vec![
        Sql::new(
            "UPDATE webhook_endpoints SET deleted = 1, enabled = 0
             WHERE id = :id AND account_id = :account AND environment = :environment",
        )
        .bind("id", id.as_str())
        .scoped(call.principal()?)
        .prepare(&db)?,
        cancel_pending(&db, &id)?,
    ])
    .await?;
    Ok(Reply::ok(
        json!({"id": id, "object": "webhook_endpoint", "deleted": true}),
    ))
}

/// A new secret; the old one keeps signing beside it for a day.
pub async fn roll_secret(call: &mut Call<'_>) -> ApiResult<Reply> {
    call.params()?.finish()?;
    let id = call.id()?.to_owned();
    load(call, &id).await?;
    let secret = new_secret();
    db::update_scoped(
        call.ctx,
        call.principal()?,
        "webhook_endpoints",
        "previous_secret = secret, previous_until = :until, secret = :secret",
        &id,
        vec![
            ("until", (db::now_unix() + ROLL_OVERLAP_SECS).js()),
            ("secret", secret.js()),
        ],
    )
    .await?;
    let mut body = render(load(call, &id).await?)?;
    body["secret"] = json!(secret);
    Ok(Reply::ok(body).carrying_secret())
}

#[derive(Deserialize)]
struct DeliveryRow {
    id: String,
    event_id: String,
    #[serde(default)]
    event_type: Option<String>,
    endpoint_id: String,
    status: DeliveryStatus,
    attempts: i64,
    next_attempt_at: i64,
    created_at: i64,
}

fn render_delivery(row: DeliveryRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "webhook_delivery",
        "event_id": row.event_id,
        "event_type": row.event_type,
        "endpoint_id": row.endpoint_id,
        "status": row.status.as_str(),
        "attempt_count": row.attempts,
        "next_attempt_at": if row.status == DeliveryStatus::Pending { json!(iso(row.next_attempt_at)?) } else { Value::Null },
        "created_at": iso(row.created_at)?,
        "attempts": [],
    }))
}

/// Fills each rendered delivery's `attempts`: time, status code, duration, error.
async fn with_attempts(db: &D1Database, deliveries: &mut [Value]) -> ApiResult<()> {
    #[derive(Deserialize)]
    struct AttemptRow {
        attempted_at: i64,
        status_code: Option<i64>,
        duration_ms: i64,
        error: Option<String>,
    }
    for item in deliveries {
        let attempts: Vec<AttemptRow> =
            Sql::new("SELECT * FROM webhook_attempts WHERE delivery_id = :delivery ORDER BY rowid")
                .bind("delivery", item["id"].as_str().unwrap_or_default())
                .prepare(db)?
                .all()
                .await?
                .results()?;
        item["attempts"] = attempts
            .into_iter()
            .map(|a| Ok(json!({"at": iso(a.attempted_at)?, "status_code": a.status_code, "duration_ms": a.duration_ms, "error": a.error})))
            .collect::<ApiResult<Vec<Value>>>()?
            .into();
    }
    Ok(())
}

/// `GET /v1/webhook_endpoints/{id}/deliveries`: each delivery with its attempts.
pub async fn deliveries(call: &mut Call<'_>) -> ApiResult<Reply> {
    let endpoint = call.id()?.to_owned();
    load(call, &endpoint).await?;
    let mut body = crate::api::list::list(
        call,
        "webhook_deliveries_view",
        vec![Filter::eq("endpoint_id = :endpoint", endpoint.as_str())],
        render_delivery,
    )
    .await?;
    if let Some(items) = body["data"].as_array_mut() {
        with_attempts(&db::db(call.ctx)?, items).await?;
    }
    Ok(Reply::ok(body))
}

/// Every delivery of one event, to each endpoint, with its attempts.
pub async fn of_event(call: &Call<'_>, event_id: &str) -> ApiResult<Vec<Value>> {
    let db = db::db(call.ctx)?;
    let rows: Vec<DeliveryRow> =
        Sql::new("SELECT * FROM webhook_deliveries WHERE event_id = :event ORDER BY rowid")
            .bind("event", event_id)
            .prepare(&db)?
            .all()
            .await?
            .results()?;
    let mut items = rows
        .into_iter()
        .map(render_delivery)
        .collect::<ApiResult<Vec<Value>>>()?;
    with_attempts(&db, &mut items).await?;
    Ok(items)
}

/// Queues (again) the delivery of the events selected by `events_sql` (a `FROM events e
/// WHERE …` tail with named parameters, bound from `values`) to one endpoint: a new
/// delivery, or the existing one reset to be sent now. Answers how many were queued.
async fn requeue(
    call: &Call<'_>,
    endpoint_id: &str,
    events_sql: &str,
    values: Vec<(&str, JsValue)>,
) -> ApiResult<usize> {
    let mut sql = Sql::new(&format!(
        "INSERT INTO webhook_deliveries (id, account_id, environment, event_id, endpoint_id,
             next_attempt_at, created_at)
         SELECT {}, e.account_id, e.environment, e.id,
             :endpoint, :now, :now {events_sql}
         ON CONFLICT (event_id, endpoint_id)
             DO UPDATE SET status = 'PENDING', next_attempt_at = :now, claimed_until = NULL",
        db::events::delivery_id(":endpoint")
    ))
    .bind("endpoint", endpoint_id)
    .bind("now", db::now_unix());
    for (name, value) in values {
        sql = sql.bind(name, value);
    }
    let changed = db::run(sql.prepare(&db::db(call.ctx)?)?).await?;
    send_soon(call.ctx);
    Ok(changed)
}

/// `POST /v1/events/{id}/replay {endpoint_id}`: sends one event to one endpoint again,
/// with a fresh timestamp and signature.
pub async fn replay_event(call: &mut Call<'_>) -> ApiResult<Reply> {
    let event_id = call.id()?.to_owned();
    let mut p = call.params()?;
    let endpoint_id = p.required_string("endpoint_id", 100)?;
    p.finish()?;
    let principal = call.principal()?.clone();
    db::find::<crate::events::event::EventRow>(call.ctx, "events", &principal, &event_id)
        .await?
        .ok_or_else(|| ApiError::not_found("event", &event_id, None))?;
    let endpoint =
        db::find::<EndpointRow>(call.ctx, "webhook_endpoints_view", &principal, &endpoint_id)
            .await?
            .ok_or_else(|| {
                ApiError::not_found("webhook endpoint", &endpoint_id, Some("endpoint_id"))
            })?;
    let queued = requeue(
        call,
        &endpoint.id,
        "FROM events e WHERE e.id = :event",
        vec![("event", event_id.js())],
    )
    .await?;
    Ok(Reply::ok(
        json!({"object": "replay", "endpoint_id": endpoint.id, "queued": queued}),
    ))
}

/// `POST /v1/webhook_endpoints/{id}/replay {created_gte, created_lte}`: sends every event
/// of that time range that the endpoint subscribes to again.
pub async fn replay_range(call: &mut Call<'_>) -> ApiResult<Reply> {
    let endpoint_id = call.id()?.to_owned();
    let endpoint = load(call, &endpoint_id).await?;
    let mut p = call.params()?;
    let mut bound = |field: &str| -> ApiResult<i64> {
        let value = p
            .raw(field)
            .ok_or_else(|| ApiError::invalid(field.to_owned(), "This field is required."))?;
        till_shared::time::parse_request_time(&value)
            .map_err(|e| ApiError::invalid(field.to_owned(), e.to_string()))
    };
    let from = bound("created_gte")?;
    let to = bound("created_lte")?;
    p.finish()?;
    // A range that ends before it starts holds no event: nothing is queued.
    let principal = call.principal()?.clone();
    let queued = requeue(
        call,
        &endpoint.id,
        "FROM events e WHERE e.account_id = :account AND e.environment = :environment
           AND e.created_at BETWEEN :from AND :to
           AND (:wanted = '[\"*\"]' OR EXISTS (SELECT 1 FROM json_each(:wanted) j WHERE j.value = e.type))",
        vec![
            ("account", principal.account_id.js()),
            ("environment", principal.environment.as_str().js()),
            ("from", from.js()),
            ("to", to.js()),
            ("wanted", serde_json::to_string(&endpoint.enabled_events)?.js()),
        ],
    )
    .await?;
    Ok(Reply::ok(
        json!({"object": "replay", "endpoint_id": endpoint.id, "queued": queued}),
    ))
}
