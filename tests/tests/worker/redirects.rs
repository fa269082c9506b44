//! Where Till's pages may send a shopper, and who may frame them: an account's
//! `allowed_redirect_hosts` (per environment) bound what its publishable key may set as
//! `success_url` and `cancel_url`, and which pages may embed its checkout. A secret key is
//! unrestricted; a new account allows nothing.

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_tests::accounts::{CreatedAccount, create_account};
use till_tests::http::{Client, Reply};

use crate::embedding::frame_ancestors;
use crate::shopper::{arrive, link, path_of};
use crate::support::{change, create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_publishable_key_redirects_only_to_the_accounts_allowed_hosts",
        a_publishable_key_redirects_only_to_the_accounts_allowed_hosts,
    ),
    (
        "allowed_redirect_hosts_are_hosts_only_at_most_twenty_and_per_environment",
        allowed_redirect_hosts_are_hosts_only_at_most_twenty_and_per_environment,
    ),
    (
        "a_new_accounts_checkout_is_framed_by_no_one_and_talks_to_no_one",
        a_new_accounts_checkout_is_framed_by_no_one_and_talks_to_no_one,
    ),
    (
        "an_embedded_page_is_framed_and_heard_only_by_allowed_origins",
        an_embedded_page_is_framed_and_heard_only_by_allowed_origins,
    ),
];

/// A merchant of its own (these checks change its settings while others run).
fn merchant(suite: &Suite, name: &str) -> Result<(CreatedAccount, Client, Client), Failed> {
    let account = create_account(&suite.worker.base_url, &suite.operator_token, name)?;
    let secret = suite.client.with_bearer(&account.keys.test.secret_key);
    let publishable = suite.client.with_bearer(&account.keys.test.publishable_key);
    Ok((account, secret, publishable))
}

fn allow(secret: &Client, hosts: Value) -> Result<Value, Failed> {
    change(
        secret,
        "PATCH",
        "/v1/account",
        json!({"allowed_redirect_hosts": hosts}),
    )
}

fn session(client: &Client, product: &Value, urls: Value) -> Result<Reply, Failed> {
    let mut body = json!({"productId": product["id"]});
    if let (Some(body), Some(urls)) = (body.as_object_mut(), urls.as_object()) {
        body.extend(urls.clone());
    }
    Ok(client.post("/v1/checkout/sessions").json(&body).send()?)
}

fn a_publishable_key_redirects_only_to_the_accounts_allowed_hosts(
    suite: &Suite,
) -> Result<(), Failed> {
    let (account, secret, publishable) = merchant(suite, "Redirecting shop")?;
    let sticker = product(&secret, "Sticker", 150, "TWD")?;
    let sessions = format!(
        "SELECT count(*) AS n FROM checkout_sessions WHERE account_id = '{}'",
        account.id
    );

    // A new account allows no host: a publishable key sets no redirect at all.
    for field in ["success_url", "cancel_url"] {
        let reply = session(
            &publishable,
            &sticker,
            json!({ field: "https://phish.example/login" }),
        )?;
        refused(&reply, 403, "forbidden", Some(field))?;
    }
    ensure_eq!(suite.query(&sessions)?, vec![json!({"n": 0})]);
    // Without redirects it sells as before.
    ensure_eq!(session(&publishable, &sticker, json!({}))?.status, 201);

    let settings = allow(&secret, json!(["shop.example", "*.brand.example"]))?;
    ensure_eq!(
        settings["allowed_redirect_hosts"],
        json!(["shop.example", "*.brand.example"])
    );
    let allowed = session(
        &publishable,
        &sticker,
        json!({"successUrl": "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}",
               "cancelUrl": "https://eu.brand.example/cart"}),
    )?;
    ensure!(
        allowed.status == 201,
        "an allowed redirect answered {}: {}",
        allowed.status,
        allowed.body
    );
    ensure_eq!(
        allowed.json()["cancel_url"],
        json!("https://eu.brand.example/cart")
    );
    for (field, url) in [
        ("success_url", "https://shop.example.phish.example/"),
        ("success_url", "https://shop.example@phish.example/"),
        ("success_url", "https://phish.example/https://shop.example/"),
        ("success_url", "https://shop.example:8443/"),
        ("cancel_url", "https://brand.example/"),
        ("cancel_url", "https://evilbrand.example/"),
    ] {
        let reply = session(
            &publishable,
            &sticker,
            json!({"success_url": "https://shop.example/ok", field: url}),
        )?;
        refused(&reply, 403, "forbidden", Some(field))?;
    }
    // The secret key is the merchant's own: any redirect.
    let server_side = session(
        &secret,
        &sticker,
        json!({"success_url": "https://elsewhere.example/ok", "cancel_url": "https://elsewhere.example/no"}),
    )?;
    ensure_eq!(server_side.status, 201);
    ensure_eq!(suite.query(&sessions)?, vec![json!({"n": 3})]);
    Ok(())
}

fn allowed_redirect_hosts_are_hosts_only_at_most_twenty_and_per_environment(
    suite: &Suite,
) -> Result<(), Failed> {
    let (account, secret, publishable) = merchant(suite, "Settings shop")?;
    ensure_eq!(
        fetch(&secret, "/v1/account")?["allowed_redirect_hosts"],
        json!([])
    );
    let saved = allow(
        &secret,
        json!([
            "Shop.Example:443",
            "shop.example",
            "localhost:3000",
            "[::1]:3000"
        ]),
    )?;
    ensure_eq!(
        saved["allowed_redirect_hosts"],
        json!(["shop.example", "localhost:3000", "[::1]:3000"])
    );
    // Readable with the publishable key (pages show it anyway, in their CSP).
    ensure_eq!(
        fetch(&publishable, "/v1/account")?["allowed_redirect_hosts"],
        saved["allowed_redirect_hosts"]
    );
    for (hosts, param) in [
        (json!(["https://shop.example"]), "allowed_redirect_hosts[0]"),
        (
            json!(["shop.example", "shop.example/thanks"]),
            "allowed_redirect_hosts[1]",
        ),
        (json!(["user@shop.example"]), "allowed_redirect_hosts[0]"),
        (json!(["*.com"]), "allowed_redirect_hosts[0]"),
        (json!([""]), "allowed_redirect_hosts[0]"),
        (json!([7]), "allowed_redirect_hosts[0]"),
        (json!("shop.example"), "allowed_redirect_hosts"),
        (
            Value::from(
                (0..21)
                    .map(|i| format!("s{i}.shop.example"))
                    .collect::<Vec<_>>(),
            ),
            "allowed_redirect_hosts",
        ),
    ] {
        let reply = secret
            .request("PATCH", "/v1/account")
            .json(&json!({ "allowed_redirect_hosts": hosts }))
            .send()?;
        refused(&reply, 400, "invalid_request", Some(param))?;
    }
    let twenty: Vec<String> = (0..20).map(|i| format!("s{i}.shop.example")).collect();
    ensure_eq!(
        allow(&secret, json!(twenty))?["allowed_redirect_hosts"]
            .as_array()
            .map(Vec::len),
        Some(20)
    );
    // Only the secret key changes it.
    let by_page = publishable
        .request("PATCH", "/v1/account")
        .json(&json!({"allowed_redirect_hosts": ["phish.example"]}))
        .send()?;
    refused(&by_page, 403, "forbidden", None)?;
    ensure_eq!(
        allow(&secret, Value::Null)?["allowed_redirect_hosts"],
        json!([])
    );

    // Each environment has its own list: test hosts do not open the live key's redirects.
    allow(&secret, json!(["shop.example"]))?;
    let live = suite.client.with_bearer(&account.keys.live.secret_key);
    ensure_eq!(
        fetch(&live, "/v1/account")?["allowed_redirect_hosts"],
        json!([])
    );
    let live_product = product(&live, "Live sticker", 150, "TWD")?;
    let live_page = suite.client.with_bearer(&account.keys.live.publishable_key);
    let reply = session(
        &live_page,
        &live_product,
        json!({"success_url": "https://shop.example/ok"}),
    )?;
    refused(&reply, 403, "forbidden", Some("success_url"))?;
    allow(&live, json!(["shop.example"]))?;
    ensure_eq!(
        session(
            &live_page,
            &live_product,
            json!({"success_url": "https://shop.example/ok"})
        )?
        .status,
        201
    );
    let stored = suite.query(&format!(
        "SELECT environment, allowed_redirect_hosts FROM environment_settings
         WHERE account_id = '{}' ORDER BY environment",
        account.id
    ))?;
    ensure_eq!(
        stored,
        vec![
            json!({"environment": "PRODUCTION", "allowed_redirect_hosts": "[\"shop.example\"]"}),
            json!({"environment": "SANDBOX", "allowed_redirect_hosts": "[\"shop.example\"]"}),
        ]
    );
    Ok(())
}

/// The page a visit to `path` (with `query`) leads to.
fn page(suite: &Suite, path: &str, query: &str) -> Result<Reply, Failed> {
    let visit = suite.client.get(&format!("{path}?{query}")).send()?;
    Ok(arrive(suite, &visit)?.1)
}

/// Whether the page would talk to a parent at all (its messaging script and target).
fn talks_to(page: &Reply) -> Option<String> {
    page.quoted_after("data-parent=\"")
}

fn a_new_accounts_checkout_is_framed_by_no_one_and_talks_to_no_one(
    suite: &Suite,
) -> Result<(), Failed> {
    let (account, secret, _) = merchant(suite, "New shop")?;
    let link = link(&secret, json!({}))?;
    let path = path_of(link["url"].as_str().unwrap_or_default(), suite);
    for query in [
        "embedded=1",
        "embedded=1&origin=https%3A%2F%2Fshop.example",
        "embedded=1&origin=https%3A%2F%2Fphish.example",
    ] {
        let page = page(suite, &path, query)?;
        ensure_eq!(page.status, 200);
        ensure_eq!(frame_ancestors(&page), "'none'");
        ensure!(
            talks_to(&page).is_none(),
            "{query}: the page talks to a parent"
        );
        ensure!(
            !page.body.contains("postMessage"),
            "{query}: a messaging script"
        );
    }
    // By product with the publishable key, likewise.
    let sticker = product(&secret, "Sticker", 150, "TWD")?;
    let visit = suite
        .client
        .get(&format!(
            "/b/{}?key={}&embedded=1&origin=https%3A%2F%2Fphish.example",
            sticker["id"].as_str().unwrap_or_default(),
            account.keys.test.publishable_key
        ))
        .send()?;
    ensure_eq!(visit.status, 302);
    let location = visit.header("location").unwrap_or_default().to_owned();
    ensure!(
        !location.contains("phish.example"),
        "the origin is carried on: {location}"
    );
    let page = suite.client.get(&path_of(&location, suite)).send()?;
    ensure_eq!(frame_ancestors(&page), "'none'");
    ensure!(talks_to(&page).is_none(), "the /b/ page talks to a parent");
    Ok(())
}

fn an_embedded_page_is_framed_and_heard_only_by_allowed_origins(
    suite: &Suite,
) -> Result<(), Failed> {
    let (account, secret, _) = merchant(suite, "Embedding shop")?;
    allow(&secret, json!(["shop.example", "127.0.0.1:5555"]))?;
    let link = link(&secret, json!({}))?;
    let path = path_of(link["url"].as_str().unwrap_or_default(), suite);

    let shop = page(suite, &path, "embedded=1&origin=https%3A%2F%2Fshop.example")?;
    ensure_eq!(frame_ancestors(&shop), "https://shop.example");
    ensure_eq!(talks_to(&shop), Some("https://shop.example".to_owned()));
    // Plain http to a listed loopback host, in SANDBOX.
    let local = page(
        suite,
        &path,
        "embedded=1&origin=http%3A%2F%2F127.0.0.1%3A5555",
    )?;
    ensure_eq!(frame_ancestors(&local), "http://127.0.0.1:5555");
    ensure_eq!(talks_to(&local), Some("http://127.0.0.1:5555".to_owned()));

    // An origin that names itself is neither a frame ancestor nor a message target.
    let all = "https://shop.example https://127.0.0.1:5555 http://127.0.0.1:5555";
    for query in [
        "embedded=1&origin=https%3A%2F%2Fphish.example",
        "embedded=1&origin=https%3A%2F%2Fshop.example%3A8443",
        "embedded=1&origin=http%3A%2F%2Fshop.example",
        "embedded=1",
    ] {
        let page = page(suite, &path, query)?;
        ensure_eq!(frame_ancestors(&page), all);
        ensure!(
            talks_to(&page).is_none(),
            "{query}: the page talks to a parent"
        );
        ensure!(
            !page.body.contains("phish.example"),
            "{query}: the origin reached the page"
        );
    }
    // Unlisted origins do not hear of a payment, nor of an unpayable link.
    let id = link["id"].as_str().unwrap_or_default();
    change(
        &secret,
        "PATCH",
        &format!("/v1/payment_links/{id}"),
        json!({"active": false}),
    )?;
    let inactive = suite
        .client
        .get(&format!(
            "{path}?embedded=1&origin=https%3A%2F%2Fphish.example"
        ))
        .send()?;
    ensure_eq!(inactive.status, 410);
    ensure_eq!(frame_ancestors(&inactive), all);
    ensure!(talks_to(&inactive).is_none(), "the inactive page talks");
    let allowed_inactive = suite
        .client
        .get(&format!(
            "{path}?embedded=1&origin=https%3A%2F%2Fshop.example"
        ))
        .send()?;
    ensure_eq!(frame_ancestors(&allowed_inactive), "https://shop.example");

    // PRODUCTION frames nothing over plain http, even from a listed loopback host.
    let live = suite.client.with_bearer(&account.keys.live.secret_key);
    allow(&live, json!(["127.0.0.1:5555"]))?;
    let live_link = create(
        &live,
        "/v1/payment_links",
        json!({"productId": product(&live, "Live notes", 590, "TWD")?["id"]}),
    )?;
    let live_path = path_of(live_link["url"].as_str().unwrap_or_default(), suite);
    let live_page = page(
        suite,
        &live_path,
        "embedded=1&origin=http%3A%2F%2F127.0.0.1%3A5555",
    )?;
    ensure_eq!(frame_ancestors(&live_page), "https://127.0.0.1:5555");
    ensure!(
        talks_to(&live_page).is_none(),
        "a live page talks over http"
    );
    Ok(())
}
