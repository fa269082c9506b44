//! `cargo xtask test`: formatting, lints, and every test tier, each timed. A failing tier
//! does not stop the independent ones after it; the exit status is non-zero if any failed.

use std::process::Command;
use std::time::Instant;

use till_tests::local::{Front, LocalWorker, Output, WorkerConfig, free_port, workspace_root};

use crate::step::{self, Result, format_duration, step};
use crate::tools::{self, Tools};
use crate::{build, fuzz, size};

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command.args(args).current_dir(workspace_root());
    command
}

/// `cargo xtask test [--only TEXT]`: every tier, or (while working on one part) only the
/// tiers whose name contains TEXT, on the build already there (`cargo xtask build`).
pub fn run(args: &[String]) -> Result<()> {
    let only = match args {
        [] => None,
        [flag, text] if flag == "--only" => Some(text.to_lowercase()),
        _ => return Err("usage: cargo xtask test [--only TEXT]".into()),
    };
    let started = Instant::now();
    let tools = tools::setup(tools::Needs::Everything)?;
    let mut outcomes: Vec<(&str, Result<()>, String)> = Vec::new();
    let mut tier = |name: &'static str, work: &mut dyn FnMut() -> Result<()>| {
        if only
            .as_ref()
            .is_some_and(|only| !name.to_lowercase().contains(only))
        {
            return;
        }
        let tier_started = Instant::now();
        let outcome = step(name, work);
        outcomes.push((name, outcome, format_duration(tier_started.elapsed())));
    };

    tier("Formatting (cargo fmt --check)", &mut || {
        step::run(&mut cargo(&["fmt", "--all", "--", "--check"]))
    });
    tier(
        "Dependency licenses and bans (cargo deny check licenses bans)",
        &mut || licenses_and_bans(&tools),
    );
    tier("Lints, host crates (clippy -D warnings)", &mut || {
        step::run(&mut cargo(&[
            "clippy",
            "--package",
            "till-shared",
            "--package",
            "till-tests",
            "--package",
            "xtask",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    });
    tier(
        "Lints, wasm crates (clippy -D warnings, wasm32)",
        &mut || {
            let clippy = |args: &[&str]| {
                let mut command = cargo(&["clippy", "--target", WASM_TARGET]);
                command.args(args).args(["--", "-D", "warnings"]);
                step::run(&mut command)
            };
            clippy(&[
                "--package",
                "till-edge",
                "--package",
                "till-widget",
                "--package",
                "till-dashboard",
                "--package",
                "till-links",
                "--all-targets",
            ])?;
            // The links crate as its own Worker (its entry is behind the feature).
            clippy(&[
                "--package",
                "till-links",
                "--features",
                "worker",
                "--all-targets",
            ])?;
            clippy(&["--package", "till-shared", "--lib"])
        },
    );
    tier(
        "Unit and property tests (shared, xtask), the Worker's layers",
        &mut || {
            step::run(&mut cargo(&["test", "--package", "till-shared"]))?;
            step::run(&mut cargo(&[
                "test",
                "--package",
                "till-tests",
                "--test",
                "layers",
            ]))?;
            // xtask's own integration tests (`listen`, `dev`) need the builds: they run below.
            step::run(&mut cargo(&["test", "--package", "xtask", "--bins"]))
        },
    );
    let mut built = Ok(());
    tier(
        "Release build (widget, dashboard, both Workers)",
        &mut || {
            built = build::all(&tools);
            built.clone()
        },
    );
    if built.is_ok() {
        tier(
            "Deploy dry run (cargo xtask deploy --dry-run: configs, bundles, bindings)",
            &mut || crate::deploy::run(&["--dry-run".to_owned()]),
        );
    }
    tier(
        "Widget tests in headless Chromium (wasm-pack test --headless --chrome)",
        &mut || widget_browser_tests(&tools),
    );
    if built.is_ok() {
        tier(
            "Black-box tests against the local Worker (workerd, D1, KV)",
            &mut || {
                // The processor tests run against localstripe from the tools cache.
                let localstripe = tools::localstripe()?;
                step::run(
                    cargo(&["test", "--package", "till-tests"])
                        .env("TILL_LOCALSTRIPE", localstripe),
                )?;
                step::run(&mut cargo(&[
                    "test",
                    "--package",
                    "xtask",
                    "--test",
                    "listen",
                    "--test",
                    "dev",
                ]))
            },
        );
    }

    if built.is_ok() {
        tier("End-to-end in Chromium (Playwright)", &mut end_to_end);
        tier("Size budgets (cargo xtask size)", &mut || size::run(&[]));
        tier(
            "The API fuzzed from its OpenAPI document (schemathesis, every check)",
            &mut fuzz::tier,
        );
    }
    tier(
        "Types of the loader (tsc --noEmit on a TSX file using <till-buy-button>)",
        &mut || {
            step::run(
                Command::new(workspace_root().join("node_modules/.bin/tsc"))
                    .args(["--project", "tests/types"])
                    .current_dir(workspace_root()),
            )
        },
    );

    println!("\nSummary ({} in all):", format_duration(started.elapsed()));
    let mut failed = 0;
    for (name, outcome, took) in &outcomes {
        let mark = if outcome.is_ok() { "ok  " } else { "FAIL" };
        println!("  {mark} {took:>7}  {name}");
        if let Err(message) = outcome {
            failed += 1;
            println!("              {message}");
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} of {} tiers failed", outcomes.len()))
    }
}

/// The dependency tree against `deny.toml`. The crates come from crates.io first, with
/// `cargo fetch` like any build; cargo-deny itself then runs `--frozen`, so it touches no
/// network (its advisories check, which needs a database from GitHub, is not run). Inclusion
/// graphs are left out: a rejected crate is named with its version, and `cargo tree -i`
/// shows who pulls it in.
fn licenses_and_bans(tools: &Tools) -> Result<()> {
    let Some(cargo_deny) = &tools.cargo_deny else {
        return Err("cargo-deny is not set up".into());
    };
    step::run(&mut cargo(&["fetch"]))?;
    step::run(
        Command::new(cargo_deny)
            .args([
                "--frozen",
                "check",
                "--hide-inclusion-graph",
                "licenses",
                "bans",
            ])
            .current_dir(workspace_root()),
    )
}

/// The widget's wasm-bindgen tests in headless Chromium, run exactly as Rust/wasm users
/// run them: `wasm-pack test --headless --chrome`, with the pinned wasm-bindgen on PATH.
fn widget_browser_tests(tools: &Tools) -> Result<()> {
    let (Some(wasm_pack), Some(driver)) = (&tools.wasm_pack, &tools.chromedriver) else {
        return Err("wasm-pack and chromedriver are not set up".into());
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(tools.wasm_bindgen_dir.clone()).chain(std::env::split_paths(&path)),
    )
    .map_err(|e| e.to_string())?;
    step::run(
        Command::new(wasm_pack)
            .args(["test", "--headless", "--chrome", "--chromedriver"])
            .arg(driver)
            .current_dir(workspace_root().join("widget"))
            .env("PATH", path)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120"),
    )
}

/// The browser tests in `tests/e2e` (node's test runner with playwright-core and Debian's
/// Chromium) against a Worker of their own, with screenshots in `target/e2e-artifacts`.
fn end_to_end() -> Result<()> {
    let root = workspace_root();
    let state_dir = root.join("target/e2e-state");
    let _ = std::fs::remove_dir_all(&state_dir);
    std::fs::create_dir_all(&state_dir).map_err(|e| e.to_string())?;
    let operator_token = format!("op_{}", till_shared::ids::random_base62(32));
    let worker = LocalWorker::start(&WorkerConfig {
        config: None,
        front: Front::Links,
        port: free_port().map_err(|e| e.to_string())?,
        state_dir: state_dir.clone(),
        vars: vec![
            ("OPERATOR_TOKEN".into(), operator_token.clone()),
            ("TEST_HOOKS".into(), "enabled".into()),
            // The dashboard test's webhook receiver listens on loopback.
            ("WEBHOOK_LOOPBACK".into(), "allowed".into()),
        ],
        output: Output::File(state_dir.join("worker.log")),
    })
    .map_err(|e| e.to_string())?;
    let chromium = step::output(Command::new("sh").args(["-c", "command -v chromium"]))
        .map(|p| p.trim().to_owned())
        .unwrap_or_else(|| "/usr/bin/chromium".to_owned());
    let outcome = step::run(
        Command::new("node")
            .args(["--test", "--test-reporter=spec", "tests/e2e/"])
            .current_dir(&root)
            .env("TILL_BASE_URL", &worker.base_url)
            .env("TILL_OPERATOR_TOKEN", &operator_token)
            .env("TILL_ARTIFACTS", root.join("target/e2e-artifacts"))
            .env("CHROMIUM", chromium),
    );
    drop(worker);
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&state_dir);
    } else {
        println!(
            "    Worker log kept in {}",
            state_dir.join("worker.log").display()
        );
    }
    outcome
}
