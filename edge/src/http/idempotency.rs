//! `Idempotency-Key` on POST: the first response is stored and replayed; the same key with
//! a different request is refused. The key is claimed by an insert that D1 lets only one
//! request win, so two concurrent retries never both run.
//!
//! A key belongs to the caller's account, environment and kind of key (the operator's keys
//! are a scope of their own), so the holder of a public publishable key cannot claim a key
//! the merchant's secret key is about to send. Rows expire after a day; a claim left
//! pending for a minute by a request that died may be taken over by the same request, and
//! each claim carries a token so that only its holder records the outcome. An answer that
//! carried a secret is never stored: the row keeps a marker, and a replay is refused with
//! `idempotency_error`. The periods are `till_shared::idempotency`'s.

use serde::Deserialize;
use till_shared::api::ErrorCode;
use till_shared::idempotency::{CLAIM_TAKEOVER_SECS, cutoffs, validate_key, withheld_message};
use till_shared::ids::random_base62;

use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::db::{self, Principal, Sql};
use crate::error::{ApiError, ApiResult};

/// Whose keys a request's key is among: an API key's account, environment and kind, or the
/// operator's.
#[derive(Debug, Clone)]
pub struct Scope {
    account_id: String,
    environment: &'static str,
    kind: &'static str,
}

impl Scope {
    pub fn of(principal: &Principal) -> Scope {
        Scope {
            account_id: principal.account_id.clone(),
            environment: principal.environment.as_str(),
            kind: principal.key_kind.as_str(),
        }
    }

    /// The operator token's requests (creating accounts).
    pub fn operator() -> Scope {
        Scope {
            account_id: String::new(),
            environment: "",
            kind: "operator",
        }
    }
}

/// A key this request holds: run it, then [`finish`].
pub struct Held {
    scope: Scope,
    key: String,
    claim: String,
}

pub enum Claim {
    /// This request holds the key.
    Fresh(Held),
    /// The key was used before with the same request: answer this again.
    Replay(Reply),
}

/// The one row of a key: `:account`, `:environment`, `:kind` and `:key` bound.
const THE_KEY: &str = "account_id = :account AND environment = :environment
     AND key_kind = :kind AND key = :key";

fn keyed(sql: &str, scope: &Scope, key: &str) -> Sql {
    Sql::new(sql)
        .bind("account", scope.account_id.as_str())
        .bind("environment", scope.environment)
        .bind("kind", scope.kind)
        .bind("key", key)
}

/// Only the request holding the claim changes the row (another may have taken it over).
fn holding(sql: &str, held: &Held) -> Sql {
    keyed(sql, &held.scope, &held.key).bind("claim", held.claim.as_str())
}

#[derive(Deserialize)]
struct Stored {
    request_hash: String,
    status: u16,
    body: Option<String>,
    #[serde(deserialize_with = "crate::db::columns::flag")]
    secret_withheld: bool,
    object_id: Option<String>,
}

pub async fn claim(ctx: &Ctx, scope: Scope, key: &str, request_hash: &str) -> ApiResult<Claim> {
    validate_key(key).map_err(|e| ApiError::invalid("Idempotency-Key", e.to_string()))?;
    let db = db::db(ctx)?;
    let held = Held {
        scope,
        key: key.to_owned(),
        claim: random_base62(16),
    };
    // A row that vanishes between the two statements (its request failed on our side, or
    // it expired and was deleted) frees the key: claim it once more.
    for _ in 0..2 {
        if try_claim(&db, &held, request_hash).await? {
            return Ok(Claim::Fresh(held));
        }
        let stored: Option<Stored> = keyed(
            &format!(
                "SELECT request_hash, status, body, secret_withheld, object_id
                 FROM idempotency_keys WHERE {THE_KEY}"
            ),
            &held.scope,
            key,
        )
        .prepare(&db)?
        .first(None)
        .await?;
        if let Some(stored) = stored {
            return answer(stored, request_hash).map(Claim::Replay);
        }
    }
    Err(ApiError::new(
        ErrorCode::Conflict,
        "A request with this Idempotency-Key is still being processed; retry shortly.",
    ))
}

/// Inserts the claim, or takes over a row that has expired or a pending claim of the same
/// request that was abandoned; answers whether this request now holds the key.
async fn try_claim(db: &worker::D1Database, held: &Held, request_hash: &str) -> ApiResult<bool> {
    let now = db::now_unix();
    let cutoffs = cutoffs(now);
    let claimed: Option<String> = holding(
        "INSERT INTO idempotency_keys
             (account_id, environment, key_kind, key, request_hash, claim, created_at)
         VALUES (:account, :environment, :kind, :key, :hash, :claim, :now)
         ON CONFLICT (account_id, environment, key_kind, key) DO UPDATE SET
             request_hash = excluded.request_hash, claim = excluded.claim, status = 0,
             body = NULL, secret_withheld = 0, object_id = NULL, created_at = excluded.created_at
         WHERE idempotency_keys.created_at <= :expired_before
            OR (idempotency_keys.status = 0 AND idempotency_keys.created_at <= :abandoned_before
                AND idempotency_keys.request_hash = excluded.request_hash)
         RETURNING claim",
        held,
    )
    .bind("hash", request_hash)
    .bind("now", now)
    .bind("expired_before", cutoffs.expired_before)
    .bind("abandoned_before", cutoffs.abandoned_before)
    .prepare(db)?
    .first(Some("claim"))
    .await?;
    Ok(claimed.as_deref() == Some(held.claim.as_str()))
}

/// What a request that finds the key taken is answered.
fn answer(stored: Stored, request_hash: &str) -> ApiResult<Reply> {
    if stored.request_hash != request_hash {
        return Err(ApiError::new(
            ErrorCode::IdempotencyError,
            "This Idempotency-Key was already used with a different request.",
        ));
    }
    if stored.status == 0 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "A request with this Idempotency-Key is still being processed; retry shortly \
                 (a request that has not finished within {CLAIM_TAKEOVER_SECS} s may be retried \
                 with the same key)."
            ),
        ));
    }
    if stored.secret_withheld {
        return Err(ApiError::new(
            ErrorCode::IdempotencyError,
            withheld_message(stored.object_id.as_deref()),
        ));
    }
    let body = serde_json::from_str(stored.body.as_deref().unwrap_or("null"))?;
    Ok(Reply::json(stored.status, body).with_header("Idempotent-Replayed", "true"))
}

/// Stores the outcome for replay (only a marker when it carries a secret); a server error releases the key so a retry can run.
pub async fn finish(ctx: &Ctx, key: Held, reply: &Reply) -> ApiResult<()> {
    let db = db::db(ctx)?;
    let statement = if reply.status >= 500 {
        holding(
            &format!("DELETE FROM idempotency_keys WHERE {THE_KEY} AND claim = :claim"),
            &key,
        )
    } else {
        let body = if reply.carries_secret {
            None
        } else {
            Some(serde_json::to_string(&reply.body)?)
        };
        holding(
            &format!(
                "UPDATE idempotency_keys SET status = :status, body = :body,
                     secret_withheld = :withheld, object_id = :object
                 WHERE {THE_KEY} AND claim = :claim"
            ),
            &key,
        )
        .bind("status", i64::from(reply.status))
        .bind("body", body)
        .bind("withheld", reply.carries_secret)
        .bind("object", reply.body["id"].as_str())
    }
    .prepare(&db)?;
    statement.run().await?;
    Ok(())
}
