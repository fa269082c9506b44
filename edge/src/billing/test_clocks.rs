//! Test clocks (SANDBOX): a frozen time that customers created with `test_clock` follow.
//! Advancing a clock bills everything of its subscriptions that became due, in order,
//! before the clock reports READY again; a year of monthly renewals takes one call.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::billing::{ClockStatus, MAX_CLOCK_CYCLES, clock_advance_limit};
use till_shared::catalog::Interval;
use till_shared::time::parse_request_time;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::reply::Reply;
use crate::billing::biller;
use crate::billing::subscriptions::{
    self, Canceler, Cancellation, SubscriptionRow, cancel_statement,
};
use crate::db::events::{self, Event, Guard};
use crate::db::{self, Sql};
use crate::error::{ApiError, ApiResult};

/// How far one advance may move a clock: five years.
const MAX_ADVANCE_SECS: i64 = 5 * 366 * 86_400;

#[derive(Deserialize)]
pub struct ClockRow {
    pub id: String,
    pub name: Option<String>,
    pub frozen_time: i64,
    pub status: ClockStatus,
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
    // parse_request_time keeps to years 1–9999, which every response can render.
    p.finish()?;
    Ok((at, name))
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    sandbox_only(call)?;
    let (frozen_time, name) = read_time(call)?;
    let principal = call.principal()?;
    let id = till_shared::ids::TestClockId::generate().to_string();
    Sql::new(
        "INSERT INTO test_clocks (id, account_id, environment, name, frozen_time, created_at)
         VALUES (:id, :account_id, :environment, :name, :frozen_time, :created_at)",
    )
    .bind("id", id.as_str())
    .bind("account_id", principal.account_id.as_str())
    .bind("environment", principal.environment.as_str())
    .bind("name", name)
    .bind("frozen_time", frozen_time)
    .bind("created_at", db::now_unix())
    .prepare(&db::db(call.ctx)?)?
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

/// Deletes the clock; its live subscriptions end (CANCELED) with it, each with its
/// `subscription.canceled` event, written only if that subscription's cancellation
/// applied.
pub async fn delete(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    load(call, &id, None).await?;
    let db = db::db(call.ctx)?;
    let now = db::now_unix();
    let live: Vec<SubscriptionRow> = Sql::new(
        "SELECT * FROM subscriptions
         WHERE test_clock_id = :clock AND state NOT IN ('CANCELED', 'COMPLETED')",
    )
    .bind("clock", id.as_str())
    .prepare(&db)?
    .all()
    .await?
    .results()?;
    let cancellation = Cancellation {
        canceled_at: now,
        ended_at: now,
        updated_at: now,
    };
    let mut statements = Vec::new();
    for row in &live {
        statements.push(cancel_statement(
            &db,
            &row.id,
            &cancellation,
            Canceler::ClockDeletion,
        )?);
        let data = subscriptions::render(&row.canceled(&cancellation))?;
        let event = Event {
            kind: "subscription.canceled",
            object_id: &row.id,
            data: &data,
        };
        statements.push(events::insert(
            &db,
            row.scope(),
            event,
            now,
            Guard::Applied,
        )?);
    }
    statements.push(
        Sql::new("DELETE FROM test_clocks WHERE id = :id")
            .bind("id", id.as_str())
            .prepare(&db)?,
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
    // Both bounds are the clock's own time: a well-formed time that conflicts with it.
    if target <= clock.frozen_time {
        return Err(ApiError::conflict(
            "frozen_time",
            "A test clock only moves forward: frozen_time must be later than the clock's.",
        ));
    }
    if target - clock.frozen_time > MAX_ADVANCE_SECS {
        return Err(ApiError::conflict(
            "frozen_time",
            "One advance may move a clock at most five years.",
        ));
    }
    let db = db::db(call.ctx)?;
    let limit = advance_limit(&db, &id, clock.frozen_time).await?;
    if let Some(limit) = limit.filter(|limit| target > *limit) {
        return Err(ApiError::invalid(
            "frozen_time",
            format!(
                "One advance may bill each subscription at most {MAX_CLOCK_CYCLES} times; \
                 this clock's subscriptions bill often enough that it may move at most to {}.",
                iso(limit)?
            ),
        ));
    }
    let claimed = db::run(
        Sql::new(
            "UPDATE test_clocks SET status = 'ADVANCING', frozen_time = :target
             WHERE id = :id AND status = 'READY' AND frozen_time < :target",
        )
        .bind("id", id.as_str())
        .bind("target", target)
        .prepare(&db)?,
    )
    .await?;
    if claimed != 1 {
        return Err(ApiError::conflict(
            "frozen_time",
            "This test clock is already advancing; wait until it is READY.",
        ));
    }
    crate::billing::biller::finish_clock(&call.ctx.env, &db, &id, target, biller::deadline())
        .await?;
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(load(call, &id, None).await?)?))
}

/// How far the clock at `from` may move in one advance: bounded by its live subscriptions'
/// shortest period (`till_shared::billing::clock_advance_limit`).
async fn advance_limit(
    db: &worker::D1Database,
    clock_id: &str,
    from: i64,
) -> ApiResult<Option<i64>> {
    #[derive(Deserialize)]
    struct Period {
        interval: Interval,
        interval_count: u32,
    }
    let periods: Vec<Period> = Sql::new(
        "SELECT DISTINCT interval, interval_count FROM subscriptions
         WHERE test_clock_id = :clock AND state NOT IN ('CANCELED', 'COMPLETED')",
    )
    .bind("clock", clock_id)
    .prepare(db)?
    .all()
    .await?
    .results()?;
    Ok(clock_advance_limit(
        from,
        periods.into_iter().map(|p| (p.interval, p.interval_count)),
    ))
}
