//! `Idempotency-Key` on POST: the first response is stored and replayed; the same key with
//! a different request is refused. The key is claimed by an insert that D1 lets only one
//! request win, so two concurrent retries never both run.

use till_shared::api::ErrorCode;
use worker::wasm_bindgen::JsValue;

use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::db::Principal;
use crate::db::{self, Bind};
use crate::error::{ApiError, ApiResult};

pub enum Claim {
    /// This request owns the key: run it, then [`finish`].
    Fresh,
    /// The key was used before with the same request: answer this again.
    Replay(Reply),
}

fn scope(principal: &Principal, key: &str) -> [JsValue; 3] {
    [
        principal.account_id.as_str().into(),
        principal.environment.as_str().into(),
        key.into(),
    ]
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
    let [account, environment, key_value] = scope(principal, key);
    let inserted: Option<String> = db
        .prepare(
            "INSERT INTO idempotency_keys (account_id, environment, key, request_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING RETURNING key",
        )
        .bind(&[
            account.clone(),
            environment.clone(),
            key_value.clone(),
            request_hash.into(),
            db::now_unix().js(),
        ])?
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
    let stored: Stored = db
        .prepare("SELECT request_hash, status, body FROM idempotency_keys WHERE account_id = ?1 AND environment = ?2 AND key = ?3")
        .bind(&[account, environment, key_value])?
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
    let [account, environment, key_value] = scope(principal, key);
    let statement = if reply.status >= 500 {
        db.prepare(
            "DELETE FROM idempotency_keys WHERE account_id = ?1 AND environment = ?2 AND key = ?3",
        )
        .bind(&[account, environment, key_value])?
    } else {
        db.prepare("UPDATE idempotency_keys SET status = ?4, body = ?5 WHERE account_id = ?1 AND environment = ?2 AND key = ?3")
            .bind(&[account, environment, key_value, i64::from(reply.status).js(), serde_json::to_string(&reply.body)?.js()])?
    };
    statement.run().await?;
    Ok(())
}
