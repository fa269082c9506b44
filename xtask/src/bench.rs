//! `cargo xtask bench links`: loopback load with wrk (127.0.0.1 only, bounded in time) on
//! the short-link path of the local links Worker, on a constant-response route of the
//! main Worker reached through it, and on the same short-link resolution written as a
//! plain JavaScript Worker under the same pinned workerd, with no static assets in front,
//! like the links Worker (the peer). Both Workers run at once and the paths take turns over five rounds;
//! prints each round's requests/s, the median with its p50 and p99, and the ratios.
//!
//! `cargo xtask bench cold`: fresh starts of the links Worker, the main Worker, the peer
//! and a constant Worker (the floor), taking turns, each timed from launching workerd to
//! the first 302 of a short link (`bench/cold.mjs`); prints medians, spreads and module
//! sizes. `bench links` also reports the workerd CPU time per request of each path.
//!
//! `cargo xtask bench billing`: 10,000 due subscriptions billed by the cron handler of the
//! local Worker; prints the time, charges per second, and checks that no subscription was
//! billed twice.

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use till_tests::accounts::create_account;
use till_tests::http::Client;
use till_tests::local::{
    Front, LocalWorker, Output, WorkerConfig, free_port, process_listening_on, workspace_root,
    wrangler,
};

use crate::fresh::fresh_worker;
use crate::step::{self, Result, step};
use crate::{build, tools};

const DURATION: &str = "5s";
/// Rounds of the throughput and CPU benchmark, each path once per round.
const ROUNDS: usize = 5;
/// Fresh starts of each Worker in `bench cold`.
const COLD_STARTS: usize = 10;
const WARM_UP: &str = "3s";
const CONNECTIONS: &str = "32";

/// What wrk measured, and the CPU time the Worker's workerd spent meanwhile.
#[derive(Clone)]
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// workerd's CPU time (user and system) per request answered, in microseconds.
    cpu_us: f64,
}

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        None | Some("links") => links(),
        Some("cold") => cold(),
        Some("billing") => billing(),
        Some(other) => Err(format!(
            "unknown benchmark `{other}`; available: links, cold, billing"
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

/// Till (the links Worker in front of the main Worker) and the JavaScript peer, running,
/// with the same link in both.
struct Staged {
    till: LocalWorker,
    peer: LocalWorker,
    code: String,
    operator: String,
    till_state: PathBuf,
    peer_state: PathBuf,
}

fn stage() -> Result<Staged> {
    let tools = tools::setup(tools::Needs::Build)?;
    build::all(&tools)?;
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
            front: Front::Links,
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
    Ok(Staged {
        till,
        peer,
        code,
        operator,
        till_state: state.join("till"),
        peer_state,
    })
}

fn links() -> Result<()> {
    wrk()?;
    let Staged {
        till, peer, code, ..
    } = stage()?;

    // wrangler dev answers on its port through a proxy of its own (a second workerd that
    // forwards every request, so edits can reload without dropping requests); production
    // has no such hop. Each path is measured both ways: through that proxy, as
    // `cargo xtask dev` serves it, and direct to the workerd running the Worker.
    let till_direct = direct_url(&till, &format!("/{code}"))?;
    let peer_direct = direct_url(&peer, &format!("/{code}"))?;
    // The CPU time is read from the workerd that runs each Worker (both of Till's run in
    // one), whichever port a request came in on.
    let pid = |worker: &LocalWorker, direct: &str| -> Result<u32> {
        let port = direct
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        process_listening_on(worker, port).ok_or_else(|| format!("no process listens on {direct}"))
    };
    let (till_pid, peer_pid) = (pid(&till, &till_direct)?, pid(&peer, &peer_direct)?);
    let mut targets = Vec::new();
    for (group, till_url, peer_url) in [
        (Group::Direct, &till_direct, &peer_direct),
        (Group::Proxied, &till.base_url, &peer.base_url),
    ] {
        targets.push((
            group,
            Subject::ShortLink,
            format!("{till_url}/{code}"),
            till_pid,
        ));
        targets.push((
            group,
            Subject::Constant,
            format!("{till_url}/__bench/constant"),
            till_pid,
        ));
        targets.push((group, Subject::Peer, format!("{peer_url}/{code}"), peer_pid));
    }
    for (group, path, url, _) in &targets {
        warm_up(&format!("{}, {}", path.name(), group.name()), url)?;
    }
    // Rounds take the paths in turn, each round starting one further along, so a slow
    // spell of the machine falls on all alike; each path reports its median.
    let mut loads: Vec<Vec<Load>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 0..ROUNDS {
        for turn in 0..targets.len() {
            let index = (round + turn) % targets.len();
            let (group, path, url, pid) = &targets[index];
            let label = format!("{}, {}, round {}", path.name(), group.name(), round + 1);
            loads[index].push(measure(&label, url, *pid)?);
        }
    }
    drop(till);
    drop(peer);

    println!(
        "\nShort-link benchmark ({ROUNDS} rounds of {DURATION} per path, {CONNECTIONS} connections, loopback):"
    );
    for group in [Group::Direct, Group::Proxied] {
        println!(
            "\n  {:<40} {:>26} {:>7} {:>7} {:>7} {:>28} {:>7}",
            group.name(),
            "req/s by round",
            "median",
            "p50 ms",
            "p99 ms",
            "workerd CPU µs/req by round",
            "median"
        );
        let mut of = std::collections::HashMap::new();
        let mut cpu_of = std::collections::HashMap::new();
        for ((g, path, _, _), runs) in targets.iter().zip(&mut loads) {
            if *g != group {
                continue;
            }
            let rounds: Vec<String> = runs
                .iter()
                .map(|l| format!("{:.0}", l.requests_per_second))
                .collect();
            let cpus: Vec<String> = runs.iter().map(|l| format!("{:.0}", l.cpu_us)).collect();
            let cpu = median_of(runs.iter().map(|l| l.cpu_us).collect());
            let median = median(runs);
            println!(
                "  {:<40} {:>26} {:>7.0} {:>7.2} {:>7.2} {:>28} {:>7.0}",
                path.name(),
                rounds.join(" "),
                median.requests_per_second,
                median.p50_ms,
                median.p99_ms,
                cpus.join(" "),
                cpu
            );
            of.insert(*path, median.requests_per_second);
            cpu_of.insert(*path, cpu);
        }
        println!(
            "  short link / JavaScript peer: {:.2} req/s (target >= 1.0), {:.2} CPU per request (target <= 1.0); short link / constant route: {:.2} req/s",
            of[&Subject::ShortLink] / of[&Subject::Peer],
            cpu_of[&Subject::ShortLink] / cpu_of[&Subject::Peer],
            of[&Subject::ShortLink] / of[&Subject::Constant],
        );
    }
    Ok(())
}

/// `bench cold`: [`COLD_STARTS`] fresh starts of each of the links Worker, the main Worker
/// and the JavaScript peer, taking turns (`bench/cold.mjs`), on the state a staged run
/// left; the median and spread of each, their ratios, and the modules each start compiles.
fn cold() -> Result<()> {
    let staged = stage()?;
    let root = workspace_root();
    let url = format!("http://till.test/{}", staged.code);
    let Staged {
        till,
        peer,
        operator,
        till_state,
        peer_state,
        ..
    } = staged;
    // The runs' own workerd processes are stopped: each start below is alone.
    drop(till);
    drop(peer);
    let vars = json!({"OPERATOR_TOKEN": operator});
    let subjects = [
        (
            Subject::Links,
            root.join("edge/links/build/index.js"),
            &till_state,
        ),
        (Subject::Main, root.join("edge/build/index.js"), &till_state),
        (
            Subject::Peer,
            root.join("bench/peer/worker.js"),
            &peer_state,
        ),
        (
            Subject::Floor,
            root.join("bench/peer/floor.js"),
            &peer_state,
        ),
    ];
    let plan = json!({
        "rounds": COLD_STARTS,
        "url": url,
        "subjects": subjects.iter().map(|(subject, script, persist)| json!({
            "name": subject.name(),
            "script": script,
            "persist": persist,
            "vars": vars,
            "service": (*subject == Subject::Links).then_some("TILL"),
        })).collect::<Vec<_>>(),
    });
    let plan_path = root.join("target/bench-state/cold.json");
    std::fs::write(&plan_path, plan.to_string()).map_err(|e| e.to_string())?;
    let output = step(
        &format!("Cold starts: {COLD_STARTS} of each Worker, taking turns"),
        || {
            let output = Command::new("node")
                .arg(root.join("bench/cold.mjs"))
                .arg(&plan_path)
                .current_dir(&root)
                .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
                .output()
                .map_err(|e| format!("node: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "bench/cold.mjs failed:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        },
    )?;
    let starts: Vec<serde_json::Value> = output
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    println!(
        "\nCold starts ({COLD_STARTS} per Worker, taking turns; launching workerd to the first 302 of a short link):"
    );
    println!(
        "\n  {:<34} {:>8} {:>8} {:>8} {:>8}   {:>10} {:>10}",
        "Worker", "median", "min", "max", "p75-p25", "modules", "brotli"
    );
    let mut medians = std::collections::HashMap::new();
    for (subject, script, _) in &subjects {
        let mut ms: Vec<f64> = starts
            .iter()
            .filter(|s| s["subject"] == json!(subject.name()))
            .filter_map(|s| s["ms"].as_f64())
            .collect();
        ms.sort_by(f64::total_cmp);
        if ms.is_empty() {
            return Err(format!("no start of {} was timed", subject.name()));
        }
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        let median = median_of(ms.clone());
        let (raw, brotli) = modules(script)?;
        println!(
            "  {:<34} {:>6.0}ms {:>6.0}ms {:>6.0}ms {:>6.0}ms   {:>10} {:>10}",
            subject.name(),
            median,
            ms[0],
            ms[ms.len() - 1],
            at(0.75) - at(0.25),
            raw,
            brotli
        );
        medians.insert(*subject, median);
    }
    println!(
        "\n  links Worker / JavaScript peer: {:.2} (target <= 1.25); links Worker / main Worker: {:.2} (target <= 0.5)",
        medians[&Subject::Links] / medians[&Subject::Peer],
        medians[&Subject::Links] / medians[&Subject::Main],
    );
    let floor = medians[&Subject::Floor];
    println!(
        "  above the floor ({floor:.0} ms): links Worker {:.0} ms, main Worker {:.0} ms, JavaScript peer {:.0} ms",
        medians[&Subject::Links] - floor,
        medians[&Subject::Main] - floor,
        medians[&Subject::Peer] - floor,
    );
    Ok(())
}

/// The bytes a start of the Worker at `script` compiles: its script and, beside it, its
/// wasm; raw and brotli.
fn modules(script: &std::path::Path) -> Result<(u64, u64)> {
    let mut raw = 0;
    let mut brotli = 0;
    let wasm = script.with_file_name("index_bg.wasm");
    for file in [script.to_path_buf(), wasm] {
        if let Ok(bytes) = std::fs::read(&file) {
            raw += bytes.len() as u64;
            brotli += crate::size::brotli(&bytes);
        }
    }
    Ok((raw, brotli))
}

/// The median of `values` (the upper one of an even count).
fn median_of(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// User and system CPU time of process `pid` so far, in seconds (`/proc/PID/stat`, in
/// the kernel's USER_HZ of 100 ticks a second).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After `)`: state is field 3 of stat(5), utime 14 and stime 15.
    let ticks = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    Some((ticks(14)? + ticks(15)?) / 100.0)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Direct,
    Proxied,
}

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::Direct => "direct to workerd",
            Group::Proxied => "through wrangler dev's proxy",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Subject {
    ShortLink,
    Constant,
    Peer,
    /// `bench cold`'s: each Worker alone, and a Worker that reads nothing.
    Links,
    Main,
    Floor,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::ShortLink => "short link, links Worker (Rust)",
            Subject::Constant => "constant route, through both Workers",
            Subject::Peer => "short link, JavaScript peer",
            Subject::Links => "links Worker (Rust)",
            Subject::Main => "main Worker (Rust)",
            Subject::Floor => "floor: a constant JavaScript Worker",
        }
    }
}

/// The base URL of the workerd that runs `worker` itself, behind wrangler dev's proxy:
/// the one port of its processes, other than the proxy's, that answers `probe` (a short
/// link) with a redirect.
fn direct_url(worker: &LocalWorker, probe: &str) -> Result<String> {
    let proxy = worker
        .base_url
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    worker
        .listening_ports()
        .into_iter()
        .filter(|port| port.to_string() != proxy)
        .map(|port| format!("http://127.0.0.1:{port}"))
        .find(|url| {
            Client::new(url)
                .get(probe)
                .send()
                .is_ok_and(|reply| reply.status == 302)
        })
        .ok_or_else(|| {
            format!(
                "no port of the Worker at {} answers {probe}",
                worker.base_url
            )
        })
}

/// The run with the median requests/s (its latencies with it).
fn median(runs: &mut [Load]) -> Load {
    runs.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    runs[runs.len() / 2].clone()
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
        err(till.run_scheduled())?;
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

/// One wrk run against `url`, with the CPU time process `pid` spent meanwhile.
fn measure(name: &str, url: &str, pid: u32) -> Result<Load> {
    step(&format!("Load: {name} ({DURATION})"), || {
        let cpu_before = cpu_seconds(pid).ok_or("the Worker's workerd is gone")?;
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
        let cpu = cpu_seconds(pid).ok_or("the Worker's workerd is gone")? - cpu_before;
        // `12345 requests in 5.00s, …`
        let requests: f64 = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .split_once(" requests in ")
                    .map(|(n, _)| n.to_owned())
            })
            .and_then(|n| n.parse().ok())
            .ok_or(format!("wrk said no request count:\n{text}"))?;
        Ok(Load {
            cpu_us: cpu / requests * 1e6,
            requests_per_second,
            p50_ms: field("50%").map(|v| millis(&v)).unwrap_or(f64::NAN),
            p99_ms: field("99%").map(|v| millis(&v)).unwrap_or(f64::NAN),
        })
    })
}

/// Unmeasured load on `url`, so each path is compiled and cached before the rounds.
fn warm_up(name: &str, url: &str) -> Result<()> {
    step(&format!("Warm-up: {name} ({WARM_UP})"), || {
        Command::new("wrk")
            .args(["-t2", "-c", CONNECTIONS, "-d", WARM_UP, url])
            .output()
            .map(|_| ())
            .map_err(|e| format!("wrk: {e}"))
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
