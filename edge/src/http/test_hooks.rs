//! Hooks for Till's own black-box tests, present only when the Worker variable
//! `TEST_HOOKS` is `enabled` (the test harness sets it; production never does) and guarded
//! by the operator token. `POST /__test/d1 {"sql": "SELECT …"}` runs one query on the
//! Worker's own D1 binding, so tests can check what is stored without a second SQLite
//! reader contending for the database file; `"write": true` allows one UPDATE or INSERT,
//! for tests that need time to have passed (a session past its expiry) or many rows at once
//! (a thousand due subscriptions).
//!
//! The cron trigger has no hook: tests fire the Worker's real `scheduled` entry (see
//! `till_tests::local::LocalWorker::run_scheduled`).
//!
//! `POST /__test/panic` panics on purpose (see [`panic`]).

use serde_json::{Value, json};
use worker::Request;

use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::http::auth;
use crate::http::body::read_body;

pub fn enabled(ctx: &Ctx) -> bool {
    ctx.env
        .var("TEST_HOOKS")
        .is_ok_and(|v| v.to_string() == "enabled")
}

/// `POST /__test/kv {"key"}`: what the KV cache holds under `key` (or null).
pub async fn kv(mut req: Request, ctx: &Ctx) -> ApiResult<Reply> {
    auth::require_operator(&req, ctx)?;
    let (body, _) = read_body(&mut req).await?;
    let key = body["key"].as_str().unwrap_or_default().to_owned();
    let value = db::cache(ctx)?
        .get(&key)
        .text()
        .await
        .map_err(ApiError::internal)?;
    Ok(Reply::ok(json!({ "key": key, "value": value })))
}

/// `POST /__test/panic`: a Rust panic, which aborts the Wasm instance, so tests can prove
/// the entry answers in the documented error shape and the next request runs on a fresh
/// instance with nothing stored lost.
pub fn panic(req: &Request, ctx: &Ctx) -> ApiResult<Reply> {
    auth::require_operator(req, ctx)?;
    panic!("panic requested through /__test/panic");
}

/// `POST /__test/overflow`: unbounded recursion, until the engine's stack runs out (a
/// RangeError, not a Wasm trap), so tests can prove the entry recovers from that too.
pub fn overflow(req: &Request, ctx: &Ctx) -> ApiResult<Reply> {
    auth::require_operator(req, ctx)?;
    Ok(Reply::ok(json!({ "depth": deeper(0) })))
}

/// Recurses until a stack runs out; the opaque result keeps it from becoming a loop.
fn deeper(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return depth;
    }
    std::hint::black_box(deeper(depth + 1)).wrapping_add(1)
}

pub async fn query(mut req: Request, ctx: &Ctx) -> ApiResult<Reply> {
    auth::require_operator(&req, ctx)?;
    let (body, _) = read_body(&mut req).await?;
    let sql = body["sql"].as_str().unwrap_or_default().trim().to_owned();
    let verbs: &[&str] = if body["write"] == true {
        &["UPDATE", "INSERT"]
    } else {
        &["SELECT"]
    };
    let allowed = verbs.iter().any(|verb| {
        sql.get(..verb.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(verb))
    }) && !sql.contains(';');
    if !allowed {
        return Err(ApiError::invalid(
            "sql",
            format!("Only one {} statement.", verbs.join(" or ")),
        ));
    }
    let rows: Vec<Value> = db::db(ctx)?.prepare(sql).all().await?.results()?;
    Ok(Reply::ok(json!({ "results": rows })))
}
