//! `Idempotency-Key` on POST: the first response is stored and replayed; the same key with
//! a different request is refused. The key is claimed by an insert that D1 lets only one
//! request win, so two concurrent retries never both run.

use till_shared::api::ErrorCode;

use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::db::{self, Principal, Sql};
use crate::error::{ApiError, ApiResult};

pub enum Claim {
    /// This request owns the key: run it, then [`finish`].
    Fresh,
    /// The key was used before with the same request: answer this again.
    Replay(Reply),
}

/// A statement about one key of the caller's: `:account`, `:environment`, `:key` bound.
fn keyed(sql: &str, principal: &Principal, key: &str) -> Sql {
    Sql::new(sql).scoped(principal).bind("key", key)
}

pub async fn claim(
    ctx: &Ctx,
    principal: &Principal,
    key: &str,
    request_hash: &str,
) -> ApiResult<Claim> {
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "Idempotency keys must be 1 to 255 characters.",
        ));
    }
    let db = db::db(ctx)?;
    let inserted: Option<String> = keyed(
        "INSERT INTO idempotency_keys (account_id, environment, key, request_hash, created_at)
         VALUES (:account, :environment, :key, :hash, :now) ON CONFLICT DO NOTHING RETURNING key",
        principal,
        key,
    )
    .bind("hash", request_hash)
    .bind("now", db::now_unix())
    .prepare(&db)?
    .first(Some("key"))
    .await?;
    if inserted.is_some() {
        return Ok(Claim::Fresh);
    }
    #[derive(serde::Deserialize)]
    struct Stored {
        request_hash: String,
        status: u16,
        body: Option<String>,
    }
    let stored: Stored = keyed(
        "SELECT request_hash, status, body FROM idempotency_keys
         WHERE account_id = :account AND environment = :environment AND key = :key",
        principal,
        key,
    )
    .prepare(&db)?
    .first(None)
    .await?
    .ok_or_else(|| ApiError::internal("idempotency row vanished"))?;
    if stored.request_hash != request_hash {
        return Err(ApiError::new(
            ErrorCode::IdempotencyError,
            "This Idempotency-Key was already used with a different request.",
        ));
    }
    if stored.status == 0 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        ));
    }
    let body = serde_json::from_str(stored.body.as_deref().unwrap_or("null"))?;
    Ok(Claim::Replay(
        Reply::json(stored.status, body).with_header("Idempotent-Replayed", "true"),
    ))
}

/// Stores the outcome for replay; a server error releases the key so a retry can run.
pub async fn finish(ctx: &Ctx, principal: &Principal, key: &str, reply: &Reply) -> ApiResult<()> {
    let db = db::db(ctx)?;
    let statement = if reply.status >= 500 {
        keyed(
            "DELETE FROM idempotency_keys
             WHERE account_id = :account AND environment = :environment AND key = :key",
            principal,
            key,
        )
    } else {
        keyed(
            "UPDATE idempotency_keys SET status = :status, body = :body
             WHERE account_id = :account AND environment = :environment AND key = :key",
            principal,
            key,
        )
        .bind("status", i64::from(reply.status))
        .bind("body", serde_json::to_string(&reply.body)?)
    }
    .prepare(&db)?;
    statement.run().await?;
    Ok(())
}
