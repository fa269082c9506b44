//! Webhooks received by a real HTTP server on loopback: signed, retried until delivered,
//! with every attempt recorded; endpoints managed through the API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_shared::ids::{EventId, WebhookDeliveryId, WebhookEndpointId};
use till_shared::webhooks::{SignatureError, verify};
use till_tests::http::Client;
use till_tests::receiver::Receiver;

use crate::shopper::{csrf, pay};
use crate::support::{change, create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_completed_checkout_reaches_the_receiver_signed",
        a_completed_checkout_reaches_the_receiver_signed,
    ),
    (
        "a_failing_receiver_gets_the_event_after_retries",
        a_failing_receiver_gets_the_event_after_retries,
    ),
    (
        "endpoints_are_managed_and_a_rolled_secret_signs_beside_the_old",
        endpoints_are_managed_and_a_rolled_secret_signs_beside_the_old,
    ),
    (
        "a_receiver_down_all_along_gets_every_event_once_back_and_replays_resend",
        a_receiver_down_all_along_gets_every_event_once_back_and_replays_resend,
    ),
    (
        "an_endpoint_failing_for_three_days_is_disabled_with_a_notice",
        an_endpoint_failing_for_three_days_is_disabled_with_a_notice,
    ),
    (
        "endpoints_on_internal_addresses_are_refused",
        endpoints_on_internal_addresses_are_refused,
    ),
    (
        "a_redirect_is_a_failed_attempt_and_is_not_followed",
        a_redirect_is_a_failed_attempt_and_is_not_followed,
    ),
    (
        "a_deleted_or_disabled_endpoint_gets_nothing_more",
        a_deleted_or_disabled_endpoint_gets_nothing_more,
    ),
    (
        "an_account_has_at_most_sixteen_endpoints_even_when_created_at_once",
        an_account_has_at_most_sixteen_endpoints_even_when_created_at_once,
    ),
    (
        "hanging_endpoints_of_one_account_do_not_hold_up_another_account",
        hanging_endpoints_of_one_account_do_not_hold_up_another_account,
    ),
];

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A paid checkout session of `merchant`; answers its id.
fn paid_session(suite: &Suite, merchant: &Client) -> Result<String, Failed> {
    let product = product(merchant, "Hooked", 1000, "TWD")?;
    let session = create(
        merchant,
        "/v1/checkout/sessions",
        json!({"productId": product["id"], "successUrl": "https://shop.example/ok", "metadata": {"transaction_id": "txn_9"}}),
    )?;
    let id = session["id"].as_str().unwrap_or_default().to_owned();
    let page = suite.client.get(&format!("/c/{id}")).send()?;
    ensure_eq!(
        pay(suite, &id, &csrf(&page)?, "4242 4242 4242 4242", &[])?.status,
        303
    );
    Ok(id)
}

fn endpoint(merchant: &Client, receiver: &Receiver, events: Value) -> Result<Value, Failed> {
    create(
        merchant,
        "/v1/webhook_endpoints",
        json!({"url": receiver.url, "enabled_events": events, "description": "test receiver"}),
    )
}

/// An endpoint's deliveries, each with its attempts.
fn deliveries(merchant: &Client, hook: &Value) -> Result<Value, Failed> {
    fetch(
        merchant,
        &format!(
            "/v1/webhook_endpoints/{}/deliveries",
            hook["id"].as_str().unwrap_or_default()
        ),
    )
}

/// Deletes an endpoint (its pending deliveries are canceled with it).
fn delete_endpoint(merchant: &Client, hook: &Value) -> Result<(), Failed> {
    merchant
        .request(
            "DELETE",
            &format!(
                "/v1/webhook_endpoints/{}",
                hook["id"].as_str().unwrap_or_default()
            ),
        )
        .send()?;
    Ok(())
}

/// The status codes of a delivery's attempts, in order.
fn status_codes(delivery: &Value) -> Vec<Value> {
    delivery["attempts"]
        .as_array()
        .map(|a| a.iter().map(|x| x["status_code"].clone()).collect())
        .unwrap_or_default()
}

fn a_completed_checkout_reaches_the_receiver_signed(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Webhooks")?;
    let receiver = Receiver::start(0)?;
    let hook = endpoint(&merchant, &receiver, json!(["checkout.completed"]))?;
    let secret = hook["secret"].as_str().unwrap_or_default().to_owned();
    ensure!(secret.starts_with("whsec_"), "secret {secret}");
    let session = paid_session(suite, &merchant)?;
    let got = receiver.wait_for(1, Duration::from_secs(15), || {
        let _ = suite.run_cron();
    });
    ensure_eq!(got.len(), 1);
    let delivery = &got[0];
    ensure_eq!(
        delivery.header("till-event-type"),
        Some("checkout.completed")
    );
    let signature = delivery.header("till-signature").unwrap_or_default();
    let signed_at = verify(signature, &delivery.body, &secret, now(), 300)
        .map_err(|e| format!("{e}: {signature}"))?;
    ensure!((now() - signed_at).abs() < 60, "signed at {signed_at}");
    let event: Value = serde_json::from_slice(&delivery.body)?;
    ensure_eq!(event["object"], json!("event"));
    ensure_eq!(delivery.header("till-event-id"), event["id"].as_str());
    ensure_eq!(event["data"]["id"], json!(session));
    ensure_eq!(event["data"]["metadata"]["transaction_id"], json!("txn_9"));
    // One byte changed, or a timestamp outside the tolerance, does not verify.
    let mut tampered = delivery.body.clone();
    tampered[10] ^= 1;
    ensure_eq!(
        verify(signature, &tampered, &secret, now(), 300),
        Err(SignatureError::NoMatch)
    );
    ensure_eq!(
        verify(signature, &delivery.body, &secret, signed_at + 301, 300),
        Err(SignatureError::OutsideTolerance)
    );
    // The endpoint wants only checkout.completed: an expiry is not sent to it.
    let other = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"price_id": fetch(&merchant, "/v1/prices?limit=1")?["data"][0]["id"]}),
    )?;
    merchant
        .post(&format!(
            "/v1/checkout/sessions/{}/expire",
            other["id"].as_str().unwrap_or_default()
        ))
        .send()?;
    suite.run_cron()?;
    ensure_eq!(receiver.received().len(), 1);
    Ok(())
}

fn a_failing_receiver_gets_the_event_after_retries(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Retries")?;
    let receiver = Receiver::start(3)?;
    let hook = endpoint(&merchant, &receiver, json!(["checkout.completed"]))?;
    paid_session(suite, &merchant)?;
    // Retries come from the cron trigger (one second apart here), not from sleeping.
    let got = receiver.wait_for(4, Duration::from_secs(30), || {
        let _ = suite.run_cron();
    });
    ensure_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![500, 500, 500, 200]
    );
    let ids: Vec<Option<&str>> = got.iter().map(|r| r.header("till-event-id")).collect();
    ensure!(
        ids.iter().all(|id| id.is_some() && *id == ids[0]),
        "the retries carry one event id: {ids:?}"
    );
    let log = deliveries(&merchant, &hook)?;
    let delivery = &log["data"][0];
    ensure_eq!(delivery["status"], json!("SUCCEEDED"));
    ensure_eq!(delivery["attempt_count"], json!(4));
    // One delivery per event and endpoint, named by both (the fan-out makes it in SQL).
    let pair = (
        EventId::parse(delivery["event_id"].as_str().unwrap_or_default()),
        WebhookEndpointId::parse(hook["id"].as_str().unwrap_or_default()),
    );
    let (Ok(event_id), Ok(endpoint_id)) = pair else {
        return Err(format!("a delivery of a typed event to a typed endpoint: {pair:?}").into());
    };
    ensure_eq!(
        delivery["id"],
        json!(WebhookDeliveryId::of(&event_id, &endpoint_id).as_str())
    );
    let codes = status_codes(delivery);
    ensure_eq!(codes, vec![json!(500), json!(500), json!(500), json!(200)]);
    // The same attempts, read from the event.
    let event = fetch(
        &merchant,
        &format!(
            "/v1/events/{}",
            delivery["event_id"].as_str().unwrap_or_default()
        ),
    )?;
    ensure_eq!(event["deliveries"][0]["endpoint_id"], hook["id"]);
    ensure_eq!(event["deliveries"][0]["attempts"], delivery["attempts"]);
    Ok(())
}

fn endpoints_are_managed_and_a_rolled_secret_signs_beside_the_old(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Endpoints")?;
    let receiver = Receiver::start(0)?;
    let hook = endpoint(&merchant, &receiver, json!(["checkout.expired"]))?;
    let id = hook["id"].as_str().unwrap_or_default().to_owned();
    ensure!(id.starts_with("we_"), "id {id}");
    let old_secret = hook["secret"].as_str().unwrap_or_default().to_owned();
    let fetched = fetch(&merchant, &format!("/v1/webhook_endpoints/{id}"))?;
    ensure!(fetched.get("secret").is_none(), "the secret is shown again");
    ensure_eq!(fetched["status"], json!("enabled"));
    ensure_eq!(
        fetch(&merchant, "/v1/webhook_endpoints")?["data"][0]["id"],
        json!(id)
    );
    let live = suite
        .live()
        .post("/v1/webhook_endpoints")
        .json(&json!({"url": "http://127.0.0.1:9/x"}))
        .send()?;
    refused(&live, 400, "invalid_request", Some("url"))?;
    refused(
        &merchant
            .post("/v1/webhook_endpoints")
            .json(&json!({"url": receiver.url, "enabled_events": ["Bad Type"]}))
            .send()?,
        400,
        "invalid_request",
        Some("enabled_events[0]"),
    )?;

    let rolled = merchant
        .post(&format!("/v1/webhook_endpoints/{id}/roll_secret"))
        .send()?;
    ensure_eq!(rolled.status, 200);
    let new_secret = rolled.json()["secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(
        new_secret.starts_with("whsec_") && new_secret != old_secret,
        "new secret {new_secret}"
    );
    let product = product(&merchant, "Expiring", 100, "USD")?;
    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": product["id"]}),
    )?;
    merchant
        .post(&format!(
            "/v1/checkout/sessions/{}/expire",
            session["id"].as_str().unwrap_or_default()
        ))
        .send()?;
    let got = receiver.wait_for(1, Duration::from_secs(15), || {
        let _ = suite.run_cron();
    });
    ensure_eq!(got.len(), 1);
    let signature = got[0].header("till-signature").unwrap_or_default();
    ensure_eq!(signature.matches("v1=").count(), 2);
    ensure!(
        verify(signature, &got[0].body, &new_secret, now(), 300).is_ok(),
        "the new secret does not verify"
    );
    ensure!(
        verify(signature, &got[0].body, &old_secret, now(), 300).is_ok(),
        "the old secret does not verify during the overlap"
    );

    let disabled = change(
        &merchant,
        "PATCH",
        &format!("/v1/webhook_endpoints/{id}"),
        json!({"status": "disabled"}),
    )?;
    ensure_eq!(disabled["status"], json!("disabled"));
    let deleted = merchant
        .request("DELETE", &format!("/v1/webhook_endpoints/{id}"))
        .send()?;
    ensure_eq!(deleted.json()["deleted"], json!(true));
    refused(
        &merchant
            .get(&format!("/v1/webhook_endpoints/{id}"))
            .send()?,
        404,
        "resource_not_found",
        None,
    )
}

fn a_receiver_down_all_along_gets_every_event_once_back_and_replays_resend(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Down receiver")?;
    // Nothing listens on this port: every delivery fails until the endpoint moves.
    let closed = till_tests::local::free_port()?;
    let hook = create(
        &merchant,
        "/v1/webhook_endpoints",
        json!({"url": format!("http://127.0.0.1:{closed}/down")}),
    )?;
    let hook_id = hook["id"].as_str().unwrap_or_default().to_owned();
    let secret = hook["secret"].as_str().unwrap_or_default().to_owned();
    let product = product(&merchant, "Outage", 100, "USD")?;
    for _ in 0..3 {
        let session = create(
            &merchant,
            "/v1/checkout/sessions",
            json!({"productId": product["id"]}),
        )?;
        merchant
            .post(&format!(
                "/v1/checkout/sessions/{}/expire",
                session["id"].as_str().unwrap_or_default()
            ))
            .send()?;
    }
    suite.run_cron()?;
    let failing = fetch(
        &merchant,
        &format!("/v1/webhook_endpoints/{hook_id}/deliveries"),
    )?;
    ensure_eq!(failing["data"].as_array().map(Vec::len), Some(3));
    ensure!(
        failing["data"][0]["attempts"][0]["error"].is_string(),
        "a failed attempt records its error: {}",
        failing["data"][0]
    );

    let receiver = Receiver::start(0)?;
    change(
        &merchant,
        "PATCH",
        &format!("/v1/webhook_endpoints/{hook_id}"),
        json!({"url": receiver.url}),
    )?;
    let got = receiver.wait_for(3, Duration::from_secs(30), || {
        let _ = suite.run_cron();
    });
    let mut received: Vec<String> = got
        .iter()
        .filter_map(|r| r.header("till-event-id").map(str::to_owned))
        .collect();
    received.sort();
    let mut expected: Vec<String> = fetch(&merchant, "/v1/events?limit=100")?["data"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    expected.sort();
    ensure_eq!(received, expected);

    // Replaying one event re-sends it with a fresh timestamp and signature.
    let first = &got[0];
    let event_id = first.header("till-event-id").unwrap_or_default().to_owned();
    let before = verify(
        first.header("till-signature").unwrap_or_default(),
        &first.body,
        &secret,
        now(),
        300,
    )?;
    std::thread::sleep(Duration::from_millis(1100)); // so that the new timestamp must differ
    let replay = create(
        &merchant,
        &format!("/v1/events/{event_id}/replay"),
        json!({"endpoint_id": hook_id}),
    )?;
    ensure_eq!(replay["queued"], json!(1));
    let again = receiver.wait_for(4, Duration::from_secs(15), || {
        let _ = suite.run_cron();
    });
    ensure_eq!(again.len(), 4);
    ensure_eq!(again[3].header("till-event-id"), Some(event_id.as_str()));
    let after = verify(
        again[3].header("till-signature").unwrap_or_default(),
        &again[3].body,
        &secret,
        now(),
        300,
    )?;
    ensure!(
        after > before,
        "the replay was not signed afresh ({before} then {after})"
    );
    // And a whole time range.
    let range = create(
        &merchant,
        &format!("/v1/webhook_endpoints/{hook_id}/replay"),
        json!({"created_gte": 0, "created_lte": now() + 60}),
    )?;
    ensure_eq!(range["queued"], json!(3));
    ensure_eq!(
        receiver
            .wait_for(7, Duration::from_secs(15), || {
                let _ = suite.run_cron();
            })
            .len(),
        7
    );
    Ok(())
}

fn an_endpoint_failing_for_three_days_is_disabled_with_a_notice(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Failing endpoint")?;
    let closed = till_tests::local::free_port()?;
    let hook = create(
        &merchant,
        "/v1/webhook_endpoints",
        json!({"url": format!("http://127.0.0.1:{closed}/gone")}),
    )?;
    let hook_id = hook["id"].as_str().unwrap_or_default().to_owned();
    let product = product(&merchant, "Unheard", 100, "USD")?;
    let expire_one = || -> Result<(), Failed> {
        let session = create(
            &merchant,
            "/v1/checkout/sessions",
            json!({"productId": product["id"]}),
        )?;
        merchant
            .post(&format!(
                "/v1/checkout/sessions/{}/expire",
                session["id"].as_str().unwrap_or_default()
            ))
            .send()?;
        suite.run_cron()?;
        Ok(())
    };
    expire_one()?;
    ensure_eq!(
        fetch(&merchant, &format!("/v1/webhook_endpoints/{hook_id}"))?["status"],
        json!("enabled")
    );
    // Three days of failures later, the next failure switches it off.
    suite.update(&format!(
        "UPDATE webhook_endpoints SET failing_since = unixepoch() - 259210 WHERE id = '{hook_id}'"
    ))?;
    expire_one()?;
    ensure_eq!(
        fetch(&merchant, &format!("/v1/webhook_endpoints/{hook_id}"))?["status"],
        json!("disabled")
    );
    let notices = fetch(&merchant, "/v1/events?type=webhook_endpoint.disabled")?;
    ensure_eq!(notices["data"].as_array().map(Vec::len), Some(1));
    ensure_eq!(notices["data"][0]["data"]["id"], json!(hook_id));
    Ok(())
}

/// The account id behind a merchant's key.
fn account_id(merchant: &Client) -> Result<String, Failed> {
    Ok(fetch(merchant, "/v1/account")?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn endpoints_on_internal_addresses_are_refused(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Scanner")?;
    // The instance metadata service, private ranges, internal names, and decimal and
    // mapped spellings of them: refused before anything is stored.
    for url in [
        "https://169.254.169.254/latest",
        "https://10.0.0.5/hook",
        "https://192.168.0.10/hook",
        "https://100.64.0.1/hook",
        "https://[fd12::1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
        "https://2852039166/latest",
        "https://metadata.google.internal/computeMetadata",
        "https://printer.local/hook",
        "https://redis/hook",
        "http://shop.example/hook",
    ] {
        let reply = merchant
            .post("/v1/webhook_endpoints")
            .json(&json!({"url": url}))
            .send()?;
        refused(&reply, 400, "invalid_request", Some("url"))
            .map_err(|e| format!("{url}: {e:?}"))?;
    }
    // Loopback only for test keys of a local instance: never for live keys.
    refused(
        &suite
            .live()
            .post("/v1/webhook_endpoints")
            .json(&json!({"url": "http://127.0.0.1:6379/"}))
            .send()?,
        400,
        "invalid_request",
        Some("url"),
    )?;
    // Nor by changing a stored endpoint's URL.
    let receiver = Receiver::start(0)?;
    let hook = endpoint(&merchant, &receiver, json!(["*"]))?;
    let id = hook["id"].as_str().unwrap_or_default();
    refused(
        &merchant
            .request("PATCH", &format!("/v1/webhook_endpoints/{id}"))
            .json(&json!({"url": "https://169.254.169.254/latest"}))
            .send()?,
        400,
        "invalid_request",
        Some("url"),
    )?;
    let listed = fetch(&merchant, "/v1/webhook_endpoints")?;
    let urls: Vec<Value> = listed["data"]
        .as_array()
        .map(|a| a.iter().map(|e| e["url"].clone()).collect())
        .unwrap_or_default();
    ensure_eq!(urls, vec![json!(receiver.url)]);
    Ok(())
}

fn a_redirect_is_a_failed_attempt_and_is_not_followed(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Redirected")?;
    let target = Receiver::start(0)?;
    let redirecting = Receiver::redirecting(&target.url)?;
    let hook = endpoint(&merchant, &redirecting, json!(["customer.created"]))?;
    create(&merchant, "/v1/customers", json!({"name": "Ada"}))?;
    // The first attempt (retries a second apart may follow, from any check's cron run).
    let got = redirecting.wait_for(1, Duration::from_secs(15), || {
        let _ = suite.run_cron();
    });
    ensure!(!got.is_empty(), "the endpoint was never tried");
    let log = deliveries(&merchant, &hook)?;
    let delivery = &log["data"][0];
    let codes = status_codes(delivery);
    ensure!(
        !codes.is_empty() && codes.iter().all(|c| *c == json!(302)),
        "attempts {codes:?}"
    );
    ensure_eq!(delivery["status"], json!("PENDING"));
    ensure!(
        target.received().is_empty(),
        "the redirect was followed: {:?}",
        target.received()
    );
    // Not to be retried forever by the suite's cron runs.
    delete_endpoint(&merchant, &hook)?;
    Ok(())
}

fn a_deleted_or_disabled_endpoint_gets_nothing_more(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Unsubscribed")?;
    let account = account_id(&merchant)?;
    // Two receivers that keep failing, so their deliveries stay pending for retries.
    let deleted_receiver = Receiver::start(usize::MAX)?;
    let disabled_receiver = Receiver::start(usize::MAX)?;
    let deleted = endpoint(&merchant, &deleted_receiver, json!(["customer.created"]))?;
    let disabled = endpoint(&merchant, &disabled_receiver, json!(["customer.created"]))?;
    for name in ["Ada", "Grace", "Edsger"] {
        create(&merchant, "/v1/customers", json!({"name": name}))?;
    }
    // Each has been tried at least once.
    deleted_receiver.wait_for(1, Duration::from_secs(15), || {
        let _ = suite.run_cron();
    });
    disabled_receiver.wait_for(1, Duration::from_secs(15), || {
        let _ = suite.run_cron();
    });
    delete_endpoint(&merchant, &deleted)?;
    change(
        &merchant,
        "PATCH",
        &format!(
            "/v1/webhook_endpoints/{}",
            disabled["id"].as_str().unwrap_or_default()
        ),
        json!({"status": "disabled"}),
    )?;
    let statuses = suite.query(&format!(
        "SELECT DISTINCT status FROM webhook_deliveries WHERE account_id = '{account}'"
    ))?;
    ensure_eq!(statuses, vec![json!({"status": "CANCELED"})]);
    // Retries would come a second apart: a few cron runs later, neither got anything more.
    let before = (
        deleted_receiver.received().len(),
        disabled_receiver.received().len(),
    );
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1100));
        suite.run_cron()?;
    }
    ensure_eq!(
        (
            deleted_receiver.received().len(),
            disabled_receiver.received().len()
        ),
        before
    );
    let listed = deliveries(&merchant, &disabled)?;
    ensure_eq!(listed["data"][0]["status"], json!("CANCELED"));
    ensure_eq!(listed["data"][0]["next_attempt_at"], Value::Null);
    Ok(())
}

fn an_account_has_at_most_sixteen_endpoints_even_when_created_at_once(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Many endpoints")?;
    let receiver = Receiver::start(0)?;
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let merchant = merchant.clone();
                let url = receiver.url.clone();
                scope.spawn(move || {
                    merchant
                        .post("/v1/webhook_endpoints")
                        .json(&json!({"url": url}))
                        .send()
                        .map_or(0, |r| r.status)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    ensure_eq!(answers.iter().filter(|s| **s == 201).count(), 16);
    // The limit is the account's state, not the request's shape: 409.
    ensure_eq!(answers.iter().filter(|s| **s == 409).count(), 4);
    let account = account_id(&merchant)?;
    let stored = suite.query(&format!(
        "SELECT count(*) AS n FROM webhook_endpoints WHERE account_id = '{account}' AND deleted = 0"
    ))?;
    ensure_eq!(stored, vec![json!({"n": 16})]);
    // A deleted one makes room again.
    let listed = fetch(&merchant, "/v1/webhook_endpoints?limit=1")?;
    delete_endpoint(&merchant, &listed["data"][0])?;
    let again = merchant
        .post("/v1/webhook_endpoints")
        .json(&json!({"url": receiver.url}))
        .send()?;
    ensure_eq!(again.status, 201);
    Ok(())
}

fn hanging_endpoints_of_one_account_do_not_hold_up_another_account(
    suite: &Suite,
) -> Result<(), Failed> {
    // One account: 16 endpoints that never answer, and 200 deliveries due to them, older
    // than anything else.
    let noisy = suite.fresh_merchant("Hanging receivers")?;
    let noisy_account = account_id(&noisy)?;
    let hanging = Receiver::hanging()?;
    let mut hooks = Vec::new();
    for _ in 0..16 {
        hooks.push(endpoint(&noisy, &hanging, json!(["customer.updated"]))?);
    }
    let old = now() - 600;
    suite.update(&format!(
        "INSERT INTO events (id, account_id, environment, type, object_id, data, created_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 13)
         SELECT 'evt_hang' || i || '{noisy_account}', '{noisy_account}', 'SANDBOX', 'customer.updated', 'cus_x', '{{}}', {old}
         FROM n"
    ))?;
    suite.update(&format!(
        "INSERT INTO webhook_deliveries (id, account_id, environment, event_id, endpoint_id, next_attempt_at, created_at)
         SELECT 'wd_hang_' || e.id || w.id, e.account_id, 'SANDBOX', e.id, w.id, {old}, {old}
         FROM events e JOIN webhook_endpoints w ON w.account_id = e.account_id
         WHERE e.account_id = '{noisy_account}' AND e.id LIKE 'evt_hang%' AND w.deleted = 0 LIMIT 200"
    ))?;
    let pending = suite.query(&format!(
        "SELECT count(*) AS n FROM webhook_deliveries WHERE account_id = '{noisy_account}' AND status = 'PENDING'"
    ))?;
    ensure_eq!(pending, vec![json!({"n": 200})]);

    // Another account's event: its first attempt fails, so its retry is the cron's work.
    let quiet = suite.fresh_merchant("Patient receiver")?;
    let receiver = Receiver::start(1)?;
    endpoint(&quiet, &receiver, json!(["customer.created"]))?;
    create(&quiet, "/v1/customers", json!({"name": "Ada"}))?;
    let outcome = (|| -> Result<(), Failed> {
        let first = receiver.wait_for(1, Duration::from_secs(10), || {});
        ensure!(first.len() == 1, "the first attempt did not come at once");
        std::thread::sleep(Duration::from_millis(1100));
        // One cron run delivers the retry while the other account's receivers still hang.
        let cron = std::thread::scope(|scope| {
            let run = scope.spawn(|| suite.run_cron().map_err(|e| e.to_string()));
            let got = receiver.wait_for(2, Duration::from_secs(20), || {});
            let delivered_in_run = got.len() == 2 && !run.is_finished();
            hanging.release();
            let finished = run
                .join()
                .unwrap_or_else(|_| Err("the cron panicked".into()));
            (got.len(), delivered_in_run, finished)
        });
        ensure!(cron.0 == 2, "the retry did not arrive during the cron run");
        ensure!(cron.1, "the retry came only after the cron run ended");
        cron.2?;
        ensure!(
            !hanging.received().is_empty(),
            "the hanging receivers were never tried"
        );
        Ok(())
    })();
    hanging.release();
    // Nothing more for the hanging endpoints, whatever the outcome.
    for hook in &hooks {
        delete_endpoint(&noisy, hook)?;
    }
    outcome
}
