//! Signing in to the merchant dashboard. A secret key, or a one-time login link made with
//! one (`POST /v1/dashboard/login_links`, 15 minutes), is exchanged for a session: a random
//! token in an `HttpOnly; Secure; SameSite=Strict` cookie, stored only as its SHA-256 hash,
//! for 12 hours or until signed out. The key itself never stays in the browser. A request
//! with the cookie acts as the secret key of the session's account and environment; its
//! writes must also send the session's CSRF token in `X-Till-CSRF`.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::ids::random_base62;
use till_shared::keys::{Environment, KeyKind, hash_key};
use worker::D1Database;

use crate::accounts::account;
use crate::api::call::Call;
use crate::api::iso;
use crate::api::reply::Reply;
use crate::db::{self, Principal, Sql};
use crate::error::{ApiError, ApiResult};

/// The session cookie's name: `__Host-`, so only this origin (no subdomain, no other path)
/// can set it.
pub const COOKIE: &str = "__Host-till_dashboard";
/// The header a cookie-authenticated write sends its CSRF token in.
pub const CSRF_HEADER: &str = "X-Till-CSRF";
const LINK_SECS: i64 = 15 * 60;
const SESSION_SECS: i64 = 12 * 3600;

pub use crate::api::call::DashboardSession as Session;

/// `Set-Cookie` for a new session, or (with an empty token) for signing out.
pub fn cookie(token: &str, max_age: i64) -> String {
    format!("{COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age}")
}

/// The session token a `Cookie` header carries, if any.
pub fn token_in(cookie_header: &str) -> Option<&str> {
    cookie_header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE && !value.is_empty()).then_some(value)
    })
}

/// `POST /v1/dashboard/login_links`: a one-time sign-in URL for the calling secret key's
/// account and environment; or, with the operator token, for `account_id`'s `environment`
/// (`test`, the default, or `live`).
pub async fn create_login_link(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let (account_id, environment) = if call.principal.is_none() && call.operator {
        let account = p.required_string("account_id", 64)?;
        let environment = match p.one_of("environment", &["test", "live"])? {
            Some("live") => Environment::Production,
            _ => Environment::Sandbox,
        };
        p.finish()?;
        let known: Option<Value> = Sql::new("SELECT id FROM accounts WHERE id = :id")
            .bind("id", account.as_str())
            .prepare(&db::db(call.ctx)?)?
            .first(None)
            .await?;
        if known.is_none() {
            return Err(ApiError::not_found("account", &account, Some("account_id")));
        }
        (account, environment)
    } else {
        // A key names its own account and environment, if any (a dashboard session never
        // gets here: this route takes no cookie, so a session cannot mint the next one).
        let account = p.string("account_id", 64)?;
        let environment = p.one_of("environment", &["test", "live"])?;
        p.finish()?;
        let principal = call.principal()?;
        let own_environment = match principal.environment {
            Environment::Production => "live",
            Environment::Sandbox => "test",
        };
        if account.is_some_and(|a| a != principal.account_id)
            || environment.is_some_and(|e| e != own_environment)
        {
            return Err(ApiError::forbidden(
                "A key makes login links for its own account and environment only.",
            ));
        }
        (principal.account_id.clone(), principal.environment)
    };
    let token = format!("dl_{}", random_base62(32));
    let now = db::now_unix();
    Sql::new(
        "INSERT INTO dashboard_login_links (token_hash, account_id, environment, expires_at, created_at)
         VALUES (:hash, :account, :environment, :expires, :now)",
    )
    .bind("hash", hash_key(&token))
    .bind("account", account_id.as_str())
    .bind("environment", environment.as_str())
    .bind("expires", now + LINK_SECS)
    .bind("now", now)
    .prepare(&db::db(call.ctx)?)?
    .run()
    .await?;
    Ok(Reply::created(json!({
        "object": "dashboard.login_link",
        "url": format!("{}/dashboard/login?token={token}", call.origin),
        "environment": environment,
        "expires_at": iso(now + LINK_SECS)?,
    }))
    .carrying_secret())
}

/// A new session for the account and environment; answers its cookie token and the
/// session.
async fn open(
    db: &D1Database,
    account_id: &str,
    environment: Environment,
) -> ApiResult<(String, Session)> {
    let token = format!("ds_{}", random_base62(40));
    let now = db::now_unix();
    let session = Session {
        token_hash: hash_key(&token),
        csrf_token: random_base62(32),
        expires_at: now + SESSION_SECS,
    };
    Sql::new(
        "INSERT INTO dashboard_sessions (token_hash, account_id, environment, csrf_token, expires_at, created_at)
         VALUES (:hash, :account, :environment, :csrf, :expires, :now)",
    )
    .bind("hash", session.token_hash.as_str())
    .bind("account", account_id)
    .bind("environment", environment.as_str())
    .bind("csrf", session.csrf_token.as_str())
    .bind("expires", session.expires_at)
    .bind("now", now)
    .prepare(db)?
    .run()
    .await?;
    Ok((token, session))
}

fn render(principal: &Principal, session: &Session) -> ApiResult<Value> {
    Ok(json!({
        "object": "dashboard.session",
        "account": {"id": principal.account_id, "name": principal.account_name},
        "environment": principal.environment,
        "livemode": principal.environment == Environment::Production,
        "csrf_token": session.csrf_token,
        "expires_at": iso(session.expires_at)?,
    }))
}

/// `POST /v1/dashboard/sessions {"secret_key"}`: signs in with a secret key.
pub async fn sign_in(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let key = p.required_string("secret_key", 200)?;
    p.finish()?;
    let principal = account::authenticate(&key, call.ctx).await?;
    if principal.key_kind != KeyKind::Secret {
        return Err(ApiError::forbidden(
            "Sign in with a secret key (sk_test_… or sk_live_…).",
        ));
    }
    let db = db::db(call.ctx)?;
    let (token, session) = open(&db, &principal.account_id, principal.environment).await?;
    Ok(Reply::created(render(&principal, &session)?)
        .with_header("Set-Cookie", cookie(&token, SESSION_SECS))
        .carrying_secret())
}

/// What a login link's redemption came to.
pub enum Redeemed {
    /// Signed in: the cookie token.
    Session(String),
    /// Unknown, used already, or expired.
    Refused,
}

/// Whether `token` has a login link's shape (checked before any storage is read).
pub fn looks_like_login_token(token: &str) -> bool {
    token.len() <= 64
        && token
            .strip_prefix("dl_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The account name and whether it is the live view that an unspent, unexpired login link
/// opens; the link stays unspent.
pub async fn peek(db: &D1Database, token: &str) -> ApiResult<Option<(String, bool)>> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
        environment: String,
    }
    if !looks_like_login_token(token) {
        return Ok(None);
    }
    let row: Option<Row> = Sql::new(
        "SELECT a.name, l.environment FROM dashboard_login_links l JOIN accounts a ON a.id = l.account_id
         WHERE l.token_hash = :hash AND l.used_at IS NULL AND l.expires_at > :now",
    )
    .bind("hash", hash_key(token))
    .bind("now", db::now_unix())
    .prepare(db)?
    .first(None)
    .await?;
    Ok(row.map(|r| (r.name, r.environment == "PRODUCTION")))
}

/// Redeems a login link once (a conditional UPDATE: two redemptions at once make one
/// session).
pub async fn redeem(db: &D1Database, token: &str) -> ApiResult<Redeemed> {
    #[derive(Deserialize)]
    struct Link {
        account_id: String,
        environment: String,
    }
    if !looks_like_login_token(token) {
        return Ok(Redeemed::Refused);
    }
    let now = db::now_unix();
    let link: Option<Link> = Sql::new(
        "UPDATE dashboard_login_links SET used_at = :now
         WHERE token_hash = :hash AND used_at IS NULL AND expires_at > :now
         RETURNING account_id, environment",
    )
    .bind("now", now)
    .bind("hash", hash_key(token))
    .prepare(db)?
    .first(None)
    .await?;
    let Some(link) = link else {
        return Ok(Redeemed::Refused);
    };
    let environment = crate::db::columns::environment(&link.environment)
        .ok_or_else(|| ApiError::internal("a login link of no environment"))?;
    let (token, _) = open(db, &link.account_id, environment).await?;
    Ok(Redeemed::Session(token))
}

/// The session of a cookie token, and who it acts as; `None` when it is unknown, signed
/// out or expired.
pub async fn authenticate(db: &D1Database, token: &str) -> ApiResult<Option<(Principal, Session)>> {
    #[derive(Deserialize)]
    struct Row {
        token_hash: String,
        account_id: String,
        account_name: String,
        environment: String,
        csrf_token: String,
        expires_at: i64,
    }
    if !token.starts_with("ds_") || token.len() > 64 {
        return Ok(None);
    }
    let row: Option<Row> = Sql::new(
        "SELECT s.token_hash, s.account_id, a.name AS account_name, s.environment, s.csrf_token, s.expires_at
         FROM dashboard_sessions s JOIN accounts a ON a.id = s.account_id
         WHERE s.token_hash = :hash AND s.revoked_at IS NULL AND s.expires_at > :now",
    )
    .bind("hash", hash_key(token))
    .bind("now", db::now_unix())
    .prepare(db)?
    .first(None)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let environment = crate::db::columns::environment(&row.environment)
        .ok_or_else(|| ApiError::internal("a session of no environment"))?;
    Ok(Some((
        Principal {
            account_id: row.account_id,
            account_name: row.account_name,
            environment,
            key_kind: KeyKind::Secret,
        },
        Session {
            token_hash: row.token_hash,
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
        },
    )))
}

fn signed_in(call: &Call<'_>) -> ApiResult<Session> {
    call.dashboard.clone().ok_or_else(|| {
        ApiError::unauthorized("This route is for a signed-in dashboard (its session cookie).")
    })
}

/// `GET /v1/dashboard/session`: who the dashboard is signed in as, and its CSRF token.
pub async fn current(call: &mut Call<'_>) -> ApiResult<Reply> {
    let session = signed_in(call)?;
    Ok(Reply::ok(render(call.principal()?, &session)?))
}

/// Ends every dashboard session and unused login link of the environment but `keep` (the
/// calling session, when a dashboard rolls the key): a rolled key takes what it signed in
/// with it.
pub fn revoke_all(
    db: &D1Database,
    principal: &Principal,
    keep: Option<&str>,
    now: i64,
) -> ApiResult<Vec<worker::D1PreparedStatement>> {
    Ok(vec![
        Sql::new(
            "UPDATE dashboard_sessions SET revoked_at = :now
             WHERE account_id = :account AND environment = :environment AND revoked_at IS NULL
               AND token_hash IS NOT :keep",
        )
        .bind("now", now)
        .bind("keep", keep)
        .scoped(principal)
        .prepare(db)?,
        Sql::new(
            "UPDATE dashboard_login_links SET used_at = :now
             WHERE account_id = :account AND environment = :environment AND used_at IS NULL",
        )
        .bind("now", now)
        .scoped(principal)
        .prepare(db)?,
    ])
}

/// Forgets sessions and login links ended for a day.
pub async fn forget_ended(db: &D1Database, now: i64) -> ApiResult<()> {
    let before = now - 86_400;
    db.batch(vec![
        Sql::new(
            "DELETE FROM dashboard_sessions WHERE expires_at < :before OR revoked_at < :before",
        )
        .bind("before", before)
        .prepare(db)?,
        Sql::new("DELETE FROM dashboard_login_links WHERE expires_at < :before")
            .bind("before", before)
            .prepare(db)?,
    ])
    .await?;
    Ok(())
}

/// `DELETE /v1/dashboard/session`: signs out; the cookie stops working at once.
pub async fn sign_out(call: &mut Call<'_>) -> ApiResult<Reply> {
    let session = signed_in(call)?;
    Sql::new("UPDATE dashboard_sessions SET revoked_at = :now WHERE token_hash = :hash")
        .bind("now", db::now_unix())
        .bind("hash", session.token_hash.as_str())
        .prepare(&db::db(call.ctx)?)?
        .run()
        .await?;
    Ok(
        Reply::ok(json!({"object": "dashboard.session", "signed_out": true}))
            .with_header("Set-Cookie", cookie("", 0)),
    )
}
