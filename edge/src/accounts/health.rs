//! `GET /healthz`: the version, and proof that D1 and KV answer. For anyone, a read of
//! each (nothing is written, so the public check costs no writes however often it is
//! called); with the operator token, a write-then-read round trip through both.

use till_shared::api::{Health, StorageCheck};
use till_shared::ids::random_base62;

use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::db::{self, Sql};
use crate::error::ApiResult;

/// `writes`: the caller holds the operator token, so the check writes and reads back.
pub async fn check(ctx: &Ctx, writes: bool) -> ApiResult<Reply> {
    let (d1, kv) = if writes {
        let nonce = random_base62(16);
        (
            timed(d1_round_trip(ctx, &nonce)).await,
            timed(kv_round_trip(ctx, &nonce)).await,
        )
    } else {
        (timed(d1_read(ctx)).await, timed(kv_read(ctx)).await)
    };
    let healthy = d1.ok && kv.ok;
    let report = Health {
        status: if healthy { "ok" } else { "degraded" }.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        writes,
        d1,
        kv,
    };
    Ok(Reply::json(
        if healthy { 200 } else { 503 },
        serde_json::to_value(report)?,
    ))
}

async fn timed(check: impl Future<Output = Result<(), String>>) -> StorageCheck {
    let started = db::now_millis();
    let outcome = check.await;
    StorageCheck {
        ok: outcome.is_ok(),
        latency_ms: db::now_millis().saturating_sub(started),
        error: outcome.err(),
    }
}

/// The health row read back (the database answers, and its schema is there).
async fn d1_read(ctx: &Ctx) -> Result<(), String> {
    let db = db::db(ctx).map_err(|_| "D1 binding `DB` is missing".to_owned())?;
    Sql::new("SELECT count(*) AS n FROM health_checks")
        .prepare(&db)
        .map_err(|e| format!("{e:?}"))?
        .first::<i64>(Some("n"))
        .await
        .map_err(|e| e.to_string())?
        .map(|_| ())
        .ok_or_else(|| "D1 returned no row".to_owned())
}

/// A read of one key (absent is fine: the namespace answered).
async fn kv_read(ctx: &Ctx) -> Result<(), String> {
    let kv = db::cache(ctx).map_err(|_| "KV binding `CACHE` is missing".to_owned())?;
    kv.get("healthz").text().await.map_err(|e| e.to_string())?;
    Ok(())
}

async fn d1_round_trip(ctx: &Ctx, nonce: &str) -> Result<(), String> {
    let db = db::db(ctx).map_err(|_| "D1 binding `DB` is missing".to_owned())?;
    let stored: Option<String> = Sql::new(
        "INSERT INTO health_checks (id, checked_at, nonce) VALUES (1, :now, :nonce)
         ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, nonce = excluded.nonce
         RETURNING nonce",
    )
    .bind("now", db::now_unix())
    .bind("nonce", nonce)
    .prepare(&db)
    .map_err(|e| format!("{e:?}"))?
    .first(Some("nonce"))
    .await
    .map_err(|e| e.to_string())?;
    match stored {
        Some(value) if value == nonce => Ok(()),
        other => Err(format!("D1 returned {other:?}")),
    }
}

async fn kv_round_trip(ctx: &Ctx, nonce: &str) -> Result<(), String> {
    let kv = db::cache(ctx).map_err(|_| "KV binding `CACHE` is missing".to_owned())?;
    let key = format!("healthz:{nonce}");
    kv.put(&key, nonce)
        .map_err(|e| e.to_string())?
        .expiration_ttl(60)
        .execute()
        .await
        .map_err(|e| e.to_string())?;
    let read = kv.get(&key).text().await.map_err(|e| e.to_string())?;
    match read {
        Some(value) if value == nonce => Ok(()),
        other => Err(format!("KV returned {other:?}")),
    }
}
