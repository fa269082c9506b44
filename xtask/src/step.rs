//! Progress output: every step says what it does and how long it took.

use std::process::Command;
use std::time::{Duration, Instant};

pub type Result<T> = std::result::Result<T, String>;

/// Runs `work` under a heading and prints its duration (on stderr, like all progress, so
/// that stdout carries only results: `cargo xtask size --json`).
pub fn step<T>(title: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> {title}");
    let started = Instant::now();
    let outcome = work();
    let took = format_duration(started.elapsed());
    match &outcome {
        Ok(_) => eprintln!("    done in {took}"),
        Err(_) => eprintln!("    failed after {took}"),
    }
    outcome
}

/// One line for a step that has nothing to do.
pub fn satisfied(what: &str) {
    eprintln!("==> {what}: already satisfied");
}

pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        format!(
            "{}m{:02}s",
            duration.as_secs() / 60,
            duration.as_secs() % 60
        )
    }
}

/// Runs a command with inherited output; an error names the command.
pub fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .map_err(|e| format!("could not start {}: {e}", describe(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", describe(command)))
    }
}

/// [`run`], killing the command if it has not finished within `limit`.
pub fn run_within(command: &mut Command, limit: std::time::Duration) -> Result<()> {
    let started = std::time::Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", describe(command)))?;
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(format!("{} failed ({status})", describe(command))),
            None if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {}s",
                    describe(command),
                    limit.as_secs()
                ));
            }
            None => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    }
}

/// A command's captured stdout, if it ran and succeeded.
pub fn output(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
