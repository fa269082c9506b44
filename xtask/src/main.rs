//! `cargo xtask <command>`: Till's only entry points.
//!
//! - `setup`: installs what building and testing need, skipping what is already there.
//! - `dev`: sets up, builds, and runs Till locally with a seeded demo merchant.
//! - `test`: every test tier, with each tier's time.
//! - `build`: the widget and the Worker, release builds.
//! - `bench links`: loopback load on the short-link path, with its ceiling and a peer.
//! - `bench billing`: 10,000 due subscriptions billed by the cron handler.
//! - `deploy`: Till onto Cloudflare (`--dry-run`: everything that needs no account).
//! - `listen`: the local instance's webhooks forwarded to an app on this machine.
//! - `fuzz`: schemathesis against a local Worker from its own OpenAPI document.
//! - `size`: bytes of every shipped artifact (raw, gzip, brotli) against the budgets.

mod bench;
mod build;
mod deploy;
mod dev;
mod fresh;
mod fuzz;
mod listen;
mod size;
mod step;
mod test;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup                      install the toolchain pieces (idempotent)
  dev [--port N] [--state DIR] [--var NAME=VALUE]...
                             build and run Till locally (default port 8787, state .till/)
  test [--only TEXT]         run every test tier (or those whose name contains TEXT)
  build                      build the widget, the dashboard and both Workers (release)
  deploy [--env NAME] [--dry-run] [--link-host HOST] [--api-host HOST]
                             deploy Till to Cloudflare (default env production); --dry-run
                             needs no account and changes nothing there
  bench [links]              loopback load on the short-link path (needs wrk)
  bench billing              10,000 due subscriptions billed by the cron handler
  fuzz [--suite | --max-time SECS [--max-examples N]]
                             schemathesis against a local Worker from its OpenAPI document
  size [--json]              raw/gzip/brotli bytes of each shipped artifact; fails over budget
  listen --forward-to URL [--state DIR] [--events a,b]
                             forward the local instance's webhooks to an app on this machine

environment:
  TILL_CACHE_DIR             where installed tools and build artifacts are kept (default ~/.cache/till)
  CARGO_TARGET_DIR           where cargo builds (default: `target` in TILL_CACHE_DIR, shared by
                             every checkout on this machine)";

fn main() -> ExitCode {
    tools::share_target_dir();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let outcome = match command.as_str() {
        "setup" => tools::setup(tools::Needs::Everything).map(drop),
        "dev" => dev::run(rest),
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        "listen" => listen::run(rest),
        "size" => size::run(rest),
        "fuzz" => fuzz::run_cli(rest),
        "deploy" => deploy::run(rest),
        "build" => tools::setup(tools::Needs::Build).and_then(|tools| build::all(&tools)),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
