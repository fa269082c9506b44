//! `cargo xtask listen` against a real local Worker: the command creates its endpoint,
//! prints the signing secret, relays each delivery to an app on loopback with the
//! signature intact, passes the app's failure back so Till retries, and switches its
//! endpoint off when stopped; a second run reuses the endpoint with a fresh secret.
//!
//! Needs the release Worker build (`cargo xtask test` runs it after building).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use till_tests::accounts::create_account;
use till_tests::http::Client;
use till_tests::local::{Front, LocalWorker, Output, WorkerConfig, free_port, workspace_root};
use till_tests::receiver::Receiver;

type Result<T> = till_tests::Result<T>;

/// A running `xtask listen`, its output read line by line on a thread.
struct Listen {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Listen {
    fn start(state: &std::path::Path, forward_to: &str) -> Result<Listen> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["listen", "--forward-to", forward_to, "--state"])
            .arg(state)
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout: ChildStdout = child.stdout.take().ok_or("no stdout")?;
        let (send, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Listen {
            child,
            lines,
            seen: Vec::new(),
        })
    }

    /// The first output line containing `needle`, within `timeout`.
    fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return Ok(line.clone());
        }
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            self.seen.push(line.clone());
            if line.contains(needle) {
                return Ok(line);
            }
        }
        Err(format!(
            "listen never printed `{needle}`; it printed: {:#?}",
            self.seen
        )
        .into())
    }

    /// Ctrl-C, as a developer stops it.
    fn interrupt(&mut self) -> Result<std::process::ExitStatus> {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err("listen did not stop on Ctrl-C".into());
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn secret_of(line: &str) -> Result<String> {
    line.split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .map(str::to_owned)
        .ok_or_else(|| format!("no secret in `{line}`").into())
}

#[test]
fn listen_relays_signed_deliveries_and_failures_and_cleans_up() -> Result<()> {
    let root = workspace_root();
    let state = root.join(format!("target/test-state/listen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state)?;
    let operator = format!("op_{}", till_shared::ids::random_base62(32));
    let mut worker = LocalWorker::start(&WorkerConfig {
        config: None,
        front: Front::Links,
        port: free_port()?,
        state_dir: state.join("worker"),
        vars: vec![
            ("OPERATOR_TOKEN".into(), operator.clone()),
            ("TEST_HOOKS".into(), "enabled".into()),
            ("WEBHOOK_RETRY_SCHEDULE".into(), "1".into()),
            // As `cargo xtask dev` sets it: the relay is on loopback.
            ("WEBHOOK_LOOPBACK".into(), "allowed".into()),
        ],
        output: Output::File(state.join("worker.log")),
    })?;
    // The cron trigger as `cargo xtask dev` runs it, every second instead of every minute.
    worker.run_cron_every(Duration::from_secs(1))?;
    let account = create_account(&worker.base_url, &operator, "Listen shop")?;
    let secret_key = account.keys.test.secret_key.clone();
    // What `cargo xtask dev` writes for the running instance.
    std::fs::write(
        state.join("dev.json"),
        json!({"base_url": worker.base_url, "secret_key": secret_key}).to_string(),
    )?;
    let merchant = Client::new(&worker.base_url).with_bearer(&secret_key);
    // The developer's app: fails the first delivery, then accepts.
    let app = Receiver::start(1)?;

    let mut listen = Listen::start(&state, &app.url)?;
    let secret = secret_of(&listen.wait_for_line("Signing secret", Duration::from_secs(30))?)?;
    let endpoints = merchant.get("/v1/webhook_endpoints").send()?.json();
    let endpoint: Value = endpoints["data"][0].clone();
    let endpoint_id = endpoint["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(endpoint["description"], json!("cargo xtask listen"));
    assert_eq!(endpoints["data"].as_array().map(Vec::len), Some(1));

    // A change that writes an event: a new payment link.
    let link = merchant
        .post("/v1/payment_links")
        .json(&json!({"amount": 590, "currency": "TWD", "title": "Field notes"}))
        .send()?
        .json();
    // The retry is due a second after the failure; the cron sends it.
    let received = app.wait_for(2, Duration::from_secs(60), || {});
    assert!(
        received.len() >= 2,
        "the app got {} deliveries",
        received.len()
    );
    let (failed, delivered) = (&received[0], &received[1]);
    assert_eq!(failed.status, 500, "the app failed the first delivery");
    assert_eq!(delivered.status, 200);
    let event_id = delivered
        .header("Till-Event-Id")
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        failed.header("Till-Event-Id"),
        Some(event_id.as_str()),
        "the same event, retried"
    );
    assert_eq!(
        delivered.header("Till-Event-Type"),
        Some("payment_link.created")
    );
    let body: Value = serde_json::from_slice(&delivered.body)?;
    assert_eq!(body["data"]["id"], link["id"]);
    // Relayed unchanged: the signature verifies with the secret listen printed.
    let signature = delivered.header("Till-Signature").unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    till_shared::webhooks::verify(signature, &delivered.body, &secret, now, 300)
        .map_err(|e| format!("the relayed signature does not verify: {e:?}"))?;

    let failure_line = listen.wait_for_line("-> 500", Duration::from_secs(10))?;
    assert!(failure_line.contains(&event_id) && failure_line.contains("payment_link.created"));
    assert!(failure_line.contains("Till will retry"), "{failure_line}");
    let success_line = listen.wait_for_line("-> 200", Duration::from_secs(10))?;
    assert!(success_line.contains(&event_id) && success_line.contains("delivered"));
    // Till saw what the app answered: one failed attempt, one delivered.
    let event = merchant
        .get(&format!("/v1/events/{event_id}"))
        .send()?
        .json();
    let attempts: Vec<Value> = event["deliveries"][0]["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut statuses: Vec<i64> = attempts
        .iter()
        .filter_map(|a| a["status_code"].as_i64())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 500], "{event}");

    let status = listen.interrupt()?;
    assert!(status.success(), "listen exited with {status}");
    listen.wait_for_line("disabled", Duration::from_secs(5))?;
    let stopped = merchant
        .get(&format!("/v1/webhook_endpoints/{endpoint_id}"))
        .send()?
        .json();
    assert_eq!(
        stopped["status"],
        json!("disabled"),
        "a stopped relay's endpoint is off"
    );

    // A second run reuses the endpoint, on again, with a new secret.
    let mut again = Listen::start(&state, &app.url)?;
    let second = secret_of(&again.wait_for_line("Signing secret", Duration::from_secs(30))?)?;
    assert_ne!(second, secret);
    let endpoints = merchant.get("/v1/webhook_endpoints").send()?.json();
    assert_eq!(
        endpoints["data"].as_array().map(Vec::len),
        Some(1),
        "reused, not duplicated"
    );
    assert_eq!(endpoints["data"][0]["id"], json!(endpoint_id));
    assert_eq!(endpoints["data"][0]["status"], json!("enabled"));
    again.interrupt()?;
    drop(worker);
    let _ = std::fs::remove_dir_all(&state);
    Ok(())
}
