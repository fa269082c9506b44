//! Test clocks (SANDBOX): a frozen time that customers created with `test_clock` follow.
//! Advancing a clock bills everything of its subscriptions that became due, in order,
//! before the clock reports READY again; a year of monthly renewals takes one call.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::time::parse_request_time;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::reply::Reply;
use crate::billing::subscriptions::{self, SubscriptionRow};
use crate::db::events::{self, Event, Guard};
use crate::db::{self, Bind};
use crate::error::{ApiError, ApiResult};

/// How far one advance may move a clock: five years.
const MAX_ADVANCE_SECS: i64 = 5 * 366 * 86_400;

#[derive(Deserialize)]
pub struct ClockRow {
    pub id: String,
    pub name: Option<String>,
    pub frozen_time: i64,
    pub status: String,
    pub created_at: i64,
}

pub fn render(row: ClockRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "test_clock",
        "name": row.name,
        "frozen_time": iso(row.frozen_time)?,
        "status": row.status,
        "livemode": false,
        "created_at": iso(row.created_at)?,
    }))
}

pub async fn load(call: &Call<'_>, id: &str, param: Option<&str>) -> ApiResult<ClockRow> {
    db::find(call.ctx, "test_clocks", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("test clock", id, param))
}

fn sandbox_only(call: &Call<'_>) -> ApiResult<()> {
    if call.sandbox() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Test clocks exist only in SANDBOX; use a sk_test_ key.",
        ))
    }
}

fn read_time(call: &mut Call<'_>) -> ApiResult<(i64, Option<String>)> {
    let mut p = call.params()?;
    let name = p.string("name", 200)?;
    let value = p
        .raw("frozen_time")
        .ok_or_else(|| ApiError::invalid("frozen_time", "frozen_time is required."))?;
    let at =
        parse_request_time(&value).map_err(|e| ApiError::invalid("frozen_time", e.to_string()))?;
    p.finish()?;
    if iso(at).is_err() || at < 0 {
        return Err(ApiError::invalid(
            "frozen_time",
            "frozen_time is out of range.",
        ));
    }
    Ok((at, name))
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    sandbox_only(call)?;
    let (frozen_time, name) = read_time(call)?;
    let principal = call.principal()?;
    let id = till_shared::ids::TestClockId::generate().to_string();
    db::db(call.ctx)?
        .prepare(
            "INSERT INTO test_clocks (id, account_id, environment, name, frozen_time, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&[
            id.js(),
            principal.account_id.js(),
            principal.environment.as_str().js(),
            name.js(),
            frozen_time.js(),
            db::now_unix().js(),
        ])?
        .run()
        .await?;
    Ok(Reply::created(render(load(call, &id, None).await?)?))
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(load(call, call.id()?, None).await?)?))
}

pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(
        crate::api::list::list(call, "test_clocks_view", Vec::new(), render).await?,
    ))
}

/// Deletes the clock; its subscriptions end (CANCELED) with it.
pub async fn delete(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    load(call, &id, None).await?;
    let db = db::db(call.ctx)?;
    let now = db::now_unix();
    // Its live subscriptions end with it, each with its `subscription.canceled` event,
    // written only if that subscription's UPDATE changed it.
    let live: Vec<SubscriptionRow> = db
        .prepare(
            "SELECT * FROM subscriptions WHERE test_clock_id = ?1 AND state NOT IN ('CANCELED', 'COMPLETED')",
        )
        .bind(&[id.js()])?
        .all()
        .await?
        .results()?;
    let mut statements = Vec::new();
    for row in &live {
        let ended = row.canceled(now, now);
        statements.push(
            db.prepare(
                "UPDATE subscriptions SET state = 'CANCELED', due_at = NULL, next_billing_time = NULL,
                     retry_at = NULL, canceled_at = ?2, ended_at = ?2, updated_at = ?2
                 WHERE id = ?1 AND state NOT IN ('CANCELED', 'COMPLETED')",
            )
            .bind(&[row.id.js(), now.js()])?,
        );
        statements.push(events::insert(
            &db,
            row.scope(),
            Event {
                kind: "subscription.canceled",
                object_id: &row.id,
                data: &subscriptions::render(&ended)?,
            },
            now,
            Guard::Applied,
        )?);
    }
    statements.push(
        db.prepare("DELETE FROM test_clocks WHERE id = ?1")
            .bind(&[id.js()])?,
    );
    statements.push(events::fan_out(&db, now)?);
    db.batch(statements).await?;
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(
        json!({"id": id, "object": "test_clock", "deleted": true}),
    ))
}

/// Moves the clock forward to `frozen_time` and bills what became due, in order. One
/// advance at a time: a second one while ADVANCING is a 409.
pub async fn advance(call: &mut Call<'_>) -> ApiResult<Reply> {
    sandbox_only(call)?;
    let id = call.id()?.to_owned();
    let clock = load(call, &id, None).await?;
    let (target, _) = read_time(call)?;
    if target <= clock.frozen_time {
        return Err(ApiError::invalid(
            "frozen_time",
            "A test clock only moves forward: frozen_time must be later than the clock's.",
        ));
    }
    if target - clock.frozen_time > MAX_ADVANCE_SECS {
        return Err(ApiError::invalid(
            "frozen_time",
            "One advance may move a clock at most five years.",
        ));
    }
    let db = db::db(call.ctx)?;
    let claimed = db::run(
        db.prepare(
            "UPDATE test_clocks SET status = 'ADVANCING', frozen_time = ?2
             WHERE id = ?1 AND status = 'READY' AND frozen_time < ?2",
        )
        .bind(&[id.js(), target.js()])?,
    )
    .await?;
    if claimed != 1 {
        return Err(ApiError::conflict(
            "frozen_time",
            "This test clock is already advancing; wait until it is READY.",
        ));
    }
    crate::billing::biller::finish_clock(&db, &id, target).await?;
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(load(call, &id, None).await?)?))
}
