//! The processor an account connects per environment: `PATCH /v1/account {"processor":
//! {"kind": "stripe", "secret_key", "publishable_key", "webhook_secret"}}` (or `null` to
//! remove it). The secrets are sealed with the Worker's `PROCESSOR_SECRETS_KEY` before
//! they are stored ([`till_shared::sealed`]) and opened only to call Stripe; the account
//! shows the kind, the publishable key and the secret key's last four characters.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::keys::Environment;
use till_shared::params::Params;
use till_shared::sealed::{self, context};
use till_shared::stripe::{KeyError, check_keys};
use worker::{D1Database, D1PreparedStatement, Env};

use crate::api::iso;
use crate::db::{Seller, Sql};
use crate::error::{ApiError, ApiResult};
use crate::pages::ProcessorFields;
use crate::pages::checkout::StripeView;
use crate::processor::{Connected, Stripe};

/// Stripe's API, unless `STRIPE_API_BASE` names another (a local fake in tests).
const STRIPE_API: &str = "https://api.stripe.com";
/// Stripe.js, unless `STRIPE_JS_URL` names another.
const STRIPE_JS: &str = "https://js.stripe.com/v3/";

#[derive(Deserialize)]
struct Row {
    kind: String,
    secret_key_sealed: String,
    secret_key_last4: String,
    publishable_key: String,
    webhook_secret_sealed: Option<String>,
    created_at: i64,
    updated_at: i64,
}

/// What a PATCH asks of the connection.
pub enum Change {
    Connect {
        secret_key: String,
        publishable_key: String,
        webhook_secret: Option<String>,
    },
    Remove,
}

/// `processor` of a PATCH: not sent, `null` (remove), or the keys to connect.
pub fn read(p: &mut Params, environment: Environment) -> ApiResult<Option<Change>> {
    let Some(sent) = p.patch("processor", |p, f| Ok(p.raw(f)))? else {
        return Ok(None);
    };
    let Some(Value::Object(fields)) = sent else {
        return match sent {
            None => Ok(Some(Change::Remove)),
            Some(_) => Err(ApiError::invalid(
                "processor",
                "Expected an object, or null to remove the connection.",
            )),
        };
    };
    let text = |name: &str| -> ApiResult<Option<String>> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= 255 => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(ApiError::invalid(
                format!("processor[{name}]"),
                "Expected a string of at most 255 characters.",
            )),
        }
    };
    if let Some(unknown) = fields.keys().find(|k| {
        !["kind", "secret_key", "publishable_key", "webhook_secret"].contains(&k.as_str())
    }) {
        return Err(ApiError::invalid(
            format!("processor[{unknown}]"),
            "Unknown field.",
        ));
    }
    if !text("kind")?.is_some_and(|kind| kind.eq_ignore_ascii_case("stripe")) {
        return Err(ApiError::invalid(
            "processor[kind]",
            "`kind` must be `stripe`, the processor Till connects.",
        ));
    }
    let required = |name: &str| -> ApiResult<String> {
        text(name)?.ok_or_else(|| {
            ApiError::invalid(format!("processor[{name}]"), "This field is required.")
        })
    };
    let secret_key = required("secret_key")?;
    let publishable_key = required("publishable_key")?;
    let webhook_secret = text("webhook_secret")?;
    // A malformed key is a bad request; a well-formed key of the other mode conflicts with
    // the environment the calling key acts in.
    check_keys(
        environment,
        &secret_key,
        &publishable_key,
        webhook_secret.as_deref(),
    )
    .map_err(|error| match &error {
        KeyError::WrongKind { field, .. } => {
            ApiError::conflict(format!("processor[{field}]"), error.to_string())
        }
        KeyError::Malformed(field) => {
            ApiError::invalid(format!("processor[{field}]"), error.to_string())
        }
    })?;
    Ok(Some(Change::Connect {
        secret_key,
        publishable_key,
        webhook_secret,
    }))
}

/// The sealing key, from the Worker's secret; a Worker without one cannot connect.
fn sealing_key(env: &Env) -> ApiResult<[u8; 32]> {
    let text = env
        .secret("PROCESSOR_SECRETS_KEY")
        .map(|s| s.to_string())
        .or_else(|_| env.var("PROCESSOR_SECRETS_KEY").map(|v| v.to_string()))
        .map_err(|_| {
            ApiError::conflict(
                "processor",
                "This Worker has no PROCESSOR_SECRETS_KEY secret, so it cannot keep a processor's keys.",
            )
        })?;
    sealed::parse_key(&text)
        .map_err(|_| ApiError::internal("PROCESSOR_SECRETS_KEY is not 64 hex digits"))
}

/// The statement that applies `change` to the seller's connection.
pub fn write(
    env: &Env,
    db: &D1Database,
    seller: Seller<'_>,
    change: &Change,
    now: i64,
) -> ApiResult<D1PreparedStatement> {
    let environment = seller.environment.as_str();
    match change {
        Change::Remove => Sql::new(
            "DELETE FROM processor_connections WHERE account_id = :account AND environment = :environment",
        )
        .bind("account", seller.account_id)
        .bind("environment", environment)
        .prepare(db),
        Change::Connect {
            secret_key,
            publishable_key,
            webhook_secret,
        } => {
            let key = sealing_key(env)?;
            let seal = |field: &str, secret: &str| {
                sealed::seal(&key, &context(seller.account_id, environment, field), secret)
            };
            let last4: String = secret_key.chars().skip(secret_key.chars().count() - 4).collect();
            Sql::new(
                "INSERT INTO processor_connections (account_id, environment, kind, secret_key_sealed,
                     secret_key_last4, publishable_key, webhook_secret_sealed, created_at, updated_at)
                 VALUES (:account, :environment, 'stripe', :secret, :last4, :publishable, :webhook, :now, :now)
                 ON CONFLICT (account_id, environment) DO UPDATE SET kind = excluded.kind,
                     secret_key_sealed = excluded.secret_key_sealed, secret_key_last4 = excluded.secret_key_last4,
                     publishable_key = excluded.publishable_key,
                     webhook_secret_sealed = excluded.webhook_secret_sealed, updated_at = excluded.updated_at",
            )
            .bind("account", seller.account_id)
            .bind("environment", environment)
            .bind("secret", seal("secret_key", secret_key))
            .bind("last4", last4)
            .bind("publishable", publishable_key.as_str())
            .bind("webhook", webhook_secret.as_deref().map(|w| seal("webhook_secret", w)))
            .bind("now", now)
            .prepare(db)
        }
    }
}

async fn row(db: &D1Database, account_id: &str, environment: &str) -> ApiResult<Option<Row>> {
    Ok(Sql::new(
        "SELECT * FROM processor_connections WHERE account_id = :account AND environment = :environment",
    )
    .bind("account", account_id)
    .bind("environment", environment)
    .prepare(db)?
    .first(None)
    .await?)
}

/// The connection as the account shows it (never a secret): `null` when none. A
/// publishable key is told only the kind and the publishable key.
pub async fn shown(db: &D1Database, seller: Seller<'_>, secret_key: bool) -> ApiResult<Value> {
    let Some(row) = row(db, seller.account_id, seller.environment.as_str()).await? else {
        return Ok(Value::Null);
    };
    if !secret_key {
        return Ok(json!({"kind": row.kind, "publishable_key": row.publishable_key}));
    }
    Ok(json!({
        "kind": row.kind,
        "publishable_key": row.publishable_key,
        "secret_key_last4": row.secret_key_last4,
        "webhook_secret_set": row.webhook_secret_sealed.is_some(),
        "connected_at": iso(row.created_at)?,
        "updated_at": iso(row.updated_at)?,
    }))
}

/// Where Stripe's API is for this Worker: `STRIPE_API_BASE` when set (an https URL, or a
/// loopback http one where loopback is allowed, as for webhooks), else Stripe's own.
fn stripe_base(env: &Env) -> ApiResult<String> {
    let Ok(base) = env.var("STRIPE_API_BASE").map(|v| v.to_string()) else {
        return Ok(STRIPE_API.to_owned());
    };
    let base = base.trim_end_matches('/').to_owned();
    if base.is_empty() {
        return Ok(STRIPE_API.to_owned());
    }
    let loopback = crate::ctx::webhook_reach(env, true) != till_shared::webhooks::Reach::Public
        && (base.starts_with("http://127.0.0.1:") || base.starts_with("http://localhost:"));
    if base.starts_with("https://") || loopback {
        Ok(base)
    } else {
        Err(ApiError::internal(format!(
            "STRIPE_API_BASE {base} is neither https nor an allowed loopback address"
        )))
    }
}

/// Where the hosted page loads Stripe.js from: `STRIPE_JS_URL` when set (https, or loopback
/// http where loopback is allowed, as for `STRIPE_API_BASE`), else Stripe's own.
fn stripe_js(env: &Env) -> ApiResult<String> {
    let Some(url) = env
        .var("STRIPE_JS_URL")
        .map(|v| v.to_string())
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return Ok(STRIPE_JS.to_owned());
    };
    let loopback = crate::ctx::webhook_reach(env, true) != till_shared::webhooks::Reach::Public
        && (url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:"));
    if url.starts_with("https://") || loopback {
        Ok(url)
    } else {
        Err(ApiError::internal(format!(
            "STRIPE_JS_URL {url} is neither https nor an allowed loopback address"
        )))
    }
}

/// Stripe's fields for a page of a seller with Stripe connected, from its publishable key
/// (no secret is opened).
pub fn page_fields(env: &Env, publishable_key: String) -> ApiResult<StripeView> {
    let script_url = stripe_js(env)?;
    let origin = |url: &str| {
        worker::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .map_err(|_| ApiError::internal(format!("{url} is not a URL")))
    };
    let script_origin = origin(&script_url)?;
    let api_origin = origin(&stripe_base(env)?)?;
    // Stripe.js calls Stripe's API and its own origin, and frames its fields from its
    // origin and the bank's 3-D Secure pages from hooks.stripe.com.
    let mut connects = vec![script_origin.clone()];
    if api_origin != script_origin {
        connects.push(api_origin);
    }
    let mut frames = vec![script_origin.clone()];
    if script_url == STRIPE_JS {
        frames.push("https://hooks.stripe.com".to_owned());
    }
    Ok(StripeView {
        publishable_key,
        fields: ProcessorFields {
            script_url,
            script_origin,
            connects,
            frames,
        },
    })
}

/// A Stripe connection, opened for use.
pub struct Connection {
    pub stripe: Stripe,
    pub webhook_secret: Option<String>,
}

/// The seller's Stripe connection, opened; `None` when it has none.
pub async fn connection(
    env: &Env,
    db: &D1Database,
    account_id: &str,
    environment: &str,
) -> ApiResult<Option<Connection>> {
    let Some(row) = row(db, account_id, environment).await? else {
        return Ok(None);
    };
    let key = sealing_key(env)?;
    let open = |field: &str, sealed_text: &str| {
        sealed::open(&key, &context(account_id, environment, field), sealed_text)
            .map_err(|e| ApiError::internal(format!("processor {field} of {account_id}: {e}")))
    };
    let secret_key = open("secret_key", &row.secret_key_sealed)?;
    let webhook_secret = row
        .webhook_secret_sealed
        .as_deref()
        .map(|w| open("webhook_secret", w))
        .transpose()?;
    Ok(Some(Connection {
        stripe: Stripe {
            base: stripe_base(env)?,
            secret_key,
        },
        webhook_secret,
    }))
}

/// What the seller charges and refunds through: `processor` names it for a payment taken
/// already (`payments.processor`); `None` asks for the environment's current one.
pub async fn connected(
    env: &Env,
    db: &D1Database,
    account_id: &str,
    environment: &str,
    processor: Option<&str>,
) -> ApiResult<Option<Connected>> {
    match processor {
        Some("sandbox") => Ok(Some(Connected::Sandbox)),
        Some("stripe") | None => match connection(env, db, account_id, environment).await? {
            Some(connection) => Ok(Some(Connected::Stripe(connection.stripe))),
            None if processor.is_none() && environment == "SANDBOX" => Ok(Some(Connected::Sandbox)),
            None => Ok(None),
        },
        Some(_) => Ok(None),
    }
}
