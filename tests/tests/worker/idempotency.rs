//! `Idempotency-Key`: scoped by the kind of key, never storing an answer that carried a
//! secret, expiring after a day, and freeing a claim whose request never finished.

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_shared::ids::random_base62;
use till_tests::accounts::create_account;
use till_tests::http::{Client, Reply};

use crate::support::{product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "answers_that_carried_a_secret_are_never_stored_and_never_replayed",
        answers_that_carried_a_secret_are_never_stored_and_never_replayed,
    ),
    (
        "a_publishable_key_cannot_claim_an_idempotency_key_of_the_secret_key",
        a_publishable_key_cannot_claim_an_idempotency_key_of_the_secret_key,
    ),
    (
        "an_idempotency_key_is_a_new_request_a_day_after_it_was_claimed",
        an_idempotency_key_is_a_new_request_a_day_after_it_was_claimed,
    ),
    (
        "a_claim_whose_request_never_finished_is_taken_over_after_a_minute",
        a_claim_whose_request_never_finished_is_taken_over_after_a_minute,
    ),
];

/// A key no other check uses.
fn fresh_key(purpose: &str) -> String {
    format!("{purpose}-{}", random_base62(12))
}

fn post_keyed(client: &Client, path: &str, key: &str, body: &Value) -> Result<Reply, Failed> {
    Ok(client
        .post(path)
        .header("Idempotency-Key", key)
        .json(body)
        .send()?)
}

/// The stored row of `key` (all kinds of key), as D1 has it.
fn rows_of(suite: &Suite, key: &str) -> Result<Vec<Value>, Failed> {
    Ok(suite.query(&format!(
        "SELECT * FROM idempotency_keys WHERE key = '{key}' ORDER BY key_kind"
    ))?)
}

/// The first request succeeded; its replay is a 409 in the documented shape naming the
/// object, and what D1 keeps of it is only a marker.
fn withheld(
    suite: &Suite,
    first: &Reply,
    replay: &Reply,
    key: &str,
    secret: &str,
) -> Result<(), Failed> {
    ensure!(
        (200..300).contains(&first.status),
        "first request answered {}: {}",
        first.status,
        first.body
    );
    refused(replay, 409, "idempotency_error", None)?;
    ensure!(
        !replay.body.contains(secret),
        "the replay carries the secret: {}",
        replay.body
    );
    ensure!(
        replay.header("idempotent-replayed").is_none(),
        "a refused replay is not a replay"
    );
    if let Some(id) = first.json()["id"].as_str() {
        let message = replay.json()["error"]["message"].clone();
        ensure!(
            message.as_str().is_some_and(|m| m.contains(id)),
            "the message does not name {id}: {message}"
        );
    }
    let rows = rows_of(suite, key)?;
    ensure_eq!(rows.len(), 1);
    ensure_eq!(rows[0]["secret_withheld"], json!(1));
    ensure_eq!(rows[0]["body"], Value::Null);
    ensure!(
        !rows[0].to_string().contains(secret),
        "the row holds the secret: {}",
        rows[0]
    );
    Ok(())
}

fn answers_that_carried_a_secret_are_never_stored_and_never_replayed(
    suite: &Suite,
) -> Result<(), Failed> {
    // Account creation (operator token): the keys are shown once.
    let operator = suite.client.with_bearer(&suite.operator_token);
    let key = fresh_key("account");
    let body = json!({"name": "Idempotent Shop"});
    let first = post_keyed(&operator, "/v1/accounts", &key, &body)?;
    let replay = post_keyed(&operator, "/v1/accounts", &key, &body)?;
    let secret = first.json()["keys"]["live"]["secret_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(secret.starts_with("sk_live_"), "no key in {}", first.body);
    withheld(suite, &first, &replay, &key, &secret)?;
    let accounts =
        suite.query("SELECT count(*) AS n FROM accounts WHERE name = 'Idempotent Shop'")?;
    ensure_eq!(accounts[0]["n"], json!(1));

    // A key roll: the retry comes with the new key (the old one stopped working).
    let account = create_account(&suite.worker.base_url, &suite.operator_token, "Rolling")?;
    let old = suite.client.with_bearer(&account.keys.test.secret_key);
    let key = fresh_key("roll");
    let first = post_keyed(&old, "/v1/account/roll_key", &key, &json!({}))?;
    let rolled = first.json()["secret_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(rolled.starts_with("sk_test_"), "no key in {}", first.body);
    let new = suite.client.with_bearer(&rolled);
    let replay = post_keyed(&new, "/v1/account/roll_key", &key, &json!({}))?;
    withheld(suite, &first, &replay, &key, &rolled)?;
    ensure_eq!(new.get("/v1/account").send()?.status, 200);

    // A webhook endpoint's signing secret, when created and when rolled.
    let merchant = new;
    let key = fresh_key("endpoint");
    let body = json!({"url": "https://hooks.example/till"});
    let first = post_keyed(&merchant, "/v1/webhook_endpoints", &key, &body)?;
    let replay = post_keyed(&merchant, "/v1/webhook_endpoints", &key, &body)?;
    let secret = first.json()["secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(secret.starts_with("whsec_"), "no secret in {}", first.body);
    withheld(suite, &first, &replay, &key, &secret)?;
    let endpoint = first.json()["id"].as_str().unwrap_or_default().to_owned();
    let endpoints = suite.query(&format!(
        "SELECT count(*) AS n FROM webhook_endpoints WHERE account_id = '{}'",
        account.id
    ))?;
    ensure_eq!(endpoints[0]["n"], json!(1));

    let path = format!("/v1/webhook_endpoints/{endpoint}/roll_secret");
    let key = fresh_key("roll-secret");
    let first = post_keyed(&merchant, &path, &key, &json!({}))?;
    let replay = post_keyed(&merchant, &path, &key, &json!({}))?;
    let secret = first.json()["secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(secret.starts_with("whsec_"), "no secret in {}", first.body);
    withheld(suite, &first, &replay, &key, &secret)?;

    // Nothing stored anywhere holds a key or a signing secret.
    let leaked = suite.query(
        "SELECT count(*) AS n FROM idempotency_keys
         WHERE instr(body, 'sk_test_') > 0 OR instr(body, 'sk_live_') > 0 OR instr(body, 'whsec_') > 0",
    )?;
    ensure_eq!(leaked[0]["n"], json!(0));

    // An answer without a secret is still replayed as it was.
    let key = fresh_key("plain");
    let body = json!({"name": "Replayed", "price": {"amount": 100, "currency": "USD"}});
    let first = post_keyed(&merchant, "/v1/products", &key, &body)?;
    let again = post_keyed(&merchant, "/v1/products", &key, &body)?;
    ensure_eq!(again.status, first.status);
    ensure_eq!(again.json(), first.json());
    ensure_eq!(again.header("idempotent-replayed"), Some("true"));
    Ok(())
}

fn a_publishable_key_cannot_claim_an_idempotency_key_of_the_secret_key(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let shopper = suite.publishable();
    let product = product(&merchant, "Claimed", 700, "USD")?;
    let key = fresh_key("predictable");
    let session = json!({"productId": product["id"]});
    // Someone with the public key uses the key first, with the request the merchant will
    // send, and with another.
    let theirs = post_keyed(&shopper, "/v1/checkout/sessions", &key, &session)?;
    ensure_eq!(theirs.status, 201);
    // The merchant's own requests with that key run as theirs alone.
    let ours = post_keyed(&merchant, "/v1/checkout/sessions", &key, &session)?;
    ensure!(ours.status == 201, "{}: {}", ours.status, ours.body);
    ensure!(
        ours.header("idempotent-replayed").is_none(),
        "the merchant got the publishable key's answer"
    );
    ensure!(
        ours.json()["id"] != theirs.json()["id"],
        "the merchant got the publishable key's session"
    );
    let other_key = fresh_key("predictable");
    post_keyed(&shopper, "/v1/checkout/sessions", &other_key, &session)?;
    let created = post_keyed(
        &merchant,
        "/v1/products",
        &other_key,
        &json!({"name": "Mine", "price": {"amount": 100, "currency": "USD"}}),
    )?;
    ensure!(
        created.status == 201,
        "{}: {}",
        created.status,
        created.body
    );
    // Each kind of key replays its own answer.
    let again = post_keyed(&shopper, "/v1/checkout/sessions", &key, &session)?;
    ensure_eq!(again.json()["id"], theirs.json()["id"]);
    let rows = rows_of(suite, &key)?;
    let kinds: Vec<Value> = rows.iter().map(|r| r["key_kind"].clone()).collect();
    ensure_eq!(kinds, vec![json!("publishable"), json!("secret")]);
    Ok(())
}

fn an_idempotency_key_is_a_new_request_a_day_after_it_was_claimed(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let key = fresh_key("daily");
    let body = json!({"name": "Daily", "price": {"amount": 100, "currency": "USD"}});
    let first = post_keyed(&merchant, "/v1/products", &key, &body)?;
    ensure_eq!(first.status, 201);
    // Within the day: the same answer.
    suite.update(&format!(
        "UPDATE idempotency_keys SET created_at = created_at - 86000 WHERE key = '{key}'"
    ))?;
    let replay = post_keyed(&merchant, "/v1/products", &key, &body)?;
    ensure_eq!(replay.json()["id"], first.json()["id"]);
    // A day after: a new request, even with a different body.
    suite.update(&format!(
        "UPDATE idempotency_keys SET created_at = created_at - 401 WHERE key = '{key}'"
    ))?;
    let later = post_keyed(&merchant, "/v1/products", &key, &body)?;
    ensure!(later.status == 201, "{}: {}", later.status, later.body);
    ensure!(
        later.header("idempotent-replayed").is_none(),
        "an expired key was replayed"
    );
    ensure!(later.json()["id"] != first.json()["id"], "the same product");
    suite.update(&format!(
        "UPDATE idempotency_keys SET created_at = created_at - 86401 WHERE key = '{key}'"
    ))?;
    let other = json!({"name": "Other", "price": {"amount": 200, "currency": "USD"}});
    let different = post_keyed(&merchant, "/v1/products", &key, &other)?;
    ensure!(
        different.status == 201,
        "{}: {}",
        different.status,
        different.body
    );
    ensure_eq!(different.json()["name"], json!("Other"));
    Ok(())
}

fn a_claim_whose_request_never_finished_is_taken_over_after_a_minute(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let key = fresh_key("died");
    let body = json!({"name": "Interrupted", "price": {"amount": 100, "currency": "USD"}});
    let first = post_keyed(&merchant, "/v1/products", &key, &body)?;
    ensure_eq!(first.status, 201);
    // As if the Worker had died before recording the outcome.
    suite.update(&format!(
        "UPDATE idempotency_keys SET status = 0, body = NULL WHERE key = '{key}'"
    ))?;
    let running = post_keyed(&merchant, "/v1/products", &key, &body)?;
    refused(&running, 409, "conflict", None)?;
    suite.update(&format!(
        "UPDATE idempotency_keys SET created_at = created_at - 45 WHERE key = '{key}'"
    ))?;
    refused(
        &post_keyed(&merchant, "/v1/products", &key, &body)?,
        409,
        "conflict",
        None,
    )?;
    // A minute after the claim: another request may not take it, the same one may.
    suite.update(&format!(
        "UPDATE idempotency_keys SET created_at = created_at - 16 WHERE key = '{key}'"
    ))?;
    let other = json!({"name": "Other", "price": {"amount": 100, "currency": "USD"}});
    refused(
        &post_keyed(&merchant, "/v1/products", &key, &other)?,
        409,
        "idempotency_error",
        None,
    )?;
    let retried = post_keyed(&merchant, "/v1/products", &key, &body)?;
    ensure!(
        retried.status == 201,
        "{}: {}",
        retried.status,
        retried.body
    );
    ensure!(
        retried.header("idempotent-replayed").is_none(),
        "the retry was answered from storage"
    );
    // Its outcome is stored and replayed like any other.
    let replay = post_keyed(&merchant, "/v1/products", &key, &body)?;
    ensure_eq!(replay.json()["id"], retried.json()["id"]);
    ensure_eq!(replay.header("idempotent-replayed"), Some("true"));
    Ok(())
}
