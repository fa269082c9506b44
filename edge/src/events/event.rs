//! Events: every state change that merchants hear about, written in the same D1 batch as
//! the change. `data` is the object itself, so `event.data.id` and `event.data.metadata`
//! read as the hosted-checkout guide's webhook sample reads them.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::keys::Environment;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::reply::Reply;
use crate::error::{ApiError, ApiResult};

use crate::api::list::Filter;
use crate::db::{self, Sql};
use worker::D1Database;

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

/// Of the events in `:ids` (a JSON array), those none of whose deliveries is still pending.
const SETTLED: &str = "SELECT j.value FROM json_each(:ids) j
     WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                       WHERE p.event_id = j.value AND p.status = 'PENDING')";

/// Deletes at most `limit` events older than `cutoff` whose deliveries are all settled,
/// with those deliveries and their attempts: the event's `data` is every delivery's body,
/// and holds what the change was about (a shopper's email, say). One batch, so an event
/// never loses its deliveries without going itself. Answers how many events went.
pub async fn forget_settled(db: &D1Database, cutoff: i64, limit: i64) -> ApiResult<usize> {
    #[derive(Deserialize)]
    struct Old {
        id: String,
    }
    let old: Vec<Old> = Sql::new(
        "SELECT e.id FROM events e
         WHERE e.created_at < :cutoff
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                           WHERE p.event_id = e.id AND p.status = 'PENDING')
         ORDER BY e.created_at LIMIT :limit",
    )
    .bind("cutoff", cutoff)
    .bind("limit", limit)
    .prepare(db)?
    .all()
    .await?
    .results()?;
    if old.is_empty() {
        return Ok(0);
    }
    let ids = serde_json::to_string(&old.iter().map(|o| o.id.as_str()).collect::<Vec<_>>())?;
    let statement = |sql: String| Sql::new(&sql).bind("ids", ids.as_str()).prepare(db);
    let results = db
        .batch(vec![
            statement(format!(
                "DELETE FROM webhook_attempts WHERE delivery_id IN
                     (SELECT id FROM webhook_deliveries WHERE event_id IN ({SETTLED}))"
            ))?,
            statement(format!(
                "DELETE FROM webhook_deliveries WHERE event_id IN ({SETTLED})"
            ))?,
            statement(format!("DELETE FROM events WHERE id IN ({SETTLED})"))?,
        ])
        .await?;
    Ok(db::changes(&results, 2))
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
    filters.extend(crate::api::list::created_range(call)?);
    Ok(Reply::ok(
        crate::api::list::list(call, "events_view", filters, render).await?,
    ))
}
