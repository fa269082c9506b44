//! Handles to the Worker's storage bindings and the clock.

use worker::{D1Database, kv::KvStore};

use crate::error::ApiResult;
use crate::router::Ctx;

/// The system of record.
pub fn db(ctx: &Ctx) -> ApiResult<D1Database> {
    Ok(ctx.env.d1("DB")?)
}

/// The read cache of the short-link hot path. Nothing that takes money trusts it.
pub fn cache(ctx: &Ctx) -> ApiResult<KvStore> {
    Ok(ctx.env.kv("CACHE")?)
}

/// Milliseconds since the Unix epoch, from the platform clock.
pub fn now_millis() -> u64 {
    worker::Date::now().as_millis()
}

/// Seconds since the Unix epoch; what rows store.
pub fn now_unix() -> i64 {
    i64::try_from(now_millis() / 1000).unwrap_or(i64::MAX)
}
