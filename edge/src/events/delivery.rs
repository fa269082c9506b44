//! Webhook delivery. A delivery row per (event, endpoint) is written in the same D1 batch
//! as the event (`db::events::fan_out`); a sender posts it, signed, right after the change
//! commits (`wait_until`), and the cron trigger retries what failed, so nothing is lost
//! when the Worker restarts. Every attempt is recorded, and an endpoint failing for three
//! days is switched off with an event saying so.

use std::time::Duration;

use serde::Deserialize;
use till_shared::ids::WebhookAttemptId;
use till_shared::keys::Environment;
use till_shared::webhooks::{
    DEFAULT_RETRY_SCHEDULE, DeliveryStatus, Reach, check_delivery_url, header, next_attempt_at,
    parse_retry_schedule,
};
use worker::{
    D1Database, D1PreparedStatement, Env, Fetch, Headers, Method, Request, RequestInit,
    RequestRedirect,
};

use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Sql};
use crate::error::ApiResult;
use crate::events::event::{self, EventRow};
use crate::events::webhooks::{EndpointRow, render};

/// How long one attempt may take: a receiver should answer at once and do its work later.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Deliveries sent per run (after a change, or per cron tick).
const SEND_BATCH: i64 = 50;
/// At most this many of one run's deliveries go to one endpoint, so a backlog at one
/// endpoint leaves room for everyone else's.
const PER_ENDPOINT: i64 = 10;
/// Attempts in flight at once (the runtime allows six open connections per invocation).
const CONCURRENCY: usize = 6;
/// An endpoint whose deliveries have failed for this long without a success is disabled.
const DISABLE_AFTER_FAILING_SECS: i64 = 3 * 24 * 3600;
/// How long a sender holds the deliveries it claimed: longer than a full run of hanging
/// receivers (`SEND_BATCH / CONCURRENCY` rounds of `ATTEMPT_TIMEOUT`).
const CLAIM_SECS: i64 = 120;

/// The deliveries due now, fairly: each account's (and environment's) turn comes in
/// round-robin order, its endpoints' in turn within it, at most [`PER_ENDPOINT`] each, so
/// one account's thousand pending deliveries never push another's out of the run.
const DUE: &str = "WITH due AS (
         SELECT d.id, d.account_id, d.environment, d.endpoint_id, d.next_attempt_at,
                row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS nth
         FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
         WHERE d.status = 'PENDING' AND d.next_attempt_at <= :now
           AND (d.claimed_until IS NULL OR d.claimed_until < :now)
           AND w.enabled = 1 AND w.deleted = 0),
     turns AS (
         SELECT id, next_attempt_at,
                row_number() OVER (PARTITION BY account_id, environment ORDER BY nth, next_attempt_at, id) AS turn
         FROM due WHERE nth <= :per_endpoint)
     SELECT id FROM turns ORDER BY turn, next_attempt_at, id LIMIT :batch";

/// Claims the chosen deliveries in one statement (only those still pending and unclaimed)
/// and answers what sending them needs.
const CLAIM: &str = "UPDATE webhook_deliveries SET claimed_until = :now + :claim_secs
     WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'PENDING'
       AND (claimed_until IS NULL OR claimed_until < :now)
     RETURNING id, endpoint_id, attempts,
         (SELECT url FROM webhook_endpoints w WHERE w.id = endpoint_id) AS url,
         (SELECT secret FROM webhook_endpoints w WHERE w.id = endpoint_id) AS secret,
         (SELECT previous_secret FROM webhook_endpoints w WHERE w.id = endpoint_id) AS previous_secret,
         (SELECT previous_until FROM webhook_endpoints w WHERE w.id = endpoint_id) AS previous_until,
         event_id,
         (SELECT type FROM events e WHERE e.id = event_id) AS event_type,
         (SELECT data FROM events e WHERE e.id = event_id) AS event_data,
         (SELECT created_at FROM events e WHERE e.id = event_id) AS event_created,
         account_id, environment";

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
    environment: Environment,
}

/// What one attempt came to.
struct Attempt {
    at: i64,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// Sends the deliveries that are due (at most [`SEND_BATCH`], chosen fairly across
/// accounts), [`CONCURRENCY`] at a time, each claimed first so that two senders never
/// post the same one at the same time. Answers how many were attempted.
pub async fn send_due(env: &Env) -> ApiResult<usize> {
    use futures_util::StreamExt;
    let db = db::database(env)?;
    let now = db::now_unix();
    #[derive(Deserialize)]
    struct Chosen {
        id: String,
    }
    let chosen: Vec<Chosen> = Sql::new(DUE)
        .bind("now", now)
        .bind("per_endpoint", PER_ENDPOINT)
        .bind("batch", SEND_BATCH)
        .prepare(&db)?
        .all()
        .await?
        .results()?;
    if chosen.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = chosen.iter().map(|c| c.id.as_str()).collect();
    let mut claimed: Vec<Due> = Sql::new(CLAIM)
        .bind("now", now)
        .bind("claim_secs", CLAIM_SECS)
        .bind("ids", serde_json::to_string(&ids)?)
        .prepare(&db)?
        .all()
        .await?
        .results()?;
    // RETURNING comes in no particular order: send in the fair order chosen.
    claimed.sort_by_key(|due| ids.iter().position(|id| *id == due.id));
    let schedule = env
        .var("WEBHOOK_RETRY_SCHEDULE")
        .ok()
        .and_then(|v| parse_retry_schedule(&v.to_string()))
        .unwrap_or_else(|| DEFAULT_RETRY_SCHEDULE.to_vec());
    let attempted = claimed.len();
    let outcomes: Vec<ApiResult<()>> = futures_util::stream::iter(claimed.iter())
        .map(|delivery| async {
            let sandbox = delivery.environment == Environment::Sandbox;
            let attempt = send(delivery, crate::ctx::webhook_reach(env, sandbox)).await?;
            record(&db, delivery, &attempt, &schedule).await
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        outcome?;
    }
    Ok(attempted)
}

/// Posts the delivery's event, signed with the endpoint's secret (and its previous one
/// during a roll).
async fn send(delivery: &Due, reach: Reach) -> ApiResult<Attempt> {
    let body = serde_json::to_string(&event::render(EventRow {
        id: delivery.event_id.clone(),
        account_id: delivery.account_id.clone(),
        environment: delivery.environment,
        kind: delivery.event_type.clone(),
        data: delivery.event_data.clone(),
        created_at: delivery.event_created,
    })?)?;
    let now = db::now_unix();
    let mut secrets = vec![delivery.secret.as_str()];
    if let (Some(previous), Some(until)) = (&delivery.previous_secret, delivery.previous_until)
        && until > now
    {
        secrets.push(previous);
    }
    let signature = header(now, &secrets, body.as_bytes());
    let started = db::now_millis();
    // Checked again before every attempt: the rules may be stricter than when it was stored.
    let outcome = match check_delivery_url(&delivery.url, reach) {
        Ok(_) => {
            post(
                &delivery.url,
                &body,
                &signature,
                &delivery.event_id,
                &delivery.event_type,
            )
            .await
        }
        Err(refused) => Err(format!("not sent: {refused}")),
    };
    let (status_code, error) = match outcome {
        Ok(code) => (Some(i64::from(code)), None),
        Err(error) => (None, Some(error)),
    };
    Ok(Attempt {
        at: now,
        status_code,
        error,
        duration_ms: i64::try_from(db::now_millis().saturating_sub(started)).unwrap_or(i64::MAX),
    })
}

/// Writes the attempt, the delivery's next state (sent, retried at the schedule's next
/// time, or failed for good) and the endpoint's health, in one batch.
async fn record(
    db: &D1Database,
    delivery: &Due,
    attempt: &Attempt,
    schedule: &[i64],
) -> ApiResult<()> {
    let attempts = delivery.attempts + 1;
    let next = if attempt.succeeded() {
        None
    } else {
        next_attempt_at(
            schedule,
            u32::try_from(attempts).unwrap_or(u32::MAX),
            attempt.at,
            delivery.event_created,
            worker::js_sys::Math::random(),
        )
    };
    let status = DeliveryStatus::after(attempt.succeeded(), next.is_some()).as_str();
    let mut statements = vec![
        Sql::new(
            "INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, duration_ms, error)
             VALUES (:id, :delivery, :at, :status_code, :duration_ms, :error)",
        )
        .bind("id", WebhookAttemptId::generate().to_string())
        .bind("delivery", delivery.id.as_str())
        .bind("at", attempt.at)
        .bind("status_code", attempt.status_code)
        .bind("duration_ms", attempt.duration_ms)
        .bind("error", attempt.error.clone())
        .prepare(db)?,
        Sql::new(
            "UPDATE webhook_deliveries SET status = :status, attempts = :attempts,
                 next_attempt_at = :next, claimed_until = NULL
             WHERE id = :id AND status = 'PENDING'",
        )
        .bind("status", status)
        .bind("attempts", attempts)
        .bind("next", next.unwrap_or(attempt.at))
        .bind("id", delivery.id.as_str())
        .prepare(db)?,
    ];
    statements.extend(health(db, &delivery.endpoint_id, attempt).await?);
    db.batch(statements).await?;
    Ok(())
}

/// The endpoint's health after an attempt: a success clears it; the first failure starts
/// the clock; the failure that finds it failing for three days switches the endpoint off,
/// with a `webhook_endpoint.disabled` event carrying the endpoint as its GET shows it.
async fn health(
    db: &D1Database,
    endpoint_id: &str,
    attempt: &Attempt,
) -> ApiResult<Vec<D1PreparedStatement>> {
    if attempt.succeeded() {
        return Ok(vec![
            Sql::new("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = :id")
                .bind("id", endpoint_id)
                .prepare(db)?,
        ]);
    }
    let mut statements = vec![
        Sql::new(
            "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, :now) WHERE id = :id",
        )
        .bind("now", attempt.at)
        .bind("id", endpoint_id)
        .prepare(db)?,
    ];
    let endpoint: Option<EndpointRow> =
        Sql::new("SELECT * FROM webhook_endpoints_view WHERE id = :id")
            .bind("id", endpoint_id)
            .prepare(db)?
            .first(None)
            .await?;
    let Some(endpoint) = endpoint.filter(|e| {
        e.enabled
            && e.failing_since
                .is_some_and(|since| since <= attempt.at - DISABLE_AFTER_FAILING_SECS)
    }) else {
        return Ok(statements);
    };
    statements.push(
        Sql::new("UPDATE webhook_endpoints SET enabled = 0 WHERE id = :id AND enabled = 1")
            .bind("id", endpoint_id)
            .prepare(db)?,
    );
    let scope = Scope {
        account_id: &endpoint.account_id,
        environment: endpoint.environment.as_str(),
    };
    let disabled = EndpointRow {
        enabled: false,
        ..endpoint.clone()
    };
    let data = render(disabled)?;
    let event = Event {
        kind: "webhook_endpoint.disabled",
        object_id: endpoint_id,
        data: &data,
    };
    statements.extend(events::record(
        db,
        scope,
        vec![(event, Guard::Applied)],
        attempt.at,
    )?);
    // After the event, whose guard is the UPDATE just before it.
    statements.push(cancel_pending(db, endpoint_id)?);
    Ok(statements)
}

/// Cancels the endpoint's deliveries not yet sent: run in the batch that deletes or
/// disables it, so nothing more goes out to it (one being sent right now is recorded as
/// canceled too, whatever its answer).
pub fn cancel_pending(db: &D1Database, endpoint_id: &str) -> ApiResult<D1PreparedStatement> {
    Sql::new(
        "UPDATE webhook_deliveries SET status = 'CANCELED', claimed_until = NULL
         WHERE endpoint_id = :endpoint AND status = 'PENDING'",
    )
    .bind("endpoint", endpoint_id)
    .prepare(db)
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
    // A redirect is not followed: it is the receiver's answer, a failed attempt (a 3xx),
    // and never a way to make the sender reach another address.
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
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
