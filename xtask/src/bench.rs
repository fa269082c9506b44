//! `cargo xtask bench links`: loopback load with wrk (127.0.0.1 only, bounded in time) on
//! the short-link path of the local Worker, on a constant-response route of the same
//! Worker (the ceiling), and on the same short-link resolution written as a plain
//! JavaScript Worker under the same pinned workerd (the peer). Prints requests/s, p50 and
//! p99 of each and the ratios.

use std::process::Command;

use serde_json::json;
use till_tests::accounts::create_account;
use till_tests::http::Client;
use till_tests::local::{LocalWorker, Output, WorkerConfig, free_port, workspace_root, wrangler};

use crate::step::{self, Result, step};
use crate::{build, tools};

const DURATION: &str = "10s";
const CONNECTIONS: &str = "32";

/// What wrk measured.
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        None | Some("links") => links(),
        Some(other) => Err(format!("unknown benchmark `{other}`; available: links")),
    }
}

fn wrk() -> Result<()> {
    if step::output(Command::new("sh").args(["-c", "command -v wrk"])).is_some() {
        step::satisfied("wrk");
        return Ok(());
    }
    let is_root = step::output(Command::new("id").arg("-u")).is_some_and(|id| id.trim() == "0");
    if !is_root {
        return Err("the benchmark needs wrk: sudo apt-get install -y wrk".into());
    }
    step("Installing wrk (apt-get)", || {
        step::run(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "wrk"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    })
}

fn links() -> Result<()> {
    let tools = tools::setup(tools::Needs::Build)?;
    build::all(&tools)?;
    wrk()?;
    let root = workspace_root();
    let state = root.join("target/bench-state");
    let _ = std::fs::remove_dir_all(&state);
    let operator = format!("op_{}", till_shared::ids::random_base62(32));

    let till = step("Starting the Worker (workerd, on-disk D1 and KV)", || {
        err(LocalWorker::start(&WorkerConfig {
            config: None,
            port: free_port().map_err(|e| e.to_string())?,
            state_dir: state.join("till"),
            vars: vec![
                ("OPERATOR_TOKEN".into(), operator.clone()),
                ("BENCH_ROUTES".into(), "enabled".into()),
            ],
            output: Output::File(state.join("till.log")),
        }))
    })?;
    let account = err(create_account(&till.base_url, &operator, "Bench shop"))?;
    let merchant = Client::new(&till.base_url).with_bearer(&account.keys.test.secret_key);
    let reply = err(merchant
        .post("/v1/payment_links")
        .json(&json!({"amount": 7440, "currency": "THB", "title": "Hot Latte", "multiple": true}))
        .send())?;
    let link = reply.json();
    let code = link["url_id"].as_str().ok_or("no url_id")?.to_owned();
    // One visit caches the link's snapshot in KV, as a shared link's first visitor does.
    err(Client::new(&till.base_url).get(&format!("/{code}")).send())?;

    let short_link = measure(
        "short link, Rust Worker",
        &format!("{}/{code}", till.base_url),
    )?;
    let ceiling = measure(
        "constant route, Rust Worker",
        &format!("{}/__bench/constant", till.base_url),
    )?;
    drop(till);

    // The peer gets its own state with the same schema and the same link row.
    let peer_config = root.join("bench/peer/wrangler.toml");
    let peer_state = state.join("peer");
    err(till_tests::local::apply_migrations(
        &peer_config,
        &peer_state,
    ))?;
    let seed = format!(
        "INSERT INTO accounts (id, name, created_at) VALUES ('{account}', 'Bench shop', 0);
         INSERT INTO payment_links (id, account_id, environment, url_id, kind, line_items, amount, currency, title,
             multiple, created_at, updated_at)
         VALUES ('{id}', '{account}', 'SANDBOX', '{code}', 'amount', '{lines}', 7440, 'THB', 'Hot Latte', 1, 0, 0);",
        account = account.id,
        id = link["id"].as_str().unwrap_or_default(),
        lines = link["line_items"].to_string().replace('\'', "''"),
    );
    step::run(
        wrangler(&peer_config, &peer_state)
            .args(["d1", "execute", "DB", "--local", "--persist-to"])
            .arg(&peer_state)
            .arg("--command")
            .arg(seed),
    )?;
    let peer = step("Starting the JavaScript peer (same workerd)", || {
        err(LocalWorker::start(&WorkerConfig {
            config: Some(peer_config.clone()),
            port: free_port().map_err(|e| e.to_string())?,
            state_dir: peer_state.clone(),
            vars: Vec::new(),
            output: Output::File(state.join("peer.log")),
        }))
    })?;
    let first = err(Client::new(&peer.base_url).get(&format!("/{code}")).send())?;
    if first.status != 302 {
        return Err(format!(
            "the peer answered {}: {}",
            first.status, first.body
        ));
    }
    let javascript = measure(
        "short link, JavaScript peer",
        &format!("{}/{code}", peer.base_url),
    )?;
    drop(peer);

    println!("\nShort-link benchmark ({DURATION}, {CONNECTIONS} connections, loopback):");
    println!(
        "  {:<32} {:>10} {:>9} {:>9}",
        "", "req/s", "p50 ms", "p99 ms"
    );
    for (name, load) in [
        ("short link (Rust)", &short_link),
        ("constant route (Rust)", &ceiling),
        ("short link (JavaScript)", &javascript),
    ] {
        println!(
            "  {name:<32} {:>10.0} {:>9.2} {:>9.2}",
            load.requests_per_second, load.p50_ms, load.p99_ms
        );
    }
    println!(
        "  short link / constant route: {:.2} (target >= 0.9)\n  short link / JavaScript peer: {:.2} (target >= 1.0)",
        short_link.requests_per_second / ceiling.requests_per_second,
        short_link.requests_per_second / javascript.requests_per_second
    );
    Ok(())
}

/// One wrk run against `url`.
fn measure(name: &str, url: &str) -> Result<Load> {
    step(&format!("Load: {name} ({DURATION})"), || {
        let output = Command::new("wrk")
            .args(["-t2", "-c", CONNECTIONS, "-d", DURATION, "--latency", url])
            .output()
            .map_err(|e| format!("wrk: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let field = |prefix: &str| -> Option<String> {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
        };
        let requests_per_second = field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .ok_or(format!("wrk said:\n{text}"))?;
        let non_success = field("Non-2xx or 3xx responses:").unwrap_or_else(|| "0".into());
        if non_success != "0" {
            return Err(format!("{non_success} responses were errors:\n{text}"));
        }
        Ok(Load {
            requests_per_second,
            p50_ms: field("50%").map(|v| millis(&v)).unwrap_or(f64::NAN),
            p99_ms: field("99%").map(|v| millis(&v)).unwrap_or(f64::NAN),
        })
    })
}

/// wrk's `1.23ms`, `850.00us`, `1.02s` in milliseconds.
fn millis(text: &str) -> f64 {
    let number = |suffix: &str| {
        text.strip_suffix(suffix)
            .and_then(|n| n.parse::<f64>().ok())
    };
    number("us")
        .map(|n| n / 1000.0)
        .or_else(|| number("ms"))
        .or_else(|| number("s").map(|n| n * 1000.0))
        .unwrap_or(f64::NAN)
}

/// A harness result with its error as text.
fn err<T>(result: till_tests::Result<T>) -> Result<T> {
    result.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::millis;

    #[test]
    fn wrk_latencies_read_as_milliseconds() {
        assert_eq!(millis("850.00us"), 0.85);
        assert_eq!(millis("1.50ms"), 1.5);
        assert_eq!(millis("1.02s"), 1020.0);
        assert!(millis("fast").is_nan());
    }
}
