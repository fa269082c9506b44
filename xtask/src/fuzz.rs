//! `cargo xtask fuzz [--suite | --max-time SECS [--max-examples N]]`: schemathesis
//! against a fresh local Worker, from the Worker's own `GET /v1/openapi.json`, with a
//! sandbox secret key: every operation, every phase (examples, coverage, fuzzing, stateful),
//! every check. Reports go to `target/fuzz/` (JUnit XML, and an NDJSON log of every case).
//! `cargo xtask test` runs the same on a budget of its own ([`tier`]: the same cases every
//! run); `--suite` runs that tier alone.

use std::process::Command;
use std::time::Duration;

use till_tests::accounts::create_account;
use till_tests::local::workspace_root;

use crate::fresh::fresh_worker;
use crate::step::{Result, run, run_within, step};
use crate::{build, tools};

/// The default time budget of one run.
const DEFAULT_MAX_TIME_SECS: u64 = 600;
/// A fixed seed, so a run can be repeated case for case.
const SEED: &str = "20261202";

pub fn run_cli(args: &[String]) -> Result<()> {
    let mut max_time = DEFAULT_MAX_TIME_SECS;
    let mut max_examples = None;
    let mut suite = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut number = |name: &str| {
            rest.next()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|v| *v > 0)
                .ok_or(format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--max-time" => max_time = number("--max-time")?,
            "--max-examples" => max_examples = Some(number("--max-examples")?.to_string()),
            "--suite" => suite = true,
            other => return Err(format!("unknown option `{other}` for fuzz")),
        }
    }
    let tools = tools::setup(tools::Needs::Build)?;
    build::all(&tools)?;
    if suite {
        return tier();
    }
    run_schemathesis(Budget::Time {
        secs: max_time,
        max_examples: max_examples.as_deref(),
    })
}

/// A card the schema allows can still be declined (402), as a processor declines one past
/// its expiry: a well-formed request, answered as Stripe answers it. (The rest of what the
/// fuzzer is told beyond the document is in `xtask/fuzz_hooks.py`.)
///
/// Entitlements name the customer by one of three query parameters, which a document
/// cannot require one of: a request with none is a 400, as its description says.
const OPERATIONS: &str = "[[operations]]\n\
    include-operation-id = \"CreatePaymentMethod\"\n\
    checks.positive_data_acceptance.expected-statuses = \
    [\"2xx\", \"401\", \"402\", \"403\", \"404\", \"409\", \"429\"]\n\
    [[operations]]\n\
    include-operation-id = \"Entitlements\"\n\
    checks.positive_data_acceptance.expected-statuses = \
    [\"2xx\", \"400\", \"401\", \"403\", \"404\", \"409\", \"429\"]\n";

/// The suite's cases of each operation in each phase, generated deterministically from the
/// seed (so that every run sends the same requests), and the time they must fit in: 7,460
/// requests took 2m15s to 3m56s on one 2-core machine in one day (the Worker's own time was
/// 127 s of a 3m28s run; the rest is schemathesis), so six minutes.
const TIER_MAX_EXAMPLES: &str = "25";
const TIER_LIMIT: Duration = Duration::from_secs(360);

/// The suite's tier, on the builds the suite made: a fixed number of cases per operation
/// and phase, generated from the seed, within a time limit; fails on any failure of any
/// check.
pub fn tier() -> Result<()> {
    run_schemathesis(Budget::Cases(TIER_MAX_EXAMPLES))
}

/// How much one run does: the suite's fixed cases, or as many as fit in a time (at most
/// `max_examples` per operation and phase, when given), searching anew as it goes.
enum Budget<'a> {
    Cases(&'a str),
    Time {
        secs: u64,
        max_examples: Option<&'a str>,
    },
}

/// Runs schemathesis against a fresh Worker; fails if it found anything.
fn run_schemathesis(budget: Budget<'_>) -> Result<()> {
    let st = tools::schemathesis()?;
    let root = workspace_root();
    let state = root.join("target/fuzz-state");
    let (worker, operator) = step("Starting the Worker (workerd, on-disk D1 and KV)", || {
        // Endpoints the fuzzer creates name public hosts; their deliveries stay here.
        fresh_worker(&state, &[("WEBHOOK_LOOPBACK", "only")])
    })?;
    let account =
        create_account(&worker.base_url, &operator, "Fuzzed shop").map_err(|e| e.to_string())?;
    let reports = root.join("target/fuzz");
    std::fs::create_dir_all(&reports).map_err(|e| e.to_string())?;
    // The merchant's schemes get its real secret key, so that operations are fuzzed past
    // authentication (a `--header` alone is replaced by generated values). The operator's
    // scheme gets none: schemathesis applies one bearer token to every bearer scheme, and
    // the operator's operations (creating accounts) are the black-box suite's to test.
    let config = reports.join("schemathesis.toml");
    let secret = &account.keys.test.secret_key;
    std::fs::write(
        &config,
        format!(
            "[auth.openapi.apiKey]\nbearer = \"{secret}\"\n\n\
             [auth.openapi.basicSecretKey]\nusername = \"{secret}\"\npassword = \"\"\n\n\
             {OPERATIONS}"
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut command = Command::new(&st);
    command
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/v1/openapi.json", worker.base_url))
        // Every check; `use_after_free` as `use_after_erasure` (fuzz_hooks.py).
        .args(["--checks", "all", "--exclude-checks", "use_after_free"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--workers", "1", "--seed", SEED])
        // Rolling the key the fuzzer authenticates with ends every later case in 401; the
        // black-box suite tests the roll.
        .args(["--exclude-operation-id", "RollSecretKey"])
        .args(["--report", "junit,ndjson", "--report-dir"])
        .arg(&reports)
        // Its case cache (`.schemathesis/`) goes with the reports, not into the tree.
        .current_dir(&reports)
        // What the fuzzer is told beyond the document (see the file).
        .env("SCHEMATHESIS_HOOKS", root.join("xtask/fuzz_hooks.py"))
        .env("NO_COLOR", "1");
    let outcome = match budget {
        Budget::Cases(cases) => {
            command
                .args(["--max-examples", cases])
                .arg("--generation-deterministic");
            step(
                &format!(
                    "Fuzzing the API from its OpenAPI document ({cases} cases per operation and phase, the same every run)"
                ),
                || run_within(&mut command, TIER_LIMIT),
            )
        }
        Budget::Time { secs, max_examples } => {
            command.arg("--max-time").arg(secs.to_string());
            if let Some(cases) = max_examples {
                command.args(["--max-examples", cases]);
            }
            step(
                &format!("Fuzzing the API from its OpenAPI document (for {secs}s)"),
                || run(&mut command),
            )
        }
    };
    drop(worker);
    outcome
}
