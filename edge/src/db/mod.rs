//! Statements on D1: binding values, scoped lookups and updates, and the rows' shared
//! shapes (stored JSON, unique violations).

use serde::de::DeserializeOwned;
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, kv::KvStore};

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult};

/// The system of record.
pub fn db(ctx: &Ctx) -> ApiResult<D1Database> {
    Ok(ctx.db()?)
}

/// The system of record, from the environment alone (the cron trigger has no request).
pub fn database(env: &worker::Env) -> ApiResult<D1Database> {
    Ok(crate::ctx::database(env)?)
}

/// The read cache of the short-link hot path. Nothing that takes money trusts it.
pub fn cache(ctx: &Ctx) -> ApiResult<KvStore> {
    Ok(ctx.cache()?)
}

pub use crate::ctx::{now_millis, now_unix};

pub mod columns;
pub mod events;
mod scope;
pub mod sql;

pub use scope::{Principal, Seller};
pub use sql::Sql;

/// A D1 value from Rust values: `None` is SQL NULL, booleans are 0/1.
pub trait Bind {
    fn js(&self) -> JsValue;
}

impl Bind for &str {
    fn js(&self) -> JsValue {
        JsValue::from_str(self)
    }
}

impl Bind for String {
    fn js(&self) -> JsValue {
        JsValue::from_str(self)
    }
}

impl Bind for i64 {
    fn js(&self) -> JsValue {
        JsValue::from_f64(*self as f64)
    }
}

impl Bind for bool {
    fn js(&self) -> JsValue {
        JsValue::from_f64(if *self { 1.0 } else { 0.0 })
    }
}

impl Bind for JsValue {
    fn js(&self) -> JsValue {
        self.clone()
    }
}

impl<T: Bind> Bind for Option<T> {
    fn js(&self) -> JsValue {
        self.as_ref().map_or(JsValue::NULL, Bind::js)
    }
}

/// Stored JSON (metadata, line items) as text; `None` stays NULL.
pub fn json_text(value: Option<&Value>) -> Option<String> {
    value.map(Value::to_string)
}

/// Stored JSON text back to a value (`null` when absent or unreadable).
pub fn parse_json(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// One row of `table` with this id in the caller's account and environment.
pub async fn find<T: DeserializeOwned>(
    ctx: &Ctx,
    table: &str,
    principal: &Principal,
    id: &str,
) -> ApiResult<Option<T>> {
    find_in(ctx, table, principal.seller(), id).await
}

/// One row of `table` with this id in `seller`'s account and environment.
pub async fn find_in<T: DeserializeOwned>(
    ctx: &Ctx,
    table: &str,
    seller: Seller<'_>,
    id: &str,
) -> ApiResult<Option<T>> {
    Ok(Sql::new(&format!(
        "SELECT * FROM {table} WHERE id = :id AND account_id = :account AND environment = :environment"
    ))
    .bind("id", id)
    .selling(seller)
    .prepare(&db(ctx)?)?
    .first(None)
    .await?)
}

/// Runs a statement that must change exactly one row.
pub async fn run(statement: D1PreparedStatement) -> ApiResult<usize> {
    let result = statement.run().await?;
    let changes = result.meta()?.and_then(|m| m.changes).unwrap_or(0);
    Ok(changes)
}

/// Whether an error from D1 is a UNIQUE constraint violation (a duplicate slug or code).
pub fn is_unique_violation(error: &worker::Error) -> bool {
    error.to_string().contains("UNIQUE constraint failed")
}

/// The same, once the error is the API's.
pub fn violated_unique(error: &ApiError) -> bool {
    matches!(error, ApiError::Internal(detail) if detail.contains("UNIQUE constraint failed"))
}

/// `UPDATE {table} SET {set} WHERE` the row `id` of the caller's account and environment;
/// `set` names its parameters (`updated_at = :now`), bound from `values`. Answers how many
/// rows changed.
pub async fn update_scoped(
    ctx: &Ctx,
    principal: &Principal,
    table: &str,
    set: &str,
    id: &str,
    values: Vec<(&str, JsValue)>,
) -> ApiResult<usize> {
    let mut sql = Sql::new(&format!(
        "UPDATE {table} SET {set} WHERE id = :id AND account_id = :account AND environment = :environment"
    ))
    .bind("id", id)
    .scoped(principal);
    for (name, value) in values {
        sql = sql.bind(name, value);
    }
    run(sql.prepare(&db(ctx)?)?).await
}

/// Rows changed by statement `i` of a batch.
pub fn changes(results: &[D1Result], i: usize) -> usize {
    results
        .get(i)
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0)
}
