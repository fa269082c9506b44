//! A Worker configured as it is deployed: only `wrangler.toml`'s variables and the
//! operator token, none of the ones a local instance gets. What only a local instance may
//! do is refused here, for test keys too. Its own Worker, since the black-box suite's is a
//! local instance.

use serde_json::json;
use till_tests::accounts::create_account;
use till_tests::http::Client;
use till_tests::local::{LocalWorker, Output, WorkerConfig, free_port, workspace_root};

#[test]
fn a_deployed_instance_sends_webhooks_to_no_loopback_address() -> till_tests::Result<()> {
    let state_dir = workspace_root()
        .join("target/test-state")
        .join(format!("deployment-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    std::fs::create_dir_all(&state_dir)?;
    let operator = format!("op_{}", till_shared::ids::random_base62(32));
    let worker = LocalWorker::start(&WorkerConfig {
        config: None,
        port: free_port()?,
        state_dir: state_dir.clone(),
        vars: vec![("OPERATOR_TOKEN".into(), operator.clone())],
        output: Output::File(state_dir.join("worker.log")),
    })?;
    let account = create_account(&worker.base_url, &operator, "Deployed shop")?;
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
    drop(worker);
    let _ = std::fs::remove_dir_all(&state_dir);
    Ok(())
}
