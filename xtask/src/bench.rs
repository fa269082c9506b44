//! `cargo xtask bench links`: loopback load with wrk (127.0.0.1 only, bounded in time) on
//! the short-link path of the local Worker, on a constant-response route of the same
//! Worker (the ceiling), and on the same short-link resolution written as a plain
//! JavaScript Worker under the same pinned workerd (the peer). Prints requests/s, p50 and
//! p99 of each and the ratios.
//!
//! `cargo xtask bench billing`: 10,000 due subscriptions billed by the cron handler of the
//! local Worker; prints the time, charges per second, and checks that no subscription was
//! billed twice.

use std::path::Path;
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
        Some("billing") => billing(),
        Some(other) => Err(format!(
            "unknown benchmark `{other}`; available: links, billing"
        )),
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
    let (till, operator) = step("Starting the Worker (workerd, on-disk D1 and KV)", || {
        fresh_worker(&state.join("till"), &[("BENCH_ROUTES", "enabled")])
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

/// Subscriptions billed by `bench billing`.
const DUE_SUBSCRIPTIONS: i64 = 10_000;

fn billing() -> Result<()> {
    let tools = tools::setup(tools::Needs::Build)?;
    build::all(&tools)?;
    let state = workspace_root().join("target/bench-state");
    let _ = std::fs::remove_dir_all(&state);
    let (till, operator) = step("Starting the Worker (workerd, on-disk D1 and KV)", || {
        fresh_worker(&state.join("till"), &[("TEST_HOOKS", "enabled")])
    })?;
    let account = err(create_account(&till.base_url, &operator, "Billing bench"))?;
    let merchant = Client::new(&till.base_url).with_bearer(&account.keys.test.secret_key);
    let post = |path: &str, body: serde_json::Value| -> Result<serde_json::Value> {
        let reply = err(merchant.post(path).json(&body).send())?;
        if !(200..300).contains(&reply.status) {
            return Err(format!(
                "POST {path} answered {}: {}",
                reply.status, reply.body
            ));
        }
        Ok(reply.json())
    };
    let customer = post("/v1/customers", json!({"name": "Bench subscriber"}))?;
    let card = post(
        "/v1/payment_methods",
        json!({"customer_id": customer["id"], "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
    )?;
    let plan = post(
        "/v1/products",
        json!({"name": "Bench plan", "txamt": 990, "txcurrcd": "HKD", "interval": "monthly"}),
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let first = post(
        "/v1/subscriptions",
        json!({"customer_id": customer["id"], "token_id": card["id"],
               "products": [{"product_id": plan["id"]}], "start_time": now + 3600}),
    )?;
    let operator_client = Client::new(&till.base_url).with_bearer(&operator);
    let id = first["id"].as_str().unwrap_or_default();
    let due = now - 60;
    step(
        &format!("Seeding {DUE_SUBSCRIPTIONS} due subscriptions"),
        || {
            err(operator_client.update_d1(
                &operator,
                &format!(
                    "INSERT INTO subscriptions (id, account_id, environment, customer_id, payment_method_id, items,
                         currency, amount, interval, interval_count, start_time, anchor_time, state, next_billing_time,
                         due_at, created_at, updated_at)
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {})
                     SELECT 'sub_' || lower(hex(randomblob(12))), account_id, environment, customer_id,
                            payment_method_id, items, currency, amount, interval, interval_count, {due}, {due}, state,
                            {due}, {due}, created_at, updated_at
                     FROM subscriptions, n WHERE id = '{id}'",
                    DUE_SUBSCRIPTIONS - 1
                ),
            ))?;
            err(operator_client.update_d1(
                &operator,
                &format!(
                    "UPDATE subscriptions SET start_time = {due}, anchor_time = {due}, next_billing_time = {due},
                         due_at = {due} WHERE id = '{id}'"
                ),
            ))
        },
    )?;
    let started = std::time::Instant::now();
    let mut runs = 0;
    let billed = loop {
        runs += 1;
        let reply = err(operator_client.post("/__test/scheduled").send())?;
        if reply.status != 200 {
            return Err(format!(
                "the cron handler answered {}: {}",
                reply.status, reply.body
            ));
        }
        let rows = err(operator_client.query_d1(
            &operator,
            &format!(
                "SELECT count(*) AS n FROM billing_orders WHERE account_id = '{}'",
                account.id
            ),
        ))?;
        let billed = rows[0]["n"].as_i64().unwrap_or(0);
        if billed >= DUE_SUBSCRIPTIONS || runs >= 20 {
            break billed;
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let check = err(operator_client.query_d1(
        &operator,
        &format!(
            "SELECT (SELECT count(*) FROM charges WHERE account_id = '{a}' AND status = 'SUCCEEDED') AS charges,
                    (SELECT count(*) FROM (SELECT subscription_id FROM billing_orders WHERE account_id = '{a}'
                                           GROUP BY subscription_id HAVING count(*) > 1)) AS twice",
            a = account.id
        ),
    ))?;
    drop(till);
    let charges = check[0]["charges"].as_i64().unwrap_or(0);
    let twice = check[0]["twice"].as_i64().unwrap_or(-1);
    println!(
        "\nBilling benchmark ({DUE_SUBSCRIPTIONS} due subscriptions, cron handler, loopback):"
    );
    println!("  billing orders      {billed}");
    println!("  successful charges  {charges}");
    println!("  billed twice        {twice}");
    println!("  cron runs           {runs}");
    println!("  time                {elapsed:.2} s");
    println!("  charges per second  {:.0}", charges as f64 / elapsed);
    if billed != DUE_SUBSCRIPTIONS || charges != DUE_SUBSCRIPTIONS || twice != 0 {
        return Err("not every subscription was billed exactly once".into());
    }
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
/// A Worker on a free port with empty state in `state_dir` (log beside it, `{dir}.log`)
/// and a fresh operator token, plus `vars`; answers it and the token.
pub fn fresh_worker(state_dir: &Path, vars: &[(&str, &str)]) -> Result<(LocalWorker, String)> {
    let _ = std::fs::remove_dir_all(state_dir);
    std::fs::create_dir_all(state_dir).map_err(|e| format!("{}: {e}", state_dir.display()))?;
    let operator = format!("op_{}", till_shared::ids::random_base62(32));
    let mut all = vec![("OPERATOR_TOKEN".to_owned(), operator.clone())];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let worker = err(LocalWorker::start(&WorkerConfig {
        config: None,
        port: free_port().map_err(|e| e.to_string())?,
        state_dir: state_dir.to_path_buf(),
        vars: all,
        output: Output::File(state_dir.with_extension("log")),
    }))?;
    Ok((worker, operator))
}

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
