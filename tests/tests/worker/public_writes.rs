//! What anyone can make the Worker write without an account, and how long what it stores
//! is kept: the public health check writes nothing, and the cron trigger deletes what is past
//! its retention period. (A buy button's sessions are throttled per client address:
//! `tests/deployment.rs`.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_shared::ids::random_base62;
use till_tests::receiver::Receiver;

use crate::support::{create, product};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "the_public_health_check_writes_nothing_and_the_operator_one_writes",
        the_public_health_check_writes_nothing_and_the_operator_one_writes,
    ),
    (
        "the_cron_deletes_what_is_past_its_retention_and_keeps_the_rest",
        the_cron_deletes_what_is_past_its_retention_and_keeps_the_rest,
    ),
];

const DAY: i64 = 24 * 3600;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

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
        ensure_eq!(stored()?, before);
        let body = reply.json();
        ensure_eq!(body["status"], json!("ok"));
        ensure_eq!(body["writes"], json!(false));
        ensure_eq!(body["d1"]["ok"], json!(true));
        ensure_eq!(body["kv"]["ok"], json!(true));
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

fn the_cron_deletes_what_is_past_its_retention_and_keeps_the_rest(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Retention")?;
    let receiver = Receiver::start(0)?;
    create(
        &merchant,
        "/v1/webhook_endpoints",
        json!({"url": receiver.url, "enabled_events": ["checkout.expired"]}),
    )?;
    let product = product(&merchant, "Kept a while", 100, "USD")?;
    let session = || -> Result<String, Failed> {
        let made = create(
            &merchant,
            "/v1/checkout/sessions",
            json!({"productId": product["id"], "customer_email": "kept@example.com"}),
        )?;
        Ok(made["id"].as_str().unwrap_or_default().to_owned())
    };
    let (old, recent, open) = (session()?, session()?, session()?);
    for id in [&old, &recent] {
        create(
            &merchant,
            &format!("/v1/checkout/sessions/{id}/expire"),
            json!({}),
        )?;
    }
    let third = session()?;
    create(
        &merchant,
        &format!("/v1/checkout/sessions/{third}/expire"),
        json!({}),
    )?;
    let delivered = receiver.wait_for(3, Duration::from_secs(30), || {
        let _ = suite.run_cron();
    });
    ensure_eq!(delivered.len(), 3);
    let event_of = |session: &str| -> Result<String, Failed> {
        let rows = suite.query(&format!(
            "SELECT id FROM events WHERE object_id = '{session}' AND type = 'checkout.expired'"
        ))?;
        Ok(rows
            .first()
            .and_then(|r| r["id"].as_str())
            .unwrap_or_default()
            .to_owned())
    };
    let (delivered_event, pending_event, young_event) =
        (event_of(&old)?, event_of(&third)?, event_of(&recent)?);
    let now = now();
    let month_ago = now - 31 * DAY;
    let almost = now - 29 * DAY;
    // Sessions: one that ended a month ago, one 29 days ago, one still open a month on.
    suite.update(&format!(
        "UPDATE checkout_sessions SET created_at = {month_ago}, expires_at = {month_ago} WHERE id = '{old}'"
    ))?;
    suite.update(&format!(
        "UPDATE checkout_sessions SET created_at = {almost}, expires_at = {almost} WHERE id = '{recent}'"
    ))?;
    suite.update(&format!(
        "UPDATE checkout_sessions SET created_at = {month_ago} WHERE id = '{open}'"
    ))?;
    // Events: a month old and delivered, a month old with a delivery still pending, and
    // 29 days old.
    for (event, at) in [
        (&delivered_event, month_ago),
        (&pending_event, month_ago),
        (&young_event, almost),
    ] {
        suite.update(&format!(
            "UPDATE events SET created_at = {at} WHERE id = '{event}'"
        ))?;
    }
    suite.update(&format!(
        "UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = {} WHERE event_id = '{pending_event}'",
        now + 365 * DAY
    ))?;
    // Idempotency keys: one claimed a day ago, one just now.
    let (stale_key, fresh_key) = (
        format!("stale-{}", random_base62(8)),
        format!("fresh-{}", random_base62(8)),
    );
    for key in [&stale_key, &fresh_key] {
        let reply = merchant
            .post("/v1/products")
            .header("Idempotency-Key", key)
            .json(&json!({"name": key, "price": {"amount": 100, "currency": "USD"}}))
            .send()?;
        ensure_eq!(reply.status, 201);
    }
    suite.update(&format!(
        "UPDATE idempotency_keys SET created_at = {} WHERE key = '{stale_key}'",
        now - DAY - 1
    ))?;

    suite.run_cron()?;

    let count = |sql: String| -> Result<Value, Failed> { Ok(suite.query(&sql)?[0]["n"].clone()) };
    let sessions_left = |id: &str| {
        count(format!(
            "SELECT count(*) AS n FROM checkout_sessions WHERE id = '{id}'"
        ))
    };
    ensure_eq!(sessions_left(&old)?, json!(0));
    ensure_eq!(sessions_left(&recent)?, json!(1));
    ensure_eq!(sessions_left(&open)?, json!(1));
    ensure_eq!(sessions_left(&third)?, json!(1));
    let event_left = |id: &str| {
        count(format!(
            "SELECT count(*) AS n FROM events WHERE id = '{id}'"
        ))
    };
    let deliveries_left = |id: &str| {
        count(format!(
            "SELECT count(*) AS n FROM webhook_deliveries WHERE event_id = '{id}'"
        ))
    };
    let attempts_left = |id: &str| {
        count(format!(
            "SELECT count(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
             WHERE d.event_id = '{id}'"
        ))
    };
    ensure_eq!(event_left(&delivered_event)?, json!(0));
    ensure_eq!(deliveries_left(&delivered_event)?, json!(0));
    let orphans = count(
        "SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id NOT IN (SELECT id FROM webhook_deliveries)"
            .to_owned(),
    )?;
    ensure_eq!(orphans, json!(0));
    ensure_eq!(event_left(&pending_event)?, json!(1));
    ensure_eq!(deliveries_left(&pending_event)?, json!(1));
    ensure_eq!(attempts_left(&pending_event)?, json!(1));
    ensure_eq!(event_left(&young_event)?, json!(1));
    ensure_eq!(deliveries_left(&young_event)?, json!(1));
    let keys_left = |key: &str| {
        count(format!(
            "SELECT count(*) AS n FROM idempotency_keys WHERE key = '{key}'"
        ))
    };
    ensure_eq!(keys_left(&stale_key)?, json!(0));
    ensure_eq!(keys_left(&fresh_key)?, json!(1));
    // What is gone is gone from the API too.
    ensure_eq!(
        merchant
            .get(&format!("/v1/events/{delivered_event}"))
            .send()?
            .status,
        404
    );
    Ok(())
}
