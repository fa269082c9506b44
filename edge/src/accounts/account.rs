//! Merchant accounts: created by the operator, each with test and live key pairs; a secret
//! key can be rolled (a new one issued, the old one revoked in the same batch).

use serde::{Deserialize, Serialize};
use serde_json::json;
use till_shared::ids::AccountId;
use till_shared::keys::{Environment, KeyKind, generate_key, hash_key, key_shape};
use worker::{D1Database, D1PreparedStatement};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::db::{self, Bind, Principal};
use crate::error::{ApiError, ApiResult};

#[derive(Serialize)]
struct KeyPair {
    secret_key: String,
    publishable_key: String,
}

#[derive(Serialize)]
struct AccountKeys {
    test: KeyPair,
    live: KeyPair,
}

/// The INSERT for a new key of `account_id`; answers the key text too (shown once).
fn issue_key(
    db: &D1Database,
    account_id: &str,
    kind: KeyKind,
    environment: Environment,
    now: i64,
) -> ApiResult<(String, D1PreparedStatement)> {
    let key = generate_key(kind, environment);
    let hint: String = key.chars().take(12).collect();
    let statement = db
        .prepare(
            "INSERT INTO api_keys (key_hash, account_id, kind, environment, hint, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&[
            hash_key(&key).js(),
            account_id.js(),
            kind.as_str().js(),
            environment.as_str().js(),
            hint.js(),
            now.js(),
        ])?;
    Ok((key, statement))
}

/// `POST /v1/accounts` (operator token): a new account and its four keys, in one batch.
pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let name = p.required_string("name", 200)?;
    p.finish()?;

    let id = AccountId::generate();
    let now = db::now_unix();
    let db = db::db(call.ctx)?;
    let mut statements = vec![
        db.prepare("INSERT INTO accounts (id, name, created_at) VALUES (?1, ?2, ?3)")
            .bind(&[id.as_str().js(), name.js(), now.js()])?,
    ];
    let mut issue = |kind, environment| -> ApiResult<String> {
        let (key, statement) = issue_key(&db, id.as_str(), kind, environment, now)?;
        statements.push(statement);
        Ok(key)
    };
    let keys = AccountKeys {
        test: KeyPair {
            secret_key: issue(KeyKind::Secret, Environment::Sandbox)?,
            publishable_key: issue(KeyKind::Publishable, Environment::Sandbox)?,
        },
        live: KeyPair {
            secret_key: issue(KeyKind::Secret, Environment::Production)?,
            publishable_key: issue(KeyKind::Publishable, Environment::Production)?,
        },
    };
    db.batch(statements).await?;
    Ok(Reply::created(json!({
        "id": id.as_str(),
        "object": "account",
        "name": name,
        "created_at": iso(now)?,
        "keys": keys,
    })))
}

#[derive(serde::Deserialize)]
struct BillingSettings {
    subscription_retry_schedule: String,
    subscription_final_state: String,
}

/// `GET /v1/account`: which account and environment the calling key acts in, and its
/// subscription billing settings.
pub async fn current(call: &Call<'_>) -> ApiResult<Reply> {
    let principal = call.principal()?;
    let settings: BillingSettings = db::db(call.ctx)?
        .prepare("SELECT subscription_retry_schedule, subscription_final_state FROM accounts WHERE id = ?1")
        .bind(&[principal.account_id.js()])?
        .first(None)
        .await?
        .ok_or_else(|| ApiError::internal("the calling key's account is gone"))?;
    let schedule: Vec<i64> =
        till_shared::webhooks::parse_retry_schedule(&settings.subscription_retry_schedule)
            .unwrap_or_default();
    Ok(Reply::ok(json!({
        "id": principal.account_id,
        "object": "account",
        "name": principal.account_name,
        "environment": principal.environment,
        "key_kind": principal.key_kind,
        "subscription_retry_schedule": schedule,
        "subscription_final_state": settings.subscription_final_state,
    })))
}

/// `PATCH /v1/account`: the dunning settings. `subscription_retry_schedule` is seconds
/// after a renewal's first failure (1–10 entries, increasing, each from a minute to 60
/// days); `subscription_final_state` is what a subscription becomes when the last retry
/// fails: UNPAID (kept, retried by hand) or CANCELED.
pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let field = p.name("subscription_retry_schedule");
    let schedule = match p.raw("subscription_retry_schedule") {
        None => None,
        Some(value) => {
            let delays: Option<Vec<i64>> = value
                .as_array()
                .map(|items| items.iter().map(serde_json::Value::as_i64).collect())
                .unwrap_or(None);
            match delays {
                Some(delays)
                    if (1..=10).contains(&delays.len())
                        && delays.iter().all(|d| (60..=60 * 86_400).contains(d))
                        && delays.windows(2).all(|w| w[0] < w[1]) =>
                {
                    Some(delays)
                }
                _ => {
                    return Err(ApiError::invalid(
                        field,
                        "An increasing list of 1–10 delays in seconds, each from 60 to 5184000.",
                    ));
                }
            }
        }
    };
    let final_state = p.one_of("subscription_final_state", &["UNPAID", "CANCELED"])?;
    p.finish()?;
    let principal = call.principal()?;
    let text = schedule.map(|d| d.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    db::db(call.ctx)?
        .prepare(
            "UPDATE accounts SET subscription_retry_schedule = coalesce(?2, subscription_retry_schedule),
                 subscription_final_state = coalesce(?3, subscription_final_state)
             WHERE id = ?1",
        )
        .bind(&[principal.account_id.js(), text.js(), final_state.js()])?
        .run()
        .await?;
    current(call).await
}

/// `POST /v1/account/roll_key`: a new secret key for the calling key's environment; every
/// older secret key of that environment is revoked in the same batch.
pub async fn roll_secret_key(call: &mut Call<'_>) -> ApiResult<Reply> {
    call.params()?.finish()?;
    let principal = call.principal()?;
    let now = db::now_unix();
    let db = db::db(call.ctx)?;
    let revoke = db
        .prepare(
            "UPDATE api_keys SET revoked_at = ?1
             WHERE account_id = ?2 AND environment = ?3 AND kind = 'secret' AND revoked_at IS NULL",
        )
        .bind(&[
            now.js(),
            principal.account_id.js(),
            principal.environment.as_str().js(),
        ])?;
    let (key, insert) = issue_key(
        &db,
        &principal.account_id,
        KeyKind::Secret,
        principal.environment,
        now,
    )?;
    db.batch(vec![revoke, insert])
        .await
        .map_err(ApiError::from)?;
    Ok(Reply::ok(json!({
        "object": "api_key",
        "environment": principal.environment,
        "kind": "secret",
        "secret_key": key,
    })))
}

/// Resolves an API key. Text not shaped like a key is refused without a read.
pub async fn authenticate(key: &str, ctx: &Ctx) -> ApiResult<Principal> {
    let invalid = || ApiError::unauthorized("Invalid API key.");
    let shape = key_shape(key).ok_or_else(invalid)?;

    #[derive(Deserialize)]
    struct Row {
        account_id: String,
        account_name: String,
    }
    let row: Option<Row> = db::db(ctx)?
        .prepare(
            "SELECT k.account_id, a.name AS account_name
             FROM api_keys k JOIN accounts a ON a.id = k.account_id
             WHERE k.key_hash = ?1 AND k.revoked_at IS NULL
               AND k.kind = ?2 AND k.environment = ?3",
        )
        .bind(&[
            hash_key(key).into(),
            shape.kind.as_str().into(),
            shape.environment.as_str().into(),
        ])?
        .first(None)
        .await?;
    let row = row.ok_or_else(invalid)?;
    Ok(Principal {
        account_id: row.account_id,
        account_name: row.account_name,
        environment: shape.environment,
        key_kind: shape.kind,
    })
}
