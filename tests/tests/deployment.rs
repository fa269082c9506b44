//! A Worker configured as it is deployed: only `wrangler.toml`'s variables and the
//! operator token, none of the ones a local instance gets. What only a local instance may
//! do is refused here, for test keys too. Its own Worker, since the black-box suite's is a
//! local instance; and the main Worker alone, since wrangler's local multi-Worker mode
//! gives a rate limiter to the first Worker only (the buy button's throttle is checked
//! here).

use serde_json::json;
use till_tests::accounts::create_account;
use till_tests::http::Client;
use till_tests::local::{Front, LocalWorker, Output, WorkerConfig, free_port, workspace_root};

#[test]
fn a_deployed_instance_refuses_loopback_webhooks_and_throttles_buy_buttons()
-> till_tests::Result<()> {
    let state_dir = workspace_root()
        .join("target/test-state")
        .join(format!("deployment-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    std::fs::create_dir_all(&state_dir)?;
    let operator = format!("op_{}", till_shared::ids::random_base62(32));
    let worker = LocalWorker::start(&WorkerConfig {
        config: None,
        front: Front::Main,
        port: free_port()?,
        state_dir: state_dir.clone(),
        vars: vec![("OPERATOR_TOKEN".into(), operator.clone())],
        output: Output::File(state_dir.join("worker.log")),
    })?;
    webhooks_reach_no_loopback_address(&worker, &operator)?;
    one_client_address_opens_at_most_twenty_checkouts_a_minute_by_buy_button(&worker, &operator)?;
    drop(worker);
    let _ = std::fs::remove_dir_all(&state_dir);
    Ok(())
}

fn webhooks_reach_no_loopback_address(
    worker: &LocalWorker,
    operator: &str,
) -> till_tests::Result<()> {
    let account = create_account(&worker.base_url, operator, "Deployed shop")?;
    let merchant = Client::new(&worker.base_url).with_bearer(&account.keys.test.secret_key);
    for url in [
        "http://127.0.0.1:6379/",
        "https://127.0.0.1/hook",
        "http://localhost:3000/webhooks",
        "https://[::1]/hook",
    ] {
        let reply = merchant
            .post("/v1/webhook_endpoints")
            .json(&json!({"url": url}))
            .send()?;
        assert_eq!(reply.status, 400, "{url}: {}", reply.body);
        assert_eq!(reply.json()["error"]["param"], json!("url"), "{url}");
    }
    let listed = merchant.get("/v1/webhook_endpoints").send()?;
    assert_eq!(listed.json()["data"], json!([]));
    // A public https receiver is accepted (nothing is sent to it: no event happens).
    let public = merchant
        .post("/v1/webhook_endpoints")
        .json(&json!({"url": "https://hooks.example.com/till", "enabled_events": ["payment_method.attached"]}))
        .send()?;
    assert_eq!(public.status, 201, "{}", public.body);
    Ok(())
}

fn one_client_address_opens_at_most_twenty_checkouts_a_minute_by_buy_button(
    worker: &LocalWorker,
    operator: &str,
) -> till_tests::Result<()> {
    const LIMIT: usize = 20;
    let account = create_account(&worker.base_url, operator, "Throttled")?;
    let merchant = Client::new(&worker.base_url).with_bearer(&account.keys.test.secret_key);
    let product = merchant
        .post("/v1/products")
        .json(&json!({"name": "Button", "price": {"amount": 300, "currency": "USD"}}))
        .send()?;
    assert_eq!(product.status, 201, "{}", product.body);
    let path = format!(
        "/b/{}?key={}",
        product.json()["id"].as_str().unwrap_or_default(),
        account.keys.test.publishable_key
    );
    let shopper = Client::new(&worker.base_url);
    let open = |address: &str| {
        shopper
            .get(&path)
            .header("CF-Connecting-IP", address)
            .send()
    };
    // The limiter's window is a minute: the first refusal comes after the limit, or after
    // at most twice the limit when the requests cross into the next minute.
    let mut opened = 0;
    let refusal = loop {
        let reply = open("198.51.100.44")?;
        match reply.status {
            302 => opened += 1,
            429 => break reply,
            other => panic!("/b/ answered {other}: {}", reply.body),
        }
        assert!(
            opened <= 2 * LIMIT,
            "{opened} sessions opened without a refusal"
        );
    };
    assert!(opened >= LIMIT, "refused after only {opened} sessions");
    assert_eq!(refusal.header("retry-after"), Some("60"));
    assert!(
        refusal
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "content-type {:?}",
        refusal.header("content-type")
    );
    assert!(
        refusal.body.contains("Too many checkouts"),
        "the page does not say why: {}",
        refusal.body
    );
    // Another address is not held back.
    assert_eq!(open("203.0.113.45")?.status, 302);
    // A refused request created nothing: the merchant sees one session per redirect.
    let sessions = merchant
        .get("/v1/checkout/sessions?page=1&page_size=1")
        .send()?;
    assert_eq!(
        sessions.json()["count"],
        json!(opened + 1),
        "{}",
        sessions.body
    );
    Ok(())
}
