//! Two `cargo xtask dev` instances side by side (`--port`, `--state`), as a developer runs
//! them: each serves its own demo shop, seeding the second neither reloads the first nor
//! writes into the served assets, and each runs its cron trigger by itself through the
//! Worker's `scheduled` entry (a failed webhook delivery is retried with nobody triggering
//! anything), without printing a line per run.
//!
//! Needs the release builds (`cargo xtask test` runs it after building).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use till_tests::http::Client;
use till_tests::local::{free_port, workspace_root};
use till_tests::receiver::Receiver;

type Result<T> = till_tests::Result<T>;

/// A first run in an empty state directory starts the Worker twice (once to seed, once
/// with the demo shop), each up to a minute on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(240);

/// A running `xtask dev`, everything it prints collected line by line.
struct Dev {
    child: Child,
    state: PathBuf,
    output: Arc<Mutex<Vec<String>>>,
}

impl Dev {
    fn start(state: &Path, port: u16) -> Result<Dev> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["dev", "--port", &port.to_string(), "--state"])
            .arg(state)
            .args(["--var", "WEBHOOK_RETRY_SCHEDULE=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        collect(stdout, Arc::clone(&output));
        collect(stderr, Arc::clone(&output));
        Ok(Dev {
            child,
            state: state.to_path_buf(),
            output,
        })
    }

    /// `dev.json`, once the instance is up and seeded.
    fn ready(&mut self) -> Result<Value> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(info) = std::fs::read_to_string(self.state.join("dev.json"))
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
            {
                return Ok(info);
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("dev exited ({status}):\n{}", self.printed()).into());
            }
            if Instant::now() > deadline {
                return Err(format!("dev wrote no dev.json in time:\n{}", self.printed()).into());
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    fn lines(&self) -> Vec<String> {
        self.output.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn printed(&self) -> String {
        self.lines().join("\n")
    }

    /// SIGTERM, as a service manager or Ctrl-C stops it; dev stops its Worker.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        self.stop();
    }
}

fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
            if let Ok(mut lines) = into.lock() {
                lines.push(line);
            }
        }
    });
}

/// The instance's demo shop as the demo page fetches it, checked against `dev.json`: its
/// own publishable key, and links that open checkout on this instance.
fn demo_shop(info: &Value) -> Result<Value> {
    let base = info["base_url"].as_str().unwrap_or_default();
    let client = Client::new(base);
    let reply = client.get("/demo.json").send()?;
    assert_eq!(reply.status, 200, "{base}/demo.json: {}", reply.body);
    let shop = reply.json();
    assert_eq!(
        shop["publishable_key"], info["publishable_key"],
        "{base} shows another instance's demo shop"
    );
    let items = shop["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{shop}");
    for item in items {
        let link = item["link"].as_str().unwrap_or_default();
        let visit = client.get(&format!("/{link}")).send()?;
        assert_eq!(
            visit.status, 302,
            "{base}/{link} is not this instance's link"
        );
    }
    Ok(shop)
}

#[test]
fn instances_side_by_side_keep_their_own_demo_shop_and_run_their_cron() -> Result<()> {
    let root = workspace_root();
    let state = root.join(format!("target/test-state/dev-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let leftover = root.join("www/demo.json");
    let _ = std::fs::remove_file(&leftover);

    let mut first = Dev::start(&state.join("a"), free_port()?)?;
    let a = first.ready()?;
    demo_shop(&a)?;
    // A webhook receiver that fails the first delivery: only the cron trigger retries it.
    let receiver = Receiver::start(1)?;
    let merchant = Client::new(a["base_url"].as_str().unwrap_or_default())
        .with_bearer(a["secret_key"].as_str().unwrap_or_default());
    let endpoint = merchant
        .post("/v1/webhook_endpoints")
        .json(&json!({"url": receiver.url, "enabled_events": ["payment_link.created"]}))
        .send()?;
    assert_eq!(endpoint.status, 201, "{}", endpoint.body);
    let link = merchant
        .post("/v1/payment_links")
        .json(&json!({"amount": 590, "currency": "TWD", "title": "Field notes"}))
        .send()?;
    assert_eq!(link.status, 201, "{}", link.body);
    let event_created = Instant::now();
    let printed_before_second = first.lines().len();

    let mut second = Dev::start(&state.join("b"), free_port()?)?;
    let b = second.ready()?;
    demo_shop(&b)?;
    assert_ne!(a["publishable_key"], b["publishable_key"]);
    // The first instance still shows its own shop, and was not reloaded meanwhile.
    demo_shop(&a)?;
    let since: Vec<String> = first.lines()[printed_before_second..].to_vec();
    assert!(
        !since
            .iter()
            .any(|l| l.contains("Reloading") || l.contains("Starting local server")),
        "the first instance reloaded while the second started:\n{}",
        since.join("\n")
    );
    assert!(
        !leftover.exists(),
        "an instance wrote into the served assets"
    );

    // The retry is due a second after the failure; the first instance's cron, at the next
    // whole minute, sends it.
    let wait = Duration::from_secs(100).saturating_sub(event_created.elapsed());
    let received = receiver.wait_for(2, wait, || {});
    assert!(
        received.len() >= 2,
        "the failed delivery was not retried within 100 s (the receiver got {}):\n{}",
        received.len(),
        first.printed()
    );
    assert_eq!((received[0].status, received[1].status), (500, 200));
    assert_eq!(
        received[0].header("Till-Event-Id"),
        received[1].header("Till-Event-Id"),
        "the same event, retried"
    );
    let noisy: Vec<String> = first
        .lines()
        .into_iter()
        // wrangler's own note at start ("To manually trigger a scheduled event, run: …")
        // is printed once per start; a request log or a failure would be per run.
        .filter(|l| l.contains("cron:") || l.contains("/cdn-cgi/handler/scheduled "))
        .collect();
    assert!(noisy.is_empty(), "the cron printed:\n{}", noisy.join("\n"));

    first.stop();
    second.stop();
    assert!(!state.join("a/dev.json").exists(), "dev.json outlived dev");
    let _ = std::fs::remove_dir_all(&state);
    Ok(())
}
