//! Black-box tests of the Worker running in local workerd with on-disk D1 and KV: one
//! Worker on a free port with a fresh state directory for the whole suite, stopped after.
//! Each module lists its checks; every check drives the Worker over HTTP as a merchant or
//! a shopper would, and reads D1 where what is stored matters.

mod catalog;
mod checkout_sessions;
mod dashboard;
mod embedding;
mod events;
mod foundation;
mod idempotency;
mod limits;
mod omise;
mod openapi;
mod operator_secret;
mod owed;
mod payment_links;
mod portal;
mod promotion_limits;
mod promotions;
mod public_writes;
mod redirects;
mod sales;
mod selling;
mod shopper;
mod subscriptions;
mod support;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use till_tests::accounts::{CreatedAccount, create_account};
use till_tests::http::Client;
use till_tests::local::{Front, LocalWorker, Output, WorkerConfig, free_port, workspace_root};

pub struct Suite {
    pub worker: LocalWorker,
    pub client: Client,
    pub operator_token: String,
    /// The merchant most checks act as.
    pub account: CreatedAccount,
    /// A second merchant, for isolation checks.
    pub other: CreatedAccount,
}

impl Suite {
    /// The main merchant with its test secret key.
    pub fn merchant(&self) -> Client {
        self.client.with_bearer(&self.account.keys.test.secret_key)
    }

    /// The main merchant with its live secret key.
    pub fn live(&self) -> Client {
        self.client.with_bearer(&self.account.keys.live.secret_key)
    }

    /// One UPDATE or INSERT on the Worker's D1 (test setup: time that has passed, many rows).
    pub fn update(&self, sql: &str) -> till_tests::Result<()> {
        self.client.update_d1(&self.operator_token, sql)
    }

    /// Fires the cron trigger now, through the Worker's real `scheduled` entry, and waits
    /// for its work to finish.
    pub fn run_cron(&self) -> till_tests::Result<()> {
        self.worker.run_scheduled()
    }

    /// A new merchant of its own (test secret key), for checks that count what they create
    /// while other checks run in parallel.
    pub fn fresh_merchant(&self, name: &str) -> till_tests::Result<Client> {
        let account = create_account(&self.worker.base_url, &self.operator_token, name)?;
        Ok(self.client.with_bearer(&account.keys.test.secret_key))
    }

    /// Rows of one read-only query on the Worker's D1.
    pub fn query(&self, sql: &str) -> till_tests::Result<Vec<serde_json::Value>> {
        self.client.query_d1(&self.operator_token, sql)
    }

    /// The main merchant with its test publishable key.
    pub fn publishable(&self) -> Client {
        self.client
            .with_bearer(&self.account.keys.test.publishable_key)
    }
}

pub type Check = fn(&Suite) -> Result<(), Failed>;

/// The main merchant's own site (its `allowed_redirect_hosts`).
pub const SHOP_HOST: &str = "shop.example";

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let modules: &[&[(&str, Check)]] = &[
        foundation::CHECKS,
        catalog::CHECKS,
        payment_links::CHECKS,
        promotions::CHECKS,
        promotion_limits::CHECKS,
        checkout_sessions::CHECKS,
        events::CHECKS,
        omise::CHECKS,
        openapi::CHECKS,
        shopper::CHECKS,
        owed::CHECKS,
        embedding::CHECKS,
        redirects::CHECKS,
        subscriptions::CHECKS,
        webhooks::CHECKS,
        limits::CHECKS,
        selling::CHECKS,
        sales::CHECKS,
        idempotency::CHECKS,
        public_writes::CHECKS,
        operator_secret::CHECKS,
        dashboard::CHECKS,
        portal::CHECKS,
    ];
    let checks: Vec<(&str, Check)> = modules.iter().flat_map(|m| m.iter().copied()).collect();
    if args.list {
        let trials = checks
            .iter()
            .map(|(name, _)| Trial::test(*name, || Ok(())))
            .collect();
        return libtest_mimic::run(&args, trials).exit_code();
    }

    let suite = match start_suite() {
        Ok(suite) => Arc::new(suite),
        Err(error) => {
            eprintln!("could not start the local Worker: {error}");
            return ExitCode::FAILURE;
        }
    };
    let trials = checks
        .into_iter()
        .map(|(name, check)| {
            let suite = Arc::clone(&suite);
            Trial::test(name, move || check(&suite))
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    let state_dir = suite.worker.state_dir.clone();
    drop(suite);
    if conclusion.has_failed() {
        eprintln!("Worker state and log kept in {}", state_dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&state_dir);
    }
    conclusion.exit_code()
}

fn start_suite() -> till_tests::Result<Suite> {
    let state_dir: PathBuf = workspace_root()
        .join("target/test-state")
        .join(format!("worker-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    std::fs::create_dir_all(&state_dir)?;
    let operator_token = format!("op_{}", till_shared::ids::random_base62(32));
    let worker = LocalWorker::start(&WorkerConfig {
        config: None,
        front: Front::Links,
        port: free_port()?,
        state_dir: state_dir.clone(),
        vars: vec![
            ("OPERATOR_TOKEN".into(), operator_token.clone()),
            ("TEST_HOOKS".into(), "enabled".into()),
            // Retries a second apart, so the retry path runs within the suite.
            ("WEBHOOK_RETRY_SCHEDULE".into(), "1".into()),
            // The receivers are on loopback (test keys only).
            ("WEBHOOK_LOOPBACK".into(), "allowed".into()),
            (
                "PROCESSOR_SECRETS_KEY".into(),
                till_shared::sealed::generate_key(),
            ),
        ],
        output: Output::File(state_dir.join("worker.log")),
    })?;
    let account = create_account(&worker.base_url, &operator_token, "Test Merchant")?;
    let other = create_account(&worker.base_url, &operator_token, "Other Merchant")?;
    // The main merchant's shop, where its checkout may be embedded and its publishable
    // key may redirect (a new account allows no host).
    let settings = Client::new(&worker.base_url)
        .with_bearer(&account.keys.test.secret_key)
        .request("PATCH", "/v1/account")
        .json(&serde_json::json!({"allowed_redirect_hosts": [SHOP_HOST]}))
        .send()?;
    if settings.status != 200 {
        return Err(format!(
            "allowing the shop answered {}: {}",
            settings.status, settings.body
        )
        .into());
    }
    Ok(Suite {
        client: Client::new(&worker.base_url),
        worker,
        operator_token,
        account,
        other,
    })
}
