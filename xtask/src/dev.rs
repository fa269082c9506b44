//! `cargo xtask dev`: Till running locally, with a demo merchant seeded in SANDBOX, its cron
//! trigger fired every minute through the Worker's `scheduled` entry, and the details a
//! script needs written to `{state}/dev.json`. Everything an instance writes stays in its
//! state directory, so instances side by side (`--port`, `--state`) do not meet.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use till_shared::ids::random_base62;
use till_tests::accounts::{CreatedAccount, create_account};
use till_tests::http::Client;
use till_tests::local::{CRON_PERIOD, Front, LocalWorker, Output, WorkerConfig, workspace_root};

use crate::step::{Result, step};
use crate::{build, tools};

const DEFAULT_PORT: u16 = 8787;
const DEMO_MERCHANT: &str = "Till Demo Shop";

struct Options {
    port: u16,
    state_dir: PathBuf,
    vars: Vec<(String, String)>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        port: DEFAULT_PORT,
        state_dir: workspace_root().join(".till"),
        vars: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                let port = value("--port")?;
                options.port = port
                    .parse()
                    .map_err(|_| format!("--port: `{port}` is not a port number"))?;
            }
            "--state" => options.state_dir = absolute(PathBuf::from(value("--state")?)),
            "--var" => {
                let pair = value("--var")?;
                let (name, val) = pair
                    .split_once('=')
                    .ok_or(format!("--var takes NAME=VALUE, got `{pair}`"))?;
                options.vars.push((name.to_owned(), val.to_owned()));
            }
            other => return Err(format!("unknown option `{other}` for dev")),
        }
    }
    Ok(options)
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(&path))
            .unwrap_or(path)
    }
}

/// What `dev.json` holds, for scripts that use the running instance.
#[derive(Serialize)]
struct DevInfo<'a> {
    base_url: &'a str,
    secret_key: &'a str,
    publishable_key: &'a str,
    account_id: &'a str,
    operator_token: &'a str,
}

/// Secrets of one state directory, made once and kept with the data they unlock.
#[derive(Serialize, Deserialize)]
struct Seed {
    operator_token: String,
    /// What seals the processor keys merchants connect (`PROCESSOR_SECRETS_KEY`): kept
    /// with the data it opens, made for state directories older than it.
    #[serde(default = "till_shared::sealed::generate_key")]
    processor_secrets_key: String,
    account: Option<CreatedAccount>,
    #[serde(default)]
    demo: Option<DemoShop>,
}

/// The demo shop's products and payment links, kept in the state directory's `seed.json`
/// and handed to the Worker as its `DEMO_SHOP` variable, which it serves as `/demo.json`
/// for the demo shop page (`www/index.html`) to put buy buttons on. Not a file among the
/// served assets: wrangler reloads every instance serving `www/` when one changes, and all
/// instances of a checkout serve the same `www/`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
struct DemoShop {
    publishable_key: String,
    items: Vec<DemoItem>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
struct DemoItem {
    name: String,
    price: String,
    product: String,
    link: String,
}

pub fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    let tools = tools::setup(tools::Needs::Build)?;
    build::all(&tools)?;

    fs::create_dir_all(&options.state_dir)
        .map_err(|e| format!("{}: {e}", options.state_dir.display()))?;
    let seed_path = options.state_dir.join("seed.json");
    let mut seed = read_seed(&seed_path).unwrap_or_else(|| Seed {
        operator_token: format!("op_{}", random_base62(32)),
        processor_secrets_key: till_shared::sealed::generate_key(),
        account: None,
        demo: None,
    });
    write_json(&seed_path, &seed)?;
    let dev_json = options.state_dir.join("dev.json");
    let _ = fs::remove_file(&dev_json);
    // Written there by earlier versions; a file among the assets would shadow every
    // instance's own `/demo.json`.
    let _ = fs::remove_file(workspace_root().join("www/demo.json"));

    let mut worker = step(
        &format!(
            "Starting the Workers on 127.0.0.1:{} (the links Worker in front of the main Worker; state in {})",
            options.port,
            options.state_dir.display()
        ),
        || start_worker(&options, &seed),
    )?;

    let account = seed_demo_merchant(&worker.base_url, &mut seed)?;
    allow_demo_shop(&worker.base_url, &account, options.port)?;
    let demo = match seed.demo.clone() {
        Some(demo) if demo.publishable_key == account.keys.test.publishable_key => demo,
        _ => step("Seeding the demo shop's products and links", || {
            seed_demo_shop(&worker.base_url, &account)
        })?,
    };
    let started_with = seed.demo.replace(demo);
    write_json(&seed_path, &seed)?;
    if started_with != seed.demo {
        // Variables are fixed while wrangler runs; a new shop (the first run of a state
        // directory) needs one restart to be served.
        worker.stop();
        worker = step("Restarting the Worker with its demo shop", || {
            start_worker(&options, &seed)
        })?;
    }
    worker
        .run_cron_every(CRON_PERIOD)
        .map_err(|e| e.to_string())?;
    write_json(
        &dev_json,
        &DevInfo {
            base_url: &worker.base_url,
            secret_key: &account.keys.test.secret_key,
            publishable_key: &account.keys.test.publishable_key,
            account_id: &account.id,
            operator_token: &seed.operator_token,
        },
    )?;
    let login = login_link(&worker.base_url, &seed.operator_token, &account.id)?;
    print_banner(
        &worker.base_url,
        &account,
        &seed.operator_token,
        &dev_json,
        &login,
    );

    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())?;
    while !stop.load(Ordering::SeqCst) {
        if !worker.is_running() {
            let status = worker.wait().map_err(|e| e.to_string())?;
            return Err(format!("wrangler exited ({status:?})"));
        }
        thread::sleep(Duration::from_millis(200));
    }
    println!("\nStopping the Worker…");
    worker.stop();
    let _ = fs::remove_file(&dev_json);
    Ok(())
}

/// The Worker on the chosen port with this state directory's operator token and demo shop,
/// then the `--var`s given (which may override them).
fn start_worker(options: &Options, seed: &Seed) -> Result<LocalWorker> {
    // A local instance: its webhooks may go to receivers on this machine (test keys only;
    // `cargo xtask listen` relies on it).
    let mut vars = vec![
        ("OPERATOR_TOKEN".to_owned(), seed.operator_token.clone()),
        ("WEBHOOK_LOOPBACK".to_owned(), "allowed".to_owned()),
        (
            "PROCESSOR_SECRETS_KEY".to_owned(),
            seed.processor_secrets_key.clone(),
        ),
    ];
    if let Some(demo) = &seed.demo {
        let text = serde_json::to_string(demo).map_err(|e| e.to_string())?;
        vars.push(("DEMO_SHOP".to_owned(), text));
    }
    vars.extend(options.vars.iter().cloned());
    LocalWorker::start(&WorkerConfig {
        config: None,
        front: Front::Links,
        port: options.port,
        state_dir: options.state_dir.clone(),
        vars,
        output: Output::Inherit,
    })
    .map_err(|e| e.to_string())
}

/// The demo merchant of this state directory: reused while its key still works (the D1
/// data is still there), created otherwise.
fn seed_demo_merchant(base_url: &str, seed: &mut Seed) -> Result<CreatedAccount> {
    if let Some(account) = &seed.account {
        let reply = Client::new(base_url)
            .with_bearer(&account.keys.test.secret_key)
            .get("/v1/account")
            .send()
            .map_err(|e| e.to_string())?;
        if reply.status == 200 {
            println!("==> Demo merchant {}: already seeded", account.id);
            return Ok(account.clone());
        }
    }
    let account = step("Seeding the demo merchant (SANDBOX)", || {
        create_account(base_url, &seed.operator_token, DEMO_MERCHANT).map_err(|e| e.to_string())
    })?;
    seed.account = Some(account.clone());
    Ok(account)
}

/// The demo shop (`/` of this instance) is the demo merchant's own site: its hosts are
/// added to the merchant's SANDBOX `allowed_redirect_hosts` (a new account allows none),
/// so its buy buttons open checkout in the overlay. Added on every start, since the port
/// may differ from the last run on this state directory; entries set by hand are kept.
fn allow_demo_shop(base_url: &str, account: &CreatedAccount, port: u16) -> Result<()> {
    let merchant = Client::new(base_url).with_bearer(&account.keys.test.secret_key);
    let current = merchant
        .get("/v1/account")
        .send()
        .map_err(|e| e.to_string())?;
    if current.status != 200 {
        return Err(format!(
            "/v1/account answered {}: {}",
            current.status, current.body
        ));
    }
    let mut hosts: Vec<String> =
        serde_json::from_value(current.json()["allowed_redirect_hosts"].clone())
            .unwrap_or_default();
    let before = hosts.len();
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    if hosts.len() == before {
        return Ok(());
    }
    // At most 20 entries: the oldest ones set by hand give way to this run's shop.
    let keep_from = hosts
        .len()
        .saturating_sub(till_shared::hosts::MAX_ALLOWED_HOSTS);
    let reply = merchant
        .request("PATCH", "/v1/account")
        .json(&serde_json::json!({"allowed_redirect_hosts": &hosts[keep_from..]}))
        .send()
        .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!(
            "allowing the demo shop answered {}: {}",
            reply.status, reply.body
        ));
    }
    println!("==> The demo shop ({base_url}) may embed the demo merchant's checkout");
    Ok(())
}

fn seed_demo_shop(base_url: &str, account: &CreatedAccount) -> Result<DemoShop> {
    let merchant = Client::new(base_url).with_bearer(&account.keys.test.secret_key);
    let create = |path: &str, body: serde_json::Value| -> Result<serde_json::Value> {
        let reply = merchant
            .post(path)
            .json(&body)
            .send()
            .map_err(|e| e.to_string())?;
        if reply.status >= 300 {
            return Err(format!("{path} answered {}: {}", reply.status, reply.body));
        }
        Ok(reply.json())
    };
    let catalogue = [
        (
            "Field notes, ebook",
            "NT$590",
            serde_json::json!({"name": "Field notes, ebook", "price": {"amount": 590, "currency": "TWD"}}),
        ),
        (
            "Pro plan, monthly",
            "HK$120 / month",
            serde_json::json!({"name": "Pro plan", "type": "recurring", "txamt": 12000, "txcurrcd": "HKD",
                               "interval": "month", "interval_count": 1}),
        ),
    ];
    let mut items = Vec::new();
    for (name, price, body) in catalogue {
        let product = create("/v1/products", body)?;
        let product_id = product["id"].as_str().ok_or("no product id")?.to_owned();
        let link = create(
            "/v1/payment_links",
            serde_json::json!({"productId": product_id}),
        )?;
        items.push(DemoItem {
            name: name.to_owned(),
            price: price.to_owned(),
            product: product_id,
            link: link["url_id"].as_str().ok_or("no url_id")?.to_owned(),
        });
    }
    Ok(DemoShop {
        publishable_key: account.keys.test.publishable_key.clone(),
        items,
    })
}

fn read_seed(path: &Path) -> Option<Seed> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// A one-time dashboard sign-in for the demo merchant's test view (15 minutes; the
/// operator token makes another: `POST /v1/dashboard/login_links {"account_id"}`).
fn login_link(base_url: &str, operator_token: &str, account_id: &str) -> Result<String> {
    let reply = till_tests::http::Client::new(base_url)
        .with_bearer(operator_token)
        .post("/v1/dashboard/login_links")
        .json(&serde_json::json!({ "account_id": account_id }))
        .send()
        .map_err(|e| e.to_string())?;
    reply.json()["url"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no login link: {} {}", reply.status, reply.body))
}

fn print_banner(
    base_url: &str,
    account: &CreatedAccount,
    operator_token: &str,
    dev_json: &Path,
    login: &str,
) {
    println!(
        "
Till is running.

  Dashboard        {login}
                   (one-time sign-in for the demo merchant, 15 minutes)
  Demo shop        {base_url}/
  API base         {base_url}/v1
  Health           {base_url}/healthz
  Workers          till-links answers short links, till everything else (one workerd)
  Cron trigger     every minute: webhook retries, renewals, expired sessions

  Demo merchant    {} ({})
  Secret key       {}
  Publishable key  {}
  Operator token   {operator_token}

  Written to       {}
  Try              curl -H 'Authorization: Bearer {}' {base_url}/v1/account

Press Ctrl-C to stop.",
        DEMO_MERCHANT,
        account.id,
        account.keys.test.secret_key,
        account.keys.test.publishable_key,
        dev_json.display(),
        account.keys.test.secret_key,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_are_port_8787_and_state_in_the_checkout() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.port, 8787);
        assert_eq!(options.state_dir, workspace_root().join(".till"));
        assert!(options.vars.is_empty());
    }

    #[test]
    fn port_state_and_repeated_vars_are_read() {
        let options = parse(&args(&[
            "--port",
            "9000",
            "--state",
            "/srv/till-a",
            "--var",
            "WEBHOOK_RETRY_SCHEDULE=1,2,3",
            "--var",
            "EMPTY=",
        ]))
        .unwrap();
        assert_eq!(options.port, 9000);
        assert_eq!(options.state_dir, PathBuf::from("/srv/till-a"));
        assert_eq!(
            options.vars,
            vec![
                ("WEBHOOK_RETRY_SCHEDULE".to_owned(), "1,2,3".to_owned()),
                ("EMPTY".to_owned(), String::new())
            ]
        );
    }

    #[test]
    fn a_relative_state_dir_is_made_absolute() {
        let options = parse(&args(&["--state", "tmp/a"])).unwrap();
        assert!(options.state_dir.is_absolute());
        assert!(options.state_dir.ends_with("tmp/a"));
    }

    #[test]
    fn malformed_options_are_refused_with_the_reason() {
        for (bad, reason) in [
            (&["--port", "eighty"][..], "not a port number"),
            (&["--port", "70000"][..], "not a port number"),
            (&["--port"][..], "needs a value"),
            (&["--var", "NOVALUE"][..], "NAME=VALUE"),
            (&["--verbose"][..], "unknown option"),
        ] {
            let error = parse(&args(bad)).err().expect("refused");
            assert!(error.contains(reason), "{bad:?}: {error}");
        }
    }
}
