//! Merchant accounts: created by the operator, each with test and live key pairs; a secret
//! key can be rolled (a new one issued, the old one revoked in the same batch).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use till_shared::billing::Dunning;
use till_shared::hosts::AllowedHosts;
use till_shared::ids::AccountId;
use till_shared::keys::{Environment, KeyKind, generate_key, hash_key, key_shape};
use till_shared::retry::{DUNNING_LIMITS, from_json, to_text};
use worker::{D1Database, D1PreparedStatement};

use crate::accounts::{processor, settings};
use crate::api::call::Call;
use crate::api::iso;
use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::db::{self, Principal, Sql};
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
    let statement = Sql::new(
        "INSERT INTO api_keys (key_hash, account_id, kind, environment, hint, created_at, publishable_key)
         VALUES (:key_hash, :account_id, :kind, :environment, :hint, :created_at, :publishable)",
    )
    .bind("key_hash", hash_key(&key))
    .bind(
        "publishable",
        (kind == KeyKind::Publishable).then_some(key.as_str()),
    )
    .bind("account_id", account_id)
    .bind("kind", kind.as_str())
    .bind("environment", environment.as_str())
    .bind("hint", hint)
    .bind("created_at", now)
    .prepare(db)?;
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
        Sql::new("INSERT INTO accounts (id, name, created_at) VALUES (:id, :name, :created_at)")
            .bind("id", id.as_str())
            .bind("name", name.as_str())
            .bind("created_at", now)
            .prepare(&db)?,
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
    }))
    .carrying_secret())
}

/// An account's dunning settings, and the calling environment's allowed hosts, as stored.
#[derive(Deserialize)]
struct Settings {
    subscription_retry_schedule: String,
    subscription_final_state: String,
    allowed_redirect_hosts: Option<String>,
    brand_name: Option<String>,
    brand_logo_url: Option<String>,
    brand_color: Option<String>,
    publishable_key: Option<String>,
}

/// `GET /v1/account`: which account and environment the calling key acts in, its
/// subscription billing settings as the billing job applies them, and the environment's
/// allowed redirect hosts.
pub async fn current(call: &Call<'_>) -> ApiResult<Reply> {
    let principal = call.principal()?;
    let db = db::db(call.ctx)?;
    let settings: Settings = Sql::new(
        "SELECT a.subscription_retry_schedule, a.subscription_final_state, s.allowed_redirect_hosts,
                s.brand_name, s.brand_logo_url, s.brand_color,
                (SELECT k.publishable_key FROM api_keys k
                 WHERE k.account_id = a.id AND k.environment = :environment AND k.kind = 'publishable'
                   AND k.revoked_at IS NULL AND k.publishable_key IS NOT NULL
                 ORDER BY k.created_at DESC LIMIT 1) AS publishable_key
         FROM accounts a LEFT JOIN environment_settings s
           ON s.account_id = a.id AND s.environment = :environment
         WHERE a.id = :id",
    )
    .bind("id", principal.account_id.as_str())
    .bind("environment", principal.environment.as_str())
    .prepare(&db)?
    .first(None)
    .await?
    .ok_or_else(|| ApiError::internal("the calling key's account is gone"))?;
    let dunning = Dunning::from_stored(
        Some(&settings.subscription_retry_schedule),
        Some(&settings.subscription_final_state),
    );
    let hosts = AllowedHosts::from_stored(settings.allowed_redirect_hosts.as_deref());
    Ok(Reply::ok(json!({
        "id": principal.account_id,
        "object": "account",
        "name": principal.account_name,
        "environment": principal.environment,
        "key_kind": principal.key_kind,
        "subscription_retry_schedule": dunning.schedule,
        "subscription_final_state": dunning.final_failure.state().as_str(),
        "allowed_redirect_hosts": hosts.entries(),
        "branding": {
            "display_name": settings.brand_name,
            "logo_url": settings.brand_logo_url,
            "accent_color": settings.brand_color,
        },
        "publishable_key": settings.publishable_key,
        "processor": processor::shown(&db, principal.seller(), principal.key_kind == KeyKind::Secret).await?,
    })))
}

/// `subscription_retry_schedule` as a JSON list of delays ([`DUNNING_LIMITS`]). The text
/// form [`from_json`] also reads is refused here, as this endpoint always refused it.
fn read_retry_schedule(field: String, value: &Value) -> ApiResult<Vec<i64>> {
    let refused = || {
        ApiError::invalid(
            field.as_str(),
            "An increasing list of 1–10 delays in seconds, each from 60 to 5184000.",
        )
    };
    if !value.is_array() {
        return Err(refused());
    }
    from_json(value, &DUNNING_LIMITS).map_err(|_| refused())
}

/// `PATCH /v1/account`: the dunning settings, and the calling environment's allowed
/// redirect hosts. `subscription_retry_schedule` is seconds after a renewal's first
/// failure (1–10 entries, increasing, each from a minute to 60 days);
/// `subscription_final_state` is what a subscription becomes when the last retry fails:
/// UNPAID (kept, retried by hand) or CANCELED. `allowed_redirect_hosts` replaces the list
/// ([`settings`]).
pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let field = p.name("subscription_retry_schedule");
    let schedule = p
        .raw("subscription_retry_schedule")
        .map(|value| read_retry_schedule(field, &value))
        .transpose()?;
    let final_state = p.one_of("subscription_final_state", &["UNPAID", "CANCELED"])?;
    let hosts = settings::read_allowed_hosts(&mut p)?;
    let branding = settings::read_branding(&mut p)?;
    let principal = call.principal()?;
    let connection = processor::read(&mut p, principal.environment)?;
    p.finish()?;
    let db = db::db(call.ctx)?;
    let mut statements = vec![
        Sql::new(
            "UPDATE accounts SET subscription_retry_schedule = coalesce(:schedule, subscription_retry_schedule),
                 subscription_final_state = coalesce(:final_state, subscription_final_state)
             WHERE id = :id",
        )
        .bind("id", principal.account_id.as_str())
        .bind("schedule", schedule.as_deref().map(to_text))
        .bind("final_state", final_state)
        .prepare(&db)?,
    ];
    if let Some(hosts) = &hosts {
        statements.push(settings::set_allowed_hosts(&db, principal.seller(), hosts)?);
    }
    if let Some(branding) = &branding {
        statements.push(settings::set_branding(&db, principal.seller(), branding)?);
    }
    if let Some(change) = &connection {
        let env = &call.ctx.env;
        statements.push(processor::write(
            env,
            &db,
            principal.seller(),
            change,
            db::now_unix(),
        )?);
    }
    db.batch(statements).await?;
    current(call).await
}

/// `POST /v1/account/roll_key`: a new secret key for the calling key's environment; every
/// older secret key of that environment is revoked in the same batch.
pub async fn roll_secret_key(call: &mut Call<'_>) -> ApiResult<Reply> {
    call.params()?.finish()?;
    let principal = call.principal()?;
    let now = db::now_unix();
    let db = db::db(call.ctx)?;
    let revoke = Sql::new(
        "UPDATE api_keys SET revoked_at = :now
         WHERE account_id = :account_id AND environment = :environment AND kind = 'secret'
           AND revoked_at IS NULL",
    )
    .bind("now", now)
    .bind("account_id", principal.account_id.as_str())
    .bind("environment", principal.environment.as_str())
    .prepare(&db)?;
    let (key, insert) = issue_key(
        &db,
        &principal.account_id,
        KeyKind::Secret,
        principal.environment,
        now,
    )?;
    let mut batch = vec![revoke, insert];
    let keep = call.dashboard.as_ref().map(|s| s.token_hash.as_str());
    batch.extend(crate::accounts::dashboard::revoke_all(
        &db, principal, keep, now,
    )?);
    db.batch(batch).await.map_err(ApiError::from)?;
    Ok(Reply::ok(json!({
        "object": "api_key",
        "environment": principal.environment,
        "kind": "secret",
        "secret_key": key,
    }))
    .carrying_secret())
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
    let row: Option<Row> = Sql::new(
        "SELECT k.account_id, a.name AS account_name
         FROM api_keys k JOIN accounts a ON a.id = k.account_id
         WHERE k.key_hash = :key_hash AND k.revoked_at IS NULL
           AND k.kind = :kind AND k.environment = :environment",
    )
    .bind("key_hash", hash_key(key))
    .bind("kind", shape.kind.as_str())
    .bind("environment", shape.environment.as_str())
    .prepare(&db::db(ctx)?)?
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
