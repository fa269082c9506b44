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
    (
        "the_operator_makes_login_links_for_an_account_s_test_or_live_view",
        the_operator_makes_login_links_for_an_account_s_test_or_live_view,
    ),
    (
        "branding_and_the_publishable_key_are_in_the_account",
        branding_and_the_publishable_key_are_in_the_account,
    ),
    (
        "every_dashboard_address_is_its_page_with_a_strict_policy",
        every_dashboard_address_is_its_page_with_a_strict_policy,
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

/// Confirms a login link as its page does: a form POST of its token from this origin.
fn confirm(suite: &Suite, token: &str, origin: &str) -> Result<Reply, Failed> {
    Ok(suite
        .client
        .post("/dashboard/login")
        .header("Origin", origin)
        .body(
            "application/x-www-form-urlencoded",
            format!("token={token}"),
        )
        .send()?)
}

/// Signs `merchant` in through a login link; answers the cookie pair.
fn signed_in(suite: &Suite, merchant: &Client) -> Result<String, Failed> {
    let link = create(merchant, "/v1/dashboard/login_links", json!({}))?;
    let url = link["url"].as_str().unwrap_or_default();
    let token = url.rsplit('=').next().unwrap_or_default();
    let reply = confirm(suite, token, &suite.worker.base_url)?;
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
    let link_token = url.rsplit('=').next().unwrap_or_default().to_owned();
    // Opening the link (as a mail scanner or a preview would) spends nothing: it asks to
    // confirm, with a form that posts the token back.
    for _ in 0..2 {
        let page = suite.client.get(&path).send()?;
        ensure_eq!(page.status, 200);
        ensure!(page.header("set-cookie").is_none(), "a GET signed in");
        ensure!(
            page.body.contains("action=\"/dashboard/login\"") && page.body.contains(&link_token),
            "no confirmation form"
        );
        // It says whose dashboard, and which view, the link opens.
        ensure!(
            page.body.contains("<strong>Dashboard Link</strong> (test)"),
            "the page does not name the account"
        );
    }
    // A confirmation from another site's page (login CSRF) is refused, and spends nothing.
    let elsewhere = confirm(suite, &link_token, "https://evil.example")?;
    ensure_eq!(elsewhere.status, 410);
    ensure!(
        elsewhere.header("set-cookie").is_none(),
        "signed in from another site"
    );
    let reply = confirm(suite, &link_token, &suite.worker.base_url)?;
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
    let rows = suite.query(&format!(
        "SELECT (SELECT count(*) FROM dashboard_sessions WHERE token_hash = '{token}') +
                (SELECT count(*) FROM dashboard_login_links WHERE token_hash = '{link_token}') AS plain"
    ))?;
    ensure_eq!(rows[0]["plain"], json!(0));
    // The link works once.
    let again = confirm(suite, &link_token, &suite.worker.base_url)?;
    ensure_eq!(again.status, 410);
    ensure!(again.header("set-cookie").is_none(), "a second session");
    ensure_eq!(
        confirm(suite, "dl_nothing", &suite.worker.base_url)?.status,
        410
    );
    ensure_eq!(
        suite
            .client
            .get("/dashboard/login?token=%3Cb%3E")
            .send()?
            .status,
        410
    );
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
    // A session cannot mint the next sign-in (the route takes a key, not the cookie).
    refused(
        &with_cookie(suite, "POST", "/v1/dashboard/login_links", &cookie)
            .header("X-Till-CSRF", &csrf)
            .json(&json!({}))
            .send()?,
        401,
        "unauthorized",
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

fn the_operator_makes_login_links_for_an_account_s_test_or_live_view(
    suite: &Suite,
) -> Result<(), Failed> {
    let account = till_tests::accounts::create_account(
        &suite.worker.base_url,
        &suite.operator_token,
        "Operator's own",
    )?;
    let operator = suite.client.with_bearer(&suite.operator_token);
    for (environment, expected) in [(None, "SANDBOX"), (Some("live"), "PRODUCTION")] {
        let mut body = json!({"account_id": account.id});
        if let Some(environment) = environment {
            body["environment"] = json!(environment);
        }
        let link = create(&operator, "/v1/dashboard/login_links", body)?;
        ensure_eq!(link["environment"], json!(expected));
        let token = link["url"]
            .as_str()
            .unwrap_or_default()
            .rsplit('=')
            .next()
            .unwrap_or_default()
            .to_owned();
        let cookie = session_cookie(&confirm(suite, &token, &suite.worker.base_url)?)?;
        let session = with_cookie(suite, "GET", "/v1/dashboard/session", &cookie).send()?;
        ensure_eq!(session.json()["account"]["id"], json!(account.id));
        ensure_eq!(session.json()["livemode"], json!(expected == "PRODUCTION"));
    }
    // The operator names an account; an unknown one is refused, and so is a key that
    // names another (a key makes links for its own account and environment only).
    refused(
        &operator
            .post("/v1/dashboard/login_links")
            .json(&json!({"account_id": "acct_nothing"}))
            .send()?,
        409,
        "resource_missing",
        Some("account_id"),
    )?;
    refused(
        &operator
            .post("/v1/dashboard/login_links")
            .json(&json!({}))
            .send()?,
        400,
        "invalid_request",
        Some("account_id"),
    )?;
    let merchant = suite.fresh_merchant("Own links only")?;
    refused(
        &merchant
            .post("/v1/dashboard/login_links")
            .json(&json!({"account_id": account.id}))
            .send()?,
        403,
        "forbidden",
        None,
    )?;
    refused(
        &merchant
            .post("/v1/dashboard/login_links")
            .json(&json!({"environment": "live"}))
            .send()?,
        403,
        "forbidden",
        None,
    )?;
    Ok(())
}

fn branding_and_the_publishable_key_are_in_the_account(suite: &Suite) -> Result<(), Failed> {
    let account = till_tests::accounts::create_account(
        &suite.worker.base_url,
        &suite.operator_token,
        "Branded",
    )?;
    let merchant = suite.client.with_bearer(&account.keys.test.secret_key);
    let shown = crate::support::fetch(&merchant, "/v1/account")?;
    ensure_eq!(
        shown["publishable_key"],
        json!(account.keys.test.publishable_key)
    );
    ensure_eq!(shown["branding"]["display_name"], Value::Null);
    let changed = crate::support::change(
        &merchant,
        "PATCH",
        "/v1/account",
        json!({"branding": {"display_name": " Field Notes ", "logo_url": "https://cdn.example.com/logo.png", "accent_color": "#0A7"}}),
    )?;
    ensure_eq!(changed["branding"]["display_name"], json!("Field Notes"));
    ensure_eq!(changed["branding"]["accent_color"], json!("#00aa77"));
    ensure_eq!(
        changed["branding"]["logo_url"],
        json!("https://cdn.example.com/logo.png")
    );
    for (branding, param) in [
        (
            json!({"logo_url": "http://cdn.example.com/logo.png"}),
            "branding.logo_url",
        ),
        (json!({"accent_color": "tomato"}), "branding.accent_color"),
        (json!({"display_name": ""}), "branding.display_name"),
        (json!({"font": "Comic Sans"}), "branding"),
    ] {
        refused(
            &merchant
                .request("PATCH", "/v1/account")
                .json(&json!({ "branding": branding }))
                .send()?,
            400,
            "invalid_request",
            Some(param),
        )?;
    }
    // A refused change leaves what was stored.
    let kept = crate::support::fetch(&merchant, "/v1/account")?;
    ensure_eq!(kept["branding"]["accent_color"], json!("#00aa77"));
    // Branding is per environment: a test key never changes what live shoppers see.
    let live = suite.client.with_bearer(&account.keys.live.secret_key);
    let live_view = crate::support::fetch(&live, "/v1/account")?;
    ensure_eq!(live_view["branding"]["display_name"], Value::Null);
    ensure_eq!(
        live_view["publishable_key"],
        json!(account.keys.live.publishable_key)
    );

    // The checkout page and the receipt show the brand: name, logo, colour.
    let link = crate::shopper::link(&merchant, json!({}))?;
    let session = crate::shopper::visit(suite, &link)?;
    let page = suite.client.get(&format!("/c/{session}")).send()?;
    let branded = |body: &str| {
        body.contains("<h1>Field Notes</h1>")
            && body.contains("src=\"https://cdn.example.com/logo.png\"")
            && body.contains("button:not(.sec){background:#00aa77}")
    };
    ensure!(branded(&page.body), "the checkout page is not branded");
    ensure!(
        !page.body.contains("Branded"),
        "the account's own name is shown"
    );
    let paid = crate::shopper::pay(
        suite,
        &session,
        &crate::shopper::csrf(&page)?,
        "4242 4242 4242 4242",
        &[],
    )?;
    ensure_eq!(paid.status, 303);
    let payments = crate::support::fetch(
        &merchant,
        &format!("/v1/payments?checkout_session={session}"),
    )?;
    let receipt = payments["data"][0]["receipt_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let receipt = suite
        .client
        .get(receipt.trim_start_matches(&suite.worker.base_url))
        .send()?;
    ensure_eq!(receipt.status, 200);
    ensure!(branded(&receipt.body), "the receipt is not branded");
    Ok(())
}

fn every_dashboard_address_is_its_page_with_a_strict_policy(suite: &Suite) -> Result<(), Failed> {
    for path in [
        "/dashboard/",
        "/dashboard/links/plink_123",
        "/dashboard/settings",
    ] {
        let page = suite.client.get(path).send()?;
        ensure_eq!(page.status, 200);
        ensure!(
            page.body.contains("/dashboard/boot.js"),
            "{path} is not the dashboard"
        );
        let policy = page.header("content-security-policy").unwrap_or_default();
        ensure!(
            policy.contains("frame-ancestors 'none'")
                && policy.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{path}: policy {policy}"
        );
    }
    // The dashboard's Rust sources are not served.
    let source = suite.client.get("/dashboard/Cargo.toml").send()?;
    ensure!(
        !source.body.contains("[package]"),
        "the crate's manifest is served"
    );
    let lib = suite.client.get("/dashboard/src/lib.rs").send()?;
    ensure!(
        !lib.body.contains("wasm_bindgen"),
        "the crate's source is served"
    );
    Ok(())
}
