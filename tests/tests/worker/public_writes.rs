//! What anyone can make the Worker write without an account, and how long what it stores
//! is kept: the public health check writes nothing, a buy button's sessions are throttled
//! per client address, and the cron trigger deletes what is past its retention period.

use libtest_mimic::Failed;
use serde_json::json;
use till_tests::accounts::create_account;

use crate::support::product;
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "the_public_health_check_writes_nothing_and_the_operator_one_writes",
        the_public_health_check_writes_nothing_and_the_operator_one_writes,
    ),
    (
        "one_client_address_opens_at_most_twenty_checkouts_a_minute_by_buy_button",
        one_client_address_opens_at_most_twenty_checkouts_a_minute_by_buy_button,
    ),
];

fn the_public_health_check_writes_nothing_and_the_operator_one_writes(
    suite: &Suite,
) -> Result<(), Failed> {
    let stored = || suite.query("SELECT nonce, checked_at FROM health_checks");
    let before = stored()?;
    for bearer in [None, Some("op_not_the_token")] {
        let client = match bearer {
            Some(token) => suite.client.with_bearer(token),
            None => suite.client.clone(),
        };
        let reply = client.get("/healthz").send()?;
        ensure_eq!(reply.status, 200);
        let body = reply.json();
        ensure_eq!(body["status"], json!("ok"));
        ensure_eq!(body["writes"], json!(false));
        ensure_eq!(body["d1"]["ok"], json!(true));
        ensure_eq!(body["kv"]["ok"], json!(true));
        ensure_eq!(stored()?, before);
    }
    // The operator's check writes and reads back, through D1 and KV.
    let operator = suite.client.with_bearer(&suite.operator_token);
    let reply = operator.get("/healthz").send()?;
    ensure_eq!(reply.status, 200);
    ensure_eq!(reply.json()["writes"], json!(true));
    let after = stored()?;
    ensure_eq!(after.len(), 1);
    ensure!(after != before, "the operator's check wrote nothing");
    Ok(())
}

fn one_client_address_opens_at_most_twenty_checkouts_a_minute_by_buy_button(
    suite: &Suite,
) -> Result<(), Failed> {
    const LIMIT: usize = 20;
    let account = create_account(&suite.worker.base_url, &suite.operator_token, "Throttled")?;
    let merchant = suite.client.with_bearer(&account.keys.test.secret_key);
    let key = account.keys.test.publishable_key;
    let product = product(&merchant, "Button", 300, "USD")?;
    let path = format!(
        "/b/{}?key={key}",
        product["id"].as_str().unwrap_or_default()
    );
    let address = "198.51.100.44";
    let open = |address: &str| {
        suite
            .client
            .get(&path)
            .header("CF-Connecting-IP", address)
            .send()
    };
    // The limiter's window is a minute: the first refusal comes after the limit, or after
    // at most twice the limit when the requests cross into the next minute.
    let mut opened = 0;
    let refusal = loop {
        let reply = open(address)?;
        match reply.status {
            302 => opened += 1,
            429 => break reply,
            other => return Err(format!("/b/ answered {other}: {}", reply.body).into()),
        }
        ensure!(
            opened <= 2 * LIMIT,
            "{opened} sessions opened without a refusal"
        );
    };
    ensure!(opened >= LIMIT, "refused after only {opened} sessions");
    ensure_eq!(refusal.header("retry-after"), Some("60"));
    ensure!(
        refusal
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "content-type {:?}",
        refusal.header("content-type")
    );
    ensure!(
        refusal.body.contains("Too many checkouts"),
        "the page does not say why: {}",
        refusal.body
    );
    // Another address is not held back.
    ensure_eq!(open("203.0.113.45")?.status, 302);
    // A refused request created nothing.
    let sessions = suite.query(&format!(
        "SELECT count(*) AS n FROM checkout_sessions WHERE account_id = '{}'",
        account.id
    ))?;
    ensure_eq!(sessions[0]["n"], json!(opened + 1));
    Ok(())
}
