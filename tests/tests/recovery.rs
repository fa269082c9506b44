//! A Rust panic aborts the Worker's Wasm instance. The Worker's entry answers that request
//! with the API's error shape and runs the next request on a fresh instance, with nothing
//! stored lost. Its own Worker: an abort breaks every request in flight on the instance,
//! so this cannot share the black-box suite's Worker.

use serde_json::json;
use till_tests::accounts::create_account;
use till_tests::http::Client;
use till_tests::local::{Front, LocalWorker, Output, WorkerConfig, free_port, workspace_root};

#[test]
fn a_panic_or_a_stack_overflow_is_answered_and_the_next_request_runs_on_a_fresh_instance()
-> till_tests::Result<()> {
    let state_dir = workspace_root()
        .join("target/test-state")
        .join(format!("recovery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    std::fs::create_dir_all(&state_dir)?;
    let operator = format!("op_{}", till_shared::ids::random_base62(32));
    let log = state_dir.join("worker.log");
    let worker = LocalWorker::start(&WorkerConfig {
        config: None,
        front: Front::Links,
        port: free_port()?,
        state_dir: state_dir.clone(),
        vars: vec![
            ("OPERATOR_TOKEN".into(), operator.clone()),
            ("TEST_HOOKS".into(), "enabled".into()),
        ],
        output: Output::File(log.clone()),
    })?;
    let account = create_account(&worker.base_url, &operator, "Recovery shop")?;
    let merchant = Client::new(&worker.base_url).with_bearer(&account.keys.test.secret_key);
    let created = merchant
        .post("/v1/payment_links")
        .json(&json!({"amount": 12000, "currency": "TWD", "title": "Oolong", "multiple": true}))
        .send()?;
    assert_eq!(created.status, 201, "{}", created.body);
    let link = created.json();
    let code = link["url_id"].as_str().ok_or("no url_id")?.to_owned();

    // Only the operator may ask for it.
    let refused = Client::new(&worker.base_url).post("/__test/panic").send()?;
    assert_eq!(refused.status, 401, "{}", refused.body);

    let panicked = Client::new(&worker.base_url)
        .with_bearer(&operator)
        .post("/__test/panic")
        .send()?;
    assert_eq!(panicked.status, 500, "{}", panicked.body);
    assert_eq!(
        panicked.header("cache-control"),
        Some("no-store"),
        "{:?} {}",
        panicked.headers,
        panicked.body
    );
    assert_eq!(
        panicked.json(),
        json!({"error": {
            "type": "api_error",
            "code": "api_error",
            "message": "Something went wrong on our side. Please try again.",
        }})
    );

    // The next requests: the link reads back as it was, a shopper's visit resolves, and a
    // write lands.
    let read = merchant
        .get(&format!(
            "/v1/payment_links/{}",
            link["id"].as_str().unwrap_or_default()
        ))
        .send()?;
    assert_eq!(read.status, 200, "{}", read.body);
    let stored = read.json();
    for field in [
        "id",
        "url_id",
        "title",
        "amount",
        "currency",
        "active",
        "created_at",
    ] {
        assert_eq!(stored[field], link[field], "{field}");
    }
    let visit = Client::new(&worker.base_url)
        .get(&format!("/{code}"))
        .send()?;
    assert_eq!(visit.status, 302, "{}", visit.body);
    let second = merchant
        .post("/v1/payment_links")
        .json(&json!({"amount": 8000, "currency": "TWD", "title": "Sencha", "multiple": true}))
        .send()?;
    assert_eq!(second.status, 201, "{}", second.body);
    let rows = Client::new(&worker.base_url).query_d1(
        &operator,
        &format!(
            "SELECT title FROM payment_links WHERE account_id = '{}' ORDER BY title",
            account.id
        ),
    )?;
    assert_eq!(
        rows,
        vec![json!({"title": "Oolong"}), json!({"title": "Sencha"})]
    );

    // A stack overflow (a form key of 60 KB of `[0]` once caused one) is recovered the same
    // way: answered in the error shape, and the next request runs on a fresh instance.
    let overflowed = Client::new(&worker.base_url)
        .with_bearer(&operator)
        .post("/__test/overflow")
        .send()?;
    assert_eq!(overflowed.status, 500, "{}", overflowed.body);
    assert_eq!(overflowed.json()["error"]["type"], json!("api_error"));
    // The next request the main Worker runs (a short link is the links Worker's).
    let after = merchant
        .get(&format!(
            "/v1/payment_links/{}",
            link["id"].as_str().unwrap_or_default()
        ))
        .send()?;
    assert_eq!(after.status, 200, "{}", after.body);
    let visit = Client::new(&worker.base_url)
        .get(&format!("/{code}"))
        .send()?;
    assert_eq!(visit.status, 302, "{}", visit.body);

    // The runtime's console reaches the log through wrangler a moment after the answer:
    // wait for the fresh instance's line (or a deadline) before stopping the Worker.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let logged = loop {
        let logged = std::fs::read_to_string(&log)?;
        let settled = logged
            .find("Maximum call stack size exceeded")
            .is_some_and(|at| logged[at..].contains("Reinitializing the Wasm instance"));
        if settled || std::time::Instant::now() > deadline {
            break logged;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    drop(worker);
    // The cause is in the log, then the fresh instance.
    let cause = logged
        .find("panic requested through /__test/panic")
        .ok_or_else(|| format!("the log does not name the panic:\n{logged}"))?;
    let fresh = logged
        .find("Reinitializing the Wasm instance")
        .ok_or_else(|| format!("the log shows no re-instantiation:\n{logged}"))?;
    assert!(cause < fresh, "{logged}");
    let overflow = logged
        .find("Maximum call stack size exceeded")
        .ok_or_else(|| format!("the log does not name the stack overflow:\n{logged}"))?;
    assert!(
        logged[overflow..].contains("Reinitializing the Wasm instance"),
        "no fresh instance after the overflow:\n{logged}"
    );
    let _ = std::fs::remove_dir_all(&state_dir);
    Ok(())
}
