//! Merchant accounts: created by the operator, each with test and live key pairs.

use serde::{Deserialize, Serialize};
use till_shared::ids::AccountId;
use till_shared::keys::{Environment, KeyKind, generate_key, hash_key};
use till_shared::time::to_iso8601;
use worker::{Request, Response};

use crate::auth::{self, Principal};
use crate::error::{ApiError, ApiResult};
use crate::router::Ctx;
use crate::store;

#[derive(Deserialize)]
struct CreateAccount {
    name: String,
}

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

/// The account as its creator sees it: the only time the keys are shown.
#[derive(Serialize)]
struct CreatedAccount {
    id: String,
    object: &'static str,
    name: String,
    created_at: String,
    keys: AccountKeys,
}

/// The account as one of its keys sees it.
#[derive(Serialize)]
struct AccountView {
    id: String,
    object: &'static str,
    name: String,
    environment: Environment,
    key_kind: KeyKind,
}

/// `POST /v1/accounts` (operator token): a new account and its four keys, in one batch.
pub async fn create(mut req: Request, ctx: &Ctx) -> ApiResult<Response> {
    auth::require_operator(&req, ctx)?;
    let body: CreateAccount = req
        .json()
        .await
        .map_err(|_| ApiError::invalid("name", "Send a JSON body with the account `name`."))?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            "`name` must be 1 to 200 characters.",
        ));
    }

    let id = AccountId::generate();
    let now = store::now_unix();
    let db = store::db(ctx)?;
    let mut statements = vec![
        db.prepare("INSERT INTO accounts (id, name, created_at) VALUES (?1, ?2, ?3)")
            .bind(&[
                id.as_str().into(),
                name.as_str().into(),
                (now as f64).into(),
            ])?,
    ];
    let mut issue = |kind: KeyKind, environment: Environment| -> ApiResult<String> {
        let key = generate_key(kind, environment);
        let hint: String = key.chars().take(12).collect();
        statements.push(
            db.prepare(
                "INSERT INTO api_keys (key_hash, account_id, kind, environment, hint, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(&[
                hash_key(&key).into(),
                id.as_str().into(),
                kind.as_str().into(),
                environment.as_str().into(),
                hint.into(),
                (now as f64).into(),
            ])?,
        );
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

    let created = CreatedAccount {
        id: id.to_string(),
        object: "account",
        name,
        created_at: to_iso8601(now).map_err(|e| ApiError::Internal(e.to_string()))?,
        keys,
    };
    Ok(Response::from_json(&created)?.with_status(201))
}

/// `GET /v1/account`: which account and environment the calling key acts in.
pub fn current(principal: Principal) -> ApiResult<Response> {
    let view = AccountView {
        id: principal.account_id,
        object: "account",
        name: principal.account_name,
        environment: principal.environment,
        key_kind: principal.key_kind,
    };
    Ok(Response::from_json(&view)?)
}
