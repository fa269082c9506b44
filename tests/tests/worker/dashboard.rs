//! Signing in to the merchant dashboard: a one-time login link or a secret key exchanged
//! for a session cookie (HttpOnly, Secure, SameSite=Strict, stored hashed), which acts as
//! the secret key of its account and environment, needs the session's CSRF token for
//! writes, and stops working at sign-out.

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_tests::http::{Client, Reply};

use crate::support::{create, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "rolling_the_key_ends_its_dashboard_sessions",
        rolling_the_key_ends_its_dashboard_sessions,
    ),
    (
        "a_login_link_signs_in_once_with_a_strict_cookie",
        a_login_link_signs_in_once_with_a_strict_cookie,
    ),
    (
        "a_dashboard_session_acts_as_its_key_and_writes_need_its_csrf_token",
        a_dashboard_session_acts_as_its_key_and_writes_need_its_csrf_token,
    ),
    (
        "signing_in_takes_a_secret_key_only",
        signing_in_takes_a_secret_key_only,
    ),
];

/// The session token a `Set-Cookie` header sets.
fn session_cookie(reply: &Reply) -> Result<String, Failed> {
    let header = reply
        .header("set-cookie")
        .ok_or_else(|| Failed::from(format!("no Set-Cookie: {}", reply.status)))?;
    let pair = header
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    ensure!(
        pair.starts_with("__Host-till_dashboard=ds_"),
        "cookie {header}"
    );
    Ok(pair)
}

/// Signs `merchant` in through a login link; answers the cookie pair.
fn signed_in(suite: &Suite, merchant: &Client) -> Result<String, Failed> {
    let link = create(merchant, "/v1/dashboard/login_links", json!({}))?;
    let url = link["url"].as_str().unwrap_or_default();
    let path = url.trim_start_matches(&suite.worker.base_url);
    let reply = suite.client.get(path).send()?;
    ensure_eq!(reply.status, 303);
    session_cookie(&reply)
}

fn with_cookie<'a>(
    suite: &'a Suite,
    method: &str,
    path: &str,
    cookie: &str,
) -> till_tests::http::RequestBuilder<'a> {
    suite.client.request(method, path).header("Cookie", cookie)
}

fn a_login_link_signs_in_once_with_a_strict_cookie(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Dashboard Link")?;
    let link = create(&merchant, "/v1/dashboard/login_links", json!({}))?;
    ensure_eq!(link["environment"], json!("SANDBOX"));
    let url = link["url"].as_str().unwrap_or_default().to_owned();
    ensure!(
        url.starts_with(&format!(
            "{}/dashboard/login?token=dl_",
            suite.worker.base_url
        )),
        "url {url}"
    );
    let path = url.trim_start_matches(&suite.worker.base_url).to_owned();
    let reply = suite.client.get(&path).send()?;
    ensure_eq!(reply.status, 303);
    ensure_eq!(reply.header("location"), Some("/dashboard/"));
    let header = reply.header("set-cookie").unwrap_or_default().to_owned();
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=43200",
    ] {
        ensure!(
            header.contains(attribute),
            "cookie {header} lacks {attribute}"
        );
    }
    let cookie = session_cookie(&reply)?;
    // Neither token is stored: only their hashes.
    let token = cookie.trim_start_matches("__Host-till_dashboard=");
    let link_token = url.rsplit('=').next().unwrap_or_default();
    let rows = suite.query(&format!(
        "SELECT (SELECT count(*) FROM dashboard_sessions WHERE token_hash = '{token}') +
                (SELECT count(*) FROM dashboard_login_links WHERE token_hash = '{link_token}') AS plain"
    ))?;
    ensure_eq!(rows[0]["plain"], json!(0));
    // The link works once.
    let again = suite.client.get(&path).send()?;
    ensure_eq!(again.status, 410);
    ensure!(again.header("set-cookie").is_none(), "a second session");
    let forged = suite
        .client
        .get("/dashboard/login?token=dl_nothing")
        .send()?;
    ensure_eq!(forged.status, 410);
    Ok(())
}

fn a_dashboard_session_acts_as_its_key_and_writes_need_its_csrf_token(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Dashboard Session")?;
    create(
        &merchant,
        "/v1/products",
        json!({"name": "Mine", "price": {"amount": 100, "currency": "USD"}}),
    )?;
    let other = suite.fresh_merchant("Someone Else")?;
    create(
        &other,
        "/v1/products",
        json!({"name": "Theirs", "price": {"amount": 100, "currency": "USD"}}),
    )?;
    let cookie = signed_in(suite, &merchant)?;
    let listed = with_cookie(suite, "GET", "/v1/products", &cookie).send()?;
    ensure_eq!(listed.status, 200);
    let names: Vec<Value> = listed.json()["data"]
        .as_array()
        .map(|d| d.iter().map(|p| p["name"].clone()).collect())
        .unwrap_or_default();
    ensure_eq!(names, vec![json!("Mine")]);
    let session = with_cookie(suite, "GET", "/v1/dashboard/session", &cookie)
        .send()?
        .json();
    ensure_eq!(session["account"]["name"], json!("Dashboard Session"));
    ensure_eq!(session["environment"], json!("SANDBOX"));
    let csrf = session["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(csrf.len() >= 32, "csrf {session}");
    let product = json!({"name": "New", "price": {"amount": 200, "currency": "USD"}});
    // A write without the CSRF token, or with another, is refused and changes nothing.
    for header in [None, Some("not-the-token")] {
        let mut request = with_cookie(suite, "POST", "/v1/products", &cookie).json(&product);
        if let Some(value) = header {
            request = request.header("X-Till-CSRF", value);
        }
        refused(&request.send()?, 403, "forbidden", None)?;
    }
    let made = with_cookie(suite, "POST", "/v1/products", &cookie)
        .header("X-Till-CSRF", &csrf)
        .json(&product)
        .send()?;
    ensure_eq!(made.status, 201);
    ensure_eq!(crate::support::count(&merchant, "/v1/products")?, 2);
    // A session cannot mint the next sign-in.
    refused(
        &with_cookie(suite, "POST", "/v1/dashboard/login_links", &cookie)
            .header("X-Till-CSRF", &csrf)
            .json(&json!({}))
            .send()?,
        403,
        "forbidden",
        None,
    )?;
    // Signed out, the cookie stops working at once.
    let out = with_cookie(suite, "DELETE", "/v1/dashboard/session", &cookie)
        .header("X-Till-CSRF", &csrf)
        .send()?;
    ensure_eq!(out.status, 200);
    ensure!(
        out.header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "the cookie is not cleared"
    );
    refused(
        &with_cookie(suite, "GET", "/v1/products", &cookie).send()?,
        401,
        "unauthorized",
        None,
    )?;
    // An API key is not a session.
    refused(
        &merchant.get("/v1/dashboard/session").send()?,
        401,
        "unauthorized",
        None,
    )?;
    Ok(())
}

fn signing_in_takes_a_secret_key_only(suite: &Suite) -> Result<(), Failed> {
    let secret = &suite.account.keys.test.secret_key;
    let reply = suite
        .client
        .post("/v1/dashboard/sessions")
        .json(&json!({"secret_key": secret}))
        .send()?;
    ensure_eq!(reply.status, 201);
    ensure!(!reply.body.contains(secret.as_str()), "the key is echoed");
    let cookie = session_cookie(&reply)?;
    ensure_eq!(
        with_cookie(suite, "GET", "/v1/account", &cookie)
            .send()?
            .json()["name"],
        json!("Test Merchant")
    );
    let wrong = suite
        .client
        .post("/v1/dashboard/sessions")
        .json(&json!({"secret_key": "sk_test_000000000000000000000000"}))
        .send()?;
    refused(&wrong, 401, "unauthorized", None)?;
    // A form (what another site could post) does not sign in.
    let form = suite
        .client
        .post("/v1/dashboard/sessions")
        .body(
            "application/x-www-form-urlencoded",
            format!("secret_key={secret}"),
        )
        .send()?;
    ensure_eq!(form.status, 415);
    ensure!(form.header("set-cookie").is_none(), "a cookie for a form");
    ensure!(
        wrong.header("set-cookie").is_none(),
        "a cookie for a wrong key"
    );
    let publishable = suite
        .client
        .post("/v1/dashboard/sessions")
        .json(&json!({"secret_key": suite.account.keys.test.publishable_key}))
        .send()?;
    ensure!(
        matches!(publishable.status, 400 | 401 | 403),
        "a publishable key answered {}",
        publishable.status
    );
    Ok(())
}

fn rolling_the_key_ends_its_dashboard_sessions(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Rolled")?;
    let cookie = signed_in(suite, &merchant)?;
    ensure_eq!(
        with_cookie(suite, "GET", "/v1/products", &cookie)
            .send()?
            .status,
        200
    );
    let rolled = create(&merchant, "/v1/account/roll_key", json!({}))?;
    ensure!(rolled["secret_key"].is_string(), "roll {rolled}");
    refused(
        &with_cookie(suite, "GET", "/v1/products", &cookie).send()?,
        401,
        "unauthorized",
        None,
    )?;
    Ok(())
}
