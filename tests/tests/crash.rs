//! A crash in the middle of paying: workerd is killed (SIGKILL) while 200 shoppers pay a
//! link limited to 50 completions, started again on the same state directory, and the
//! cron run. Whatever the kill interrupted, the database holds no half-made purchase: the
//! link's count, its COMPLETE sessions, their orders and their payments agree, within the
//! limit; no reservation is left held; every `checkout.completed` event has its session.
//! Its own Worker: the kill takes down everything in flight on it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use till_tests::accounts::create_account;
use till_tests::http::Client;
use till_tests::local::{Front, LocalWorker, Output, WorkerConfig, free_port, workspace_root};

const SHOPPERS: usize = 200;
const LIMIT: i64 = 50;

/// One shopper: the link, the page it leads to, the card form. Answers the payment POST's
/// status (303 paid), or `None` when the Worker was not there to answer.
fn shop(base_url: &str, code: &str) -> Option<u16> {
    let client = Client::new(base_url);
    let visit = client.get(&format!("/{code}")).send().ok()?;
    let location = visit.header("location")?.to_owned();
    let path = location.strip_prefix(base_url)?.to_owned();
    let session = path.strip_prefix("/c/")?.split('?').next()?.to_owned();
    let page = client.get(&path).send().ok()?;
    let token = page.quoted_after("name=\"csrf\" value=\"")?;
    let form = [
        ("csrf", token.as_str()),
        ("email", "shopper@example.com"),
        ("name", "Mei Lin"),
        ("card_number", "4242424242424242"),
        ("card_expiry", "12 / 34"),
        ("card_cvc", "123"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace('@', "%40")))
    .collect::<Vec<_>>()
    .join("&");
    client
        .post(&format!("/c/{session}"))
        .body("application/x-www-form-urlencoded", form)
        .send()
        .ok()
        .map(|r| r.status)
}

fn start(
    state_dir: &std::path::Path,
    port: u16,
    operator: &str,
) -> till_tests::Result<LocalWorker> {
    LocalWorker::start(&WorkerConfig {
        config: None,
        front: Front::Links,
        port,
        state_dir: state_dir.to_path_buf(),
        vars: vec![
            ("OPERATOR_TOKEN".into(), operator.to_owned()),
            ("TEST_HOOKS".into(), "enabled".into()),
        ],
        output: Output::File(state_dir.join("worker.log")),
    })
}

fn one(rows: &[Value]) -> Value {
    rows.first().cloned().unwrap_or(Value::Null)
}

#[test]
fn a_crash_while_two_hundred_shoppers_pay_loses_nothing_and_sells_no_more_than_the_limit()
-> till_tests::Result<()> {
    let state_dir = workspace_root()
        .join("target/test-state")
        .join(format!("crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    std::fs::create_dir_all(&state_dir)?;
    let operator = format!("op_{}", till_shared::ids::random_base62(32));
    let port = free_port()?;
    let mut worker = start(&state_dir, port, &operator)?;
    let base_url = worker.base_url.clone();
    let account = create_account(&base_url, &operator, "Crash shop")?;
    let merchant = Client::new(&base_url).with_bearer(&account.keys.test.secret_key);
    let created = merchant
        .post("/v1/payment_links")
        .json(
            &json!({"amount": 590, "currency": "TWD", "title": "Flash sale", "multiple": true,
                      "max_completions": LIMIT, "success_url": "https://shop.example/thanks"}),
        )
        .send()?;
    assert_eq!(created.status, 201, "{}", created.body);
    let link = created.json();
    let link_id = link["id"].as_str().unwrap_or_default().to_owned();
    let code = link["url_id"].as_str().unwrap_or_default().to_owned();

    // The shoppers run; the kill comes once some have paid and others are mid-way.
    let paid = AtomicUsize::new(0);
    let killed_after = thread::scope(|scope| {
        for _ in 0..SHOPPERS {
            scope.spawn(|| {
                if shop(&base_url, &code) == Some(303) {
                    paid.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while paid.load(Ordering::SeqCst) < 10 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let at = paid.load(Ordering::SeqCst);
        worker.kill();
        at
    });
    assert!(
        killed_after >= 10,
        "only {killed_after} paid before the kill"
    );
    let answered = paid.load(Ordering::SeqCst);

    // The same state directory, a new process; reservations of payments the crash cut
    // short are given back by the cron once they are stale (time that has passed).
    let worker = start(&state_dir, port, &operator)?;
    let client = Client::new(&worker.base_url);
    client.update_d1(
        &operator,
        &format!(
            "UPDATE checkout_sessions SET reserved_at = reserved_at - 3600
             WHERE payment_link_id = '{link_id}' AND reservation IS NOT NULL"
        ),
    )?;
    // The cron, through the Worker's real scheduled entry.
    worker.run_scheduled()?;

    let counts = one(&client.query_d1(
        &operator,
        &format!(
            "SELECT (SELECT completed_count FROM payment_links WHERE id = '{link_id}') AS completed_count,
                    (SELECT reserved_count FROM payment_links WHERE id = '{link_id}') AS reserved_count,
                    (SELECT count(*) FROM checkout_sessions WHERE payment_link_id = '{link_id}' AND status = 'COMPLETE') AS complete,
                    (SELECT count(*) FROM orders WHERE payment_link_id = '{link_id}') AS orders,
                    (SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id
                     WHERE o.payment_link_id = '{link_id}' AND p.status = 'SUCCEEDED') AS payments,
                    (SELECT count(*) FROM checkout_sessions WHERE payment_link_id = '{link_id}' AND reservation IS NOT NULL) AS held,
                    (SELECT count(*) FROM checkout_sessions s WHERE s.payment_link_id = '{link_id}' AND s.status = 'COMPLETE'
                       AND NOT EXISTS (SELECT 1 FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.checkout_session_id = s.id)) AS complete_without_payment,
                    (SELECT count(*) FROM events e WHERE e.account_id = '{account}' AND e.type = 'checkout.completed') AS completed_events,
                    (SELECT count(*) FROM events e WHERE e.account_id = '{account}' AND e.type = 'checkout.completed'
                       AND NOT EXISTS (SELECT 1 FROM checkout_sessions s WHERE s.id = e.object_id AND s.status = 'COMPLETE')) AS events_without_session",
            account = account.id,
        ),
    )?);
    let completed = counts["completed_count"].as_i64().unwrap_or(-1);
    assert!(
        (1..=LIMIT).contains(&completed),
        "completed_count {completed}: {counts}"
    );
    // Every purchase a shopper was told about is there (more may have committed just
    // before the kill cut their answer).
    assert!(
        completed >= answered as i64,
        "{answered} shoppers were told they paid, {completed} completions stored: {counts}"
    );
    assert_eq!(
        counts,
        json!({
            "completed_count": completed,
            "reserved_count": 0,
            "complete": completed,
            "orders": completed,
            "payments": completed,
            "held": 0,
            "complete_without_payment": 0,
            "completed_events": completed,
            "events_without_session": 0,
        })
    );

    // And the link sells on after the crash, up to its limit exactly.
    let reply = merchant_after(&worker.base_url, &account.keys.test.secret_key, &link_id)?;
    assert_eq!(reply["completed_count"], json!(completed));
    let rest: usize = thread::scope(|scope| {
        let handles: Vec<_> = (0..(LIMIT - completed + 5))
            .map(|_| scope.spawn(|| shop(&worker.base_url, &code) == Some(303)))
            .collect();
        handles
            .into_iter()
            .map(|h| usize::from(h.join().unwrap_or(false)))
            .sum()
    });
    assert_eq!(rest as i64, LIMIT - completed);
    let after = merchant_after(&worker.base_url, &account.keys.test.secret_key, &link_id)?;
    assert_eq!(after["completed_count"], json!(LIMIT));
    drop(worker);
    let _ = std::fs::remove_dir_all(&state_dir);
    Ok(())
}

fn merchant_after(base_url: &str, key: &str, link_id: &str) -> till_tests::Result<Value> {
    let reply = Client::new(base_url)
        .with_bearer(key)
        .get(&format!("/v1/payment_links/{link_id}"))
        .send()?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    Ok(reply.json())
}
