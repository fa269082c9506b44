//! `cargo xtask test`: formatting, lints, and every test tier, each timed. A failing tier
//! does not stop the independent ones after it; the exit status is non-zero if any failed.

use std::process::Command;
use std::time::Instant;

use till_tests::local::workspace_root;

use crate::build;
use crate::step::{self, Result, format_duration, step};
use crate::tools::{self, Tools};

const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command.args(args).current_dir(workspace_root());
    command
}

pub fn run() -> Result<()> {
    let started = Instant::now();
    let tools = tools::setup(tools::Needs::Everything)?;
    let mut outcomes: Vec<(&str, Result<()>, String)> = Vec::new();
    let mut tier = |name: &'static str, work: &mut dyn FnMut() -> Result<()>| {
        let tier_started = Instant::now();
        let outcome = step(name, work);
        outcomes.push((name, outcome, format_duration(tier_started.elapsed())));
    };

    tier("Formatting (cargo fmt --check)", &mut || {
        step::run(&mut cargo(&["fmt", "--all", "--", "--check"]))
    });
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
            step::run(&mut cargo(&[
                "clippy",
                "--target",
                WASM_TARGET,
                "--package",
                "till-edge",
                "--package",
                "till-widget",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))?;
            step::run(&mut cargo(&[
                "clippy",
                "--target",
                WASM_TARGET,
                "--package",
                "till-shared",
                "--lib",
                "--",
                "-D",
                "warnings",
            ]))
        },
    );
    tier("Unit and property tests (shared, xtask)", &mut || {
        step::run(&mut cargo(&[
            "test",
            "--package",
            "till-shared",
            "--package",
            "xtask",
        ]))
    });
    let mut built = Ok(());
    tier("Release build (widget and Worker)", &mut || {
        built = build::all(&tools);
        built.clone()
    });
    tier(
        "Widget tests in headless Chromium (wasm-bindgen-test)",
        &mut || widget_browser_tests(&tools),
    );
    if built.is_ok() {
        tier(
            "Black-box tests against the local Worker (workerd, D1, KV)",
            &mut || step::run(&mut cargo(&["test", "--package", "till-tests"])),
        );
    }

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

/// The widget's wasm-bindgen tests in headless Chromium, run through the pinned
/// `wasm-bindgen-test-runner` (the same tests pass under `wasm-pack test --headless --chrome`).
fn widget_browser_tests(tools: &Tools) -> Result<()> {
    let mut command = cargo(&["test", "--package", "till-widget", "--target", WASM_TARGET]);
    command
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            &tools.wasm_bindgen_test_runner,
        )
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120");
    if let Some(driver) = &tools.chromedriver {
        command.env("CHROMEDRIVER", driver);
    }
    step::run(&mut command)
}
