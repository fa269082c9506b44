//! The foundation: health, error shape, routing, static assets, accounts and keys.

use libtest_mimic::Failed;
use serde_json::json;

use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "healthz_proves_d1_and_kv_round_trips",
        healthz_proves_d1_and_kv_round_trips,
    ),
    (
        "unknown_paths_answer_404_in_the_documented_error_shape",
        unknown_paths_answer_404_in_the_documented_error_shape,
    ),
    (
        "a_known_path_with_another_method_answers_405_with_allow",
        a_known_path_with_another_method_answers_405_with_allow,
    ),
    (
        "demo_shop_page_and_widget_files_are_served",
        demo_shop_page_and_widget_files_are_served,
    ),
    (
        "each_key_resolves_to_its_account_and_environment",
        each_key_resolves_to_its_account_and_environment,
    ),
    (
        "bad_or_missing_keys_are_unauthorized",
        bad_or_missing_keys_are_unauthorized,
    ),
    (
        "accounts_need_the_operator_token",
        accounts_need_the_operator_token,
    ),
    (
        "keys_are_stored_only_as_hashes",
        keys_are_stored_only_as_hashes,
    ),
];

fn healthz_proves_d1_and_kv_round_trips(suite: &Suite) -> Result<(), Failed> {
    let reply = suite.client.get("/healthz").send()?;
    ensure_eq!(reply.status, 200);
    ensure!(
        reply
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "content-type {:?}",
        reply.header("content-type")
    );
    ensure_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    ensure_eq!(body["status"], json!("ok"));
    ensure_eq!(body["version"], json!(env!("CARGO_PKG_VERSION")));
    ensure_eq!(body["d1"]["ok"], json!(true));
    ensure_eq!(body["kv"]["ok"], json!(true));
    // With the operator token the D1 half really writes: the health row holds a fresh
    // nonce after each check.
    let operator = suite.client.with_bearer(&suite.operator_token);
    ensure_eq!(operator.get("/healthz").send()?.status, 200);
    let rows = suite.query("SELECT nonce FROM health_checks")?;
    ensure_eq!(rows.len(), 1);
    let first = rows[0]["nonce"].clone();
    operator.get("/healthz").send()?;
    let rows = suite.query("SELECT nonce FROM health_checks")?;
    ensure!(rows[0]["nonce"] != first, "the nonce did not change");
    Ok(())
}

fn unknown_paths_answer_404_in_the_documented_error_shape(suite: &Suite) -> Result<(), Failed> {
    for (method, path) in [
        ("GET", "/v1/nothing-here"),
        ("POST", "/v1/nothing/here"),
        ("GET", "/v1/products/x/y"),
    ] {
        let reply = suite.client.request(method, path).send()?;
        ensure_eq!(reply.status, 404);
        let body = reply.json();
        ensure_eq!(body["error"]["code"], json!("resource_not_found"));
        ensure_eq!(body["error"]["type"], json!("invalid_request_error"));
        let message = body["error"]["message"].as_str().unwrap_or_default();
        ensure!(
            message.contains(path) && message.contains(method),
            "message {message:?}"
        );
        ensure_eq!(body.as_object().map(|o| o.len()), Some(1));
    }
    Ok(())
}

fn a_known_path_with_another_method_answers_405_with_allow(suite: &Suite) -> Result<(), Failed> {
    let reply = suite.client.request("DELETE", "/healthz").send()?;
    ensure_eq!(reply.status, 405);
    ensure_eq!(reply.header("allow"), Some("GET"));
    ensure_eq!(reply.json()["error"]["code"], json!("method_not_allowed"));
    Ok(())
}

fn demo_shop_page_and_widget_files_are_served(suite: &Suite) -> Result<(), Failed> {
    let page = suite.client.get("/").send()?;
    ensure_eq!(page.status, 200);
    ensure!(
        page.header("content-type")
            .is_some_and(|v| v.starts_with("text/html")),
        "content-type {:?}",
        page.header("content-type")
    );
    ensure!(
        page.body.contains("<script src=\"/till.js\">"),
        "the demo page does not load the buy button loader"
    );

    // The loader and the widget are loaded by shops on other origins: CORS, and types.
    let loader = suite.client.get("/till.js").send()?;
    ensure_eq!(loader.status, 200);
    ensure_eq!(loader.header("access-control-allow-origin"), Some("*"));
    ensure!(
        loader.body.contains("till-buy-button") && loader.body.contains("/pkg/till_widget.js"),
        "the loader does not define the element or load the widget"
    );
    ensure!(
        !loader.body.contains("BUTTON_CSS"),
        "the button styles were not inlined"
    );
    let types = suite.client.get("/till.d.ts").send()?;
    ensure_eq!(types.status, 200);
    ensure!(
        types
            .body
            .contains("\"till-buy-button\": TillBuyButtonAttributes"),
        "the types do not declare the JSX element"
    );
    let glue = suite.client.get("/pkg/till_widget.js").send()?;
    ensure_eq!(glue.status, 200);
    ensure_eq!(glue.header("access-control-allow-origin"), Some("*"));
    for export in [
        "export function adopt",
        "export function open",
        "export function close",
    ] {
        ensure!(glue.body.contains(export), "the glue lacks `{export}`");
    }
    let wasm = suite.client.get("/pkg/till_widget_bg.wasm").send()?;
    ensure_eq!(wasm.status, 200);
    ensure_eq!(wasm.header("content-type"), Some("application/wasm"));
    ensure!(wasm.bytes.starts_with(b"\0asm"), "not a WebAssembly module");
    let docs = suite.client.get("/docs/").send()?;
    ensure_eq!(docs.status, 200);
    ensure!(
        docs.body.contains("4242 4242 4242 4242") && docs.body.contains("4000 0025 0000 3155"),
        "the docs page lacks the test cards"
    );
    Ok(())
}

fn each_key_resolves_to_its_account_and_environment(suite: &Suite) -> Result<(), Failed> {
    let keys = &suite.account.keys;
    for (key, environment, kind) in [
        (&keys.test.secret_key, "SANDBOX", "secret"),
        (&keys.test.publishable_key, "SANDBOX", "publishable"),
        (&keys.live.secret_key, "PRODUCTION", "secret"),
        (&keys.live.publishable_key, "PRODUCTION", "publishable"),
    ] {
        let reply = suite.client.with_bearer(key).get("/v1/account").send()?;
        ensure_eq!(reply.status, 200);
        let body = reply.json();
        ensure_eq!(body["id"], json!(suite.account.id));
        ensure_eq!(body["name"], json!("Test Merchant"));
        ensure_eq!(body["environment"], json!(environment));
        ensure_eq!(body["key_kind"], json!(kind));
    }
    Ok(())
}

fn bad_or_missing_keys_are_unauthorized(suite: &Suite) -> Result<(), Failed> {
    let real = &suite.account.keys.test.secret_key;
    // Same shape, one character changed: a well-formed key that does not exist.
    let mut forged = real.clone();
    let last = forged.pop().unwrap_or('a');
    forged.push(if last == 'a' { 'b' } else { 'a' });
    // A live-looking prefix on a test key's random part.
    let swapped = real.replacen("sk_test_", "sk_live_", 1);
    for key in [
        None,
        Some("garbage"),
        Some(forged.as_str()),
        Some(swapped.as_str()),
        Some(suite.operator_token.as_str()),
    ] {
        let client = match key {
            Some(key) => suite.client.with_bearer(key),
            None => suite.client.clone(),
        };
        let reply = client.get("/v1/account").send()?;
        ensure_eq!(reply.status, 401);
        ensure_eq!(reply.json()["error"]["code"], json!("unauthorized"));
    }
    Ok(())
}

fn accounts_need_the_operator_token(suite: &Suite) -> Result<(), Failed> {
    let intruders = || -> Result<i64, Failed> {
        let rows = suite.query("SELECT count(*) AS n FROM accounts WHERE name = 'Intruder'")?;
        Ok(rows[0]["n"].as_i64().unwrap_or(-1))
    };
    for token in [
        None,
        Some("op_wrong"),
        Some(suite.account.keys.test.secret_key.as_str()),
    ] {
        let client = match token {
            Some(token) => suite.client.with_bearer(token),
            None => suite.client.clone(),
        };
        let reply = client
            .post("/v1/accounts")
            .json(&json!({"name": "Intruder"}))
            .send()?;
        ensure_eq!(reply.status, 401);
        ensure_eq!(reply.json()["error"]["code"], json!("unauthorized"));
    }
    let empty_name = suite
        .client
        .with_bearer(&suite.operator_token)
        .post("/v1/accounts")
        .json(&json!({"name": "  "}))
        .send()?;
    ensure_eq!(empty_name.status, 400);
    ensure_eq!(empty_name.json()["error"]["param"], json!("name"));
    ensure_eq!(intruders()?, 0);
    Ok(())
}

/// Secret keys are kept only as hashes; publishable keys (public by nature, pasted into
/// merchant pages) are kept in full too, so the dashboard can show them again.
fn keys_are_stored_only_as_hashes(suite: &Suite) -> Result<(), Failed> {
    let rows = suite.query(&format!(
        "SELECT * FROM api_keys WHERE account_id = '{}'",
        suite.account.id
    ))?;
    ensure_eq!(rows.len(), 4);
    let dump = serde_json::to_string(&rows)?;
    let keys = &suite.account.keys;
    for key in [&keys.test.secret_key, &keys.live.secret_key] {
        ensure!(
            !dump.contains(key.as_str()),
            "a secret key is stored in clear"
        );
    }
    for key in [
        &keys.test.secret_key,
        &keys.test.publishable_key,
        &keys.live.secret_key,
        &keys.live.publishable_key,
    ] {
        let hash = till_shared::keys::hash_key(key);
        ensure!(
            dump.contains(&hash),
            "no row holds the hash of {}",
            &key[..8]
        );
    }
    Ok(())
}
