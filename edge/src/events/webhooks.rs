//! Webhook endpoints and deliveries. A delivery row per (event, endpoint) is written in the
//! same D1 batch as the event (`db::events::FAN_OUT`); a sender posts it, signed, right after the
//! change commits (`wait_until`) and the cron trigger retries what failed, so nothing is
//! lost when the Worker restarts. Every attempt is recorded.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::ids::{WebhookEndpointId, random_base62};
use till_shared::params::validate_redirect_url;
use till_shared::webhooks::{
    DEFAULT_RETRY_SCHEDULE, header, next_attempt_at, parse_retry_schedule,
};
use worker::{D1Database, Env, Fetch, Headers, Method, Request, RequestInit};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::db::{self, Bind};
use crate::error::{ApiError, ApiResult};

/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries sent per run (after a change, or per cron tick).
const SEND_BATCH: i64 = 50;
/// An endpoint whose deliveries have failed for this long without a success is disabled.
const DISABLE_AFTER_FAILING_SECS: i64 = 3 * 24 * 3600;
/// After a roll, the old secret keeps signing for a day.
const ROLL_OVERLAP_SECS: i64 = 24 * 3600;

fn new_secret() -> String {
    format!("whsec_{}", random_base62(32))
}

#[derive(Deserialize)]
struct EndpointRow {
    id: String,
    url: String,
    description: Option<String>,
    enabled_events: String,
    enabled: i64,
    environment: String,
    created_at: i64,
}

fn render(row: EndpointRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "webhook_endpoint",
        "url": row.url,
        "description": row.description,
        "enabled_events": db::parse_json(Some(&row.enabled_events)),
        "status": if row.enabled == 1 { "enabled" } else { "disabled" },
        "livemode": row.environment == "PRODUCTION",
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
    let sandbox = call.sandbox();
    let mut p = call.params()?;
    let url = p.required_string("url", 2048)?;
    let url = validate_redirect_url(&url, sandbox).map_err(|m| ApiError::invalid("url", m))?;
    let events = read_events(&mut p)?.unwrap_or_else(|| vec!["*".to_owned()]);
    let description = p.string("description", 500)?;
    p.finish()?;
    let principal = call.principal()?;
    let id = WebhookEndpointId::generate();
    let secret = new_secret();
    db::db(call.ctx)?
        .prepare(
            "INSERT INTO webhook_endpoints (id, account_id, environment, url, description, enabled_events, secret, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&[
            id.as_str().js(),
            principal.account_id.js(),
            principal.environment.as_str().js(),
            url.js(),
            description.js(),
            serde_json::to_string(&events)?.js(),
            secret.js(),
            db::now_unix().js(),
        ])?
        .run()
        .await?;
    let mut body = render(load(call, id.as_str()).await?)?;
    // The only time the secret is shown (and after a roll).
    body["secret"] = json!(secret);
    Ok(Reply::created(body))
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
    let sandbox = call.sandbox();
    let mut p = call.params()?;
    let url = match p.string("url", 2048)? {
        Some(url) => {
            validate_redirect_url(&url, sandbox).map_err(|m| ApiError::invalid("url", m))?
        }
        None => row.url,
    };
    let events = match read_events(&mut p)? {
        Some(events) => serde_json::to_string(&events)?,
        None => row.enabled_events,
    };
    let description = p
        .patch("description", |p, f| p.string(f, 500))?
        .unwrap_or(row.description);
    let enabled = match p.one_of("status", &["enabled", "disabled"])? {
        Some(status) => status == "enabled",
        None => p.boolean("enabled")?.unwrap_or(row.enabled == 1),
    };
    p.finish()?;
    let principal = call.principal()?;
    db::db(call.ctx)?
        .prepare(
            "UPDATE webhook_endpoints SET url = ?1, enabled_events = ?2, description = ?3, enabled = ?4
             WHERE id = ?5 AND account_id = ?6 AND environment = ?7",
        )
        .bind(&[url.js(), events.js(), description.js(), enabled.js(), id.js(), principal.account_id.js(), principal.environment.as_str().js()])?
        .run()
        .await?;
    Ok(Reply::ok(render(load(call, &id).await?)?))
}

pub async fn delete(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    load(call, &id).await?;
    db::update_scoped(
        call.ctx,
        call.principal()?,
        "webhook_endpoints",
        "deleted = 1, enabled = 0",
        &id,
        &[],
    )
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
    let principal = call.principal()?;
    let secret = new_secret();
    db::db(call.ctx)?
        .prepare(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?1, secret = ?2
             WHERE id = ?3 AND account_id = ?4 AND environment = ?5",
        )
        .bind(&[
            (db::now_unix() + ROLL_OVERLAP_SECS).js(),
            secret.js(),
            id.js(),
            principal.account_id.js(),
            principal.environment.as_str().js(),
        ])?
        .run()
        .await?;
    let mut body = render(load(call, &id).await?)?;
    body["secret"] = json!(secret);
    Ok(Reply::ok(body))
}

#[derive(Deserialize)]
struct DeliveryRow {
    id: String,
    event_id: String,
    endpoint_id: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    created_at: i64,
}

fn render_delivery(row: DeliveryRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "webhook_delivery",
        "event_id": row.event_id,
        "endpoint_id": row.endpoint_id,
        "status": row.status,
        "attempt_count": row.attempts,
        "next_attempt_at": if row.status == "PENDING" { json!(iso(row.next_attempt_at)?) } else { Value::Null },
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
        let attempts: Vec<AttemptRow> = db
            .prepare("SELECT * FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY rowid")
            .bind(&[item["id"].as_str().unwrap_or_default().js()])?
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
        vec![Filter::eq("endpoint_id = ?", endpoint.as_str())],
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
    let rows: Vec<DeliveryRow> = db
        .prepare("SELECT * FROM webhook_deliveries WHERE event_id = ?1 ORDER BY rowid")
        .bind(&[event_id.js()])?
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

#[derive(Deserialize)]
struct Due {
    id: String,
    endpoint_id: String,
    attempts: i64,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<i64>,
    event_id: String,
    event_type: String,
    event_data: String,
    event_created: i64,
    account_id: String,
    environment: String,
}

/// Sends the deliveries that are due (at most [`SEND_BATCH`]), each claimed first so that
/// two senders never post the same one at the same time.
pub async fn send_due(env: &Env) -> ApiResult<usize> {
    let db = db::database(env)?;
    let now = db::now_unix();
    let due: Vec<Due> = db
        .prepare(format!(
            "SELECT d.id, d.endpoint_id, d.attempts, w.url, w.secret, w.previous_secret, w.previous_until, e.id AS event_id,
                    e.type AS event_type, e.data AS event_data, e.created_at AS event_created, e.account_id, e.environment
             FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN events e ON e.id = d.event_id
             WHERE d.status = 'PENDING' AND d.next_attempt_at <= ?1 AND (d.claimed_until IS NULL OR d.claimed_until < ?1)
             ORDER BY d.next_attempt_at LIMIT {SEND_BATCH}"
        ))
        .bind(&[now.js()])?
        .all()
        .await?
        .results()?;
    let schedule = env
        .var("WEBHOOK_RETRY_SCHEDULE")
        .ok()
        .and_then(|v| parse_retry_schedule(&v.to_string()))
        .unwrap_or_else(|| DEFAULT_RETRY_SCHEDULE.to_vec());
    let mut sent = 0;
    for delivery in due {
        let claimed = db::run(
            db.prepare(
                "UPDATE webhook_deliveries SET claimed_until = ?2 + 30
                 WHERE id = ?1 AND status = 'PENDING' AND (claimed_until IS NULL OR claimed_until < ?2)",
            )
            .bind(&[delivery.id.js(), now.js()])?,
        )
        .await?;
        if claimed == 1 {
            attempt(&db, &delivery, &schedule).await?;
            sent += 1;
        }
    }
    Ok(sent)
}

async fn attempt(db: &D1Database, delivery: &Due, schedule: &[i64]) -> ApiResult<()> {
    let event = json!({
        "id": delivery.event_id,
        "object": "event",
        "type": delivery.event_type,
        "created": iso(delivery.event_created)?,
        "livemode": delivery.environment == "PRODUCTION",
        "account": delivery.account_id,
        "data": db::parse_json(Some(&delivery.event_data)),
    });
    let body = serde_json::to_string(&event)?;
    let now = db::now_unix();
    let mut secrets = vec![delivery.secret.as_str()];
    if let (Some(previous), Some(until)) = (&delivery.previous_secret, delivery.previous_until)
        && until > now
    {
        secrets.push(previous);
    }
    let signature = header(now, &secrets, body.as_bytes());
    let started = db::now_millis();
    let outcome = post(
        &delivery.url,
        &body,
        &signature,
        &delivery.event_id,
        &delivery.event_type,
    )
    .await;
    let duration = i64::try_from(db::now_millis().saturating_sub(started)).unwrap_or(i64::MAX);
    let (status_code, error) = match &outcome {
        Ok(code) => (Some(i64::from(*code)), None),
        Err(error) => (None, Some(error.clone())),
    };
    let succeeded = status_code.is_some_and(|c| (200..300).contains(&c));
    let attempts = delivery.attempts + 1;
    let failures = u32::try_from(attempts).unwrap_or(u32::MAX);
    let next = if succeeded {
        None
    } else {
        next_attempt_at(
            schedule,
            failures,
            now,
            delivery.event_created,
            worker::js_sys::Math::random(),
        )
    };
    let status = match (succeeded, next) {
        (true, _) => "SUCCEEDED",
        (false, Some(_)) => "PENDING",
        (false, None) => "FAILED",
    };
    // The endpoint's health: a success clears it; the first failure starts the clock; three
    // days of failures switch it off, with an event saying so (fanned out in the batch).
    let health = if succeeded {
        db.prepare("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?1")
            .bind(&[delivery.endpoint_id.js()])?
    } else {
        db.prepare("UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, ?2) WHERE id = ?1")
            .bind(&[delivery.endpoint_id.js(), now.js()])?
    };
    let mut statements = vec![
        db.prepare(
            "INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, duration_ms, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&[
            till_shared::ids::WebhookAttemptId::generate().to_string().js(),
            delivery.id.js(),
            now.js(),
            status_code.js(),
            duration.js(),
            error.js(),
        ])?,
        db.prepare(
            "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4, claimed_until = NULL WHERE id = ?1",
        )
        .bind(&[delivery.id.js(), status.js(), attempts.js(), next.unwrap_or(now).js()])?,
        health,
    ];
    if !succeeded {
        let failing = "id = ?1 AND enabled = 1 AND failing_since <= ?2";
        statements.push(
            db.prepare(format!(
                "INSERT INTO events (id, account_id, environment, type, object_id, data, created_at)
                 SELECT 'evt_' || lower(hex(randomblob(12))), account_id, environment, 'webhook_endpoint.disabled', id,
                        json_object('id', id, 'object', 'webhook_endpoint', 'url', url, 'status', 'disabled',
                                    'reason', 'Deliveries failed for three days.'), ?3
                 FROM webhook_endpoints WHERE {failing}"
            ))
            .bind(&[delivery.endpoint_id.js(), (now - DISABLE_AFTER_FAILING_SECS).js(), now.js()])?,
        );
        statements.push(db.prepare(crate::db::events::FAN_OUT).bind(&[now.js()])?);
        statements.push(
            db.prepare(format!(
                "UPDATE webhook_endpoints SET enabled = 0 WHERE {failing}"
            ))
            .bind(&[
                delivery.endpoint_id.js(),
                (now - DISABLE_AFTER_FAILING_SECS).js(),
            ])?,
        );
    }
    db.batch(statements).await?;
    Ok(())
}

/// One signed POST with a timeout; answers the receiver's status code.
async fn post(
    url: &str,
    body: &str,
    signature: &str,
    event_id: &str,
    event_type: &str,
) -> Result<u16, String> {
    let headers = Headers::new();
    for (name, value) in [
        ("Content-Type", "application/json"),
        ("User-Agent", "Till-Webhooks/1"),
        ("Till-Signature", signature),
        ("Till-Event-Id", event_id),
        ("Till-Event-Type", event_type),
    ] {
        headers.set(name, value).map_err(|e| e.to_string())?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let fetch = Fetch::Request(request);
    let send = fetch.send();
    let timeout = worker::Delay::from(ATTEMPT_TIMEOUT);
    futures_util::pin_mut!(send);
    futures_util::pin_mut!(timeout);
    match futures_util::future::select(send, timeout).await {
        futures_util::future::Either::Left((Ok(response), _)) => Ok(response.status_code()),
        futures_util::future::Either::Left((Err(error), _)) => Err(error.to_string()),
        futures_util::future::Either::Right(_) => {
            Err(format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs()))
        }
    }
}

/// Sends due deliveries after the response (right after a change commits).
pub fn send_soon(ctx: &crate::ctx::Ctx) {
    let env = ctx.env.clone();
    ctx.spawn(async move {
        if let Err(error) = send_due(&env).await {
            worker::console_error!("webhooks: sending failed: {error:?}");
        }
    });
}

/// Queues (again) the delivery of the events selected by `events_sql` (a `FROM events e
/// WHERE …` tail binding ?3 onward) to one endpoint: a new delivery, or the existing one
/// reset to be sent now. Answers how many were queued.
async fn requeue(
    call: &Call<'_>,
    endpoint_id: &str,
    events_sql: &str,
    mut values: Vec<worker::wasm_bindgen::JsValue>,
) -> ApiResult<usize> {
    let mut bound = vec![endpoint_id.js(), db::now_unix().js()];
    bound.append(&mut values);
    let changed = db::run(
        db::db(call.ctx)?
            .prepare(format!(
                "INSERT INTO webhook_deliveries (id, account_id, environment, event_id, endpoint_id, next_attempt_at, created_at)
                 SELECT 'wd_' || lower(hex(randomblob(12))), e.account_id, e.environment, e.id, ?1, ?2, ?2 {events_sql}
                 ON CONFLICT (event_id, endpoint_id) DO UPDATE SET status = 'PENDING', next_attempt_at = ?2, claimed_until = NULL"
            ))
            .bind(&bound)?,
    )
    .await?;
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
        "FROM events e WHERE e.id = ?3",
        vec![event_id.js()],
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
    if to < from {
        return Err(ApiError::invalid(
            "created_lte",
            "created_lte must not be before created_gte.",
        ));
    }
    let principal = call.principal()?.clone();
    let queued = requeue(
        call,
        &endpoint.id,
        "FROM events e WHERE e.account_id = ?3 AND e.environment = ?4 AND e.created_at BETWEEN ?5 AND ?6
           AND (?7 = '[\"*\"]' OR EXISTS (SELECT 1 FROM json_each(?7) j WHERE j.value = e.type))",
        vec![principal.account_id.js(), principal.environment.as_str().js(), from.js(), to.js(), endpoint.enabled_events.js()],
    )
    .await?;
    Ok(Reply::ok(
        json!({"object": "replay", "endpoint_id": endpoint.id, "queued": queued}),
    ))
}
