//! Who is calling: an API key (as a Bearer token) resolved to its account and environment,
//! or the operator token that may create accounts.

use till_shared::keys::KeyKind;
use till_shared::routes::Access;
use till_shared::secrets::operator_token_matches;
use worker::Request;

use crate::accounts::account;
use crate::accounts::dashboard::{self, Session};
use crate::ctx::Ctx;
pub use crate::db::Principal;
use crate::error::{ApiError, ApiResult};

fn bearer_token(req: &Request) -> Option<String> {
    let header = req.headers().get("Authorization").ok()??;
    let token = header.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// The user name of HTTP Basic credentials (`-u sk_test_…:` in curl), as Omise clients
/// send their secret key.
fn basic_user(req: &Request) -> Option<String> {
    use base64::Engine;
    let header = req.headers().get("Authorization").ok()??;
    let encoded = header.strip_prefix("Basic ")?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(user, _)| user);
    (!user.is_empty()).then(|| user.to_owned())
}

/// The publishable key in `X-Recur-Publishable-Key`, as Recur's embeddable checkout sends
/// it (never a secret key: a page's script must not hold one).
fn recur_publishable_key(req: &Request) -> Option<String> {
    let key = req.headers().get(RECUR_KEY_HEADER).ok()??;
    let key = key.trim();
    (key.starts_with("pk_") && !key.contains(char::is_whitespace)).then(|| key.to_owned())
}

/// Whether the request's key is a publishable one (`Bearer pk_…`, or Recur's header
/// without an `Authorization`): the only key a page on another origin may use.
pub fn presents_publishable_key(req: &Request) -> bool {
    match bearer_token(req) {
        Some(token) => token.starts_with("pk_"),
        None => {
            req.headers().get("Authorization").ok().flatten().is_none()
                && recur_publishable_key(req).is_some()
        }
    }
}

/// The header Recur's checkout element carries its publishable key in.
pub const RECUR_KEY_HEADER: &str = "X-Recur-Publishable-Key";

/// Checks what the route demands and answers who is calling (no one, for public and
/// operator routes), and the dashboard session it came in, if it came in one.
pub async fn authorize(
    req: &Request,
    ctx: &Ctx,
    access: Access,
) -> ApiResult<(Option<Principal>, Option<Session>)> {
    if matches!(access, Access::AnyKey | Access::Secret)
        && req.headers().get("Authorization").ok().flatten().is_none()
        && recur_publishable_key(req).is_none()
        && let Some(signed_in) = dashboard_session(req, ctx).await?
    {
        let (principal, session) = signed_in;
        return Ok((Some(principal), Some(session)));
    }
    authorize_key(req, ctx, access).await.map(|p| (p, None))
}

/// A request with the dashboard's session cookie (and no API key): the session's
/// principal. Its writes must carry the session's CSRF token.
async fn dashboard_session(req: &Request, ctx: &Ctx) -> ApiResult<Option<(Principal, Session)>> {
    let Some(cookies) = req.headers().get("Cookie").ok().flatten() else {
        return Ok(None);
    };
    let Some(token) = dashboard::token_in(&cookies) else {
        return Ok(None);
    };
    let db = crate::db::db(ctx)?;
    let Some((principal, session)) = dashboard::authenticate(&db, token).await? else {
        return Err(ApiError::unauthorized(
            "This dashboard session has ended; sign in again.",
        ));
    };
    let reads = matches!(req.method(), worker::Method::Get | worker::Method::Head);
    let sent = req
        .headers()
        .get(dashboard::CSRF_HEADER)
        .ok()
        .flatten()
        .unwrap_or_default();
    let matches = {
        use subtle::ConstantTimeEq;
        bool::from(sent.as_bytes().ct_eq(session.csrf_token.as_bytes()))
    };
    if !reads && !matches {
        return Err(ApiError::forbidden(format!(
            "A dashboard write needs the session's CSRF token in {}.",
            dashboard::CSRF_HEADER
        )));
    }
    Ok(Some((principal, session)))
}

/// Checks an API key as the route demands.
async fn authorize_key(req: &Request, ctx: &Ctx, access: Access) -> ApiResult<Option<Principal>> {
    match access {
        Access::Public => Ok(None),
        Access::Operator => require_operator(req, ctx).map(|()| None),
        Access::SecretOrOperator if presents_operator_token(req, ctx) => Ok(None),
        Access::AnyKey | Access::SecretOrOperator | Access::Secret | Access::BasicSecret => {
            let key = match access {
                Access::BasicSecret => basic_user(req).or_else(|| bearer_token(req)),
                // Recur's checkout element sends its publishable key in a header of its own.
                Access::AnyKey => bearer_token(req).or_else(|| recur_publishable_key(req)),
                _ => bearer_token(req),
            };
            let key = key.ok_or_else(|| {
                ApiError::unauthorized(
                    "No API key provided. Send `Authorization: Bearer sk_test_…`.",
                )
            })?;
            let principal = account::authenticate(&key, ctx).await?;
            if access != Access::AnyKey && principal.key_kind != KeyKind::Secret {
                return Err(ApiError::forbidden(
                    "This request needs a secret key; publishable keys may only create checkout sessions and read products.",
                ));
            }
            Ok(Some(principal))
        }
    }
}

/// Checks the operator token (the Worker's `OPERATOR_TOKEN` secret) without leaking its
/// length or content through timing ([`operator_token_matches`]). Without a configured
/// token, operator routes are closed.
pub fn require_operator(req: &Request, ctx: &Ctx) -> ApiResult<()> {
    if presents_operator_token(req, ctx) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            "This route needs the operator token.",
        ))
    }
}

/// Whether the request's bearer token is the operator token (compared in constant time;
/// never, without a configured token).
pub fn presents_operator_token(req: &Request, ctx: &Ctx) -> bool {
    let given = bearer_token(req).unwrap_or_default();
    operator_token_matches(&ctx.operator_token(), &given)
}
