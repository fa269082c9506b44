//! Release builds of the widget (into `www/pkg/`, served as static assets) and of the
//! Worker (into `edge/build/`, which `wrangler.toml` points at).

use std::path::Path;
use std::process::Command;

use till_tests::local::workspace_root;

use crate::step::{Result, run, step};
use crate::tools::Tools;

pub fn all(tools: &Tools) -> Result<()> {
    widget(tools)?;
    worker(tools)
}

/// Features the Rust 1.95 wasm32 target emits; wasm-opt must be told it may keep them.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

pub fn widget(tools: &Tools) -> Result<()> {
    let root = workspace_root();
    step("Building the widget (Leptos, wasm32, opt-level z)", || {
        run(Command::new("cargo")
            .args([
                "build",
                "--package",
                "till-widget",
                "--lib",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
            ])
            .current_dir(&root))?;
        let input = root.join("target/wasm32-unknown-unknown/release/till_widget.wasm");
        let out_dir = root.join("www/pkg");
        run(Command::new(&tools.wasm_bindgen)
            .arg(&input)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                "till_widget",
                "--out-dir",
            ])
            .arg(&out_dir))?;
        optimize(tools, &out_dir.join("till_widget_bg.wasm"))
    })
}

fn optimize(tools: &Tools, wasm: &Path) -> Result<()> {
    run(Command::new(&tools.wasm_opt)
        .arg("-Oz")
        .args(WASM_FEATURES)
        .arg("--strip-debug")
        .arg(wasm)
        .arg("-o")
        .arg(wasm))
}

pub fn worker(tools: &Tools) -> Result<()> {
    let root = workspace_root();
    step(
        "Building the Worker (workers-rs, wasm32, opt-level s)",
        || {
            // The *_BIN overrides stop worker-build from downloading its own copies from GitHub.
            run(Command::new(&tools.worker_build)
                .arg("--release")
                .current_dir(root.join("edge"))
                .env("WASM_BINDGEN_BIN", &tools.wasm_bindgen)
                .env("WASM_OPT_BIN", &tools.wasm_opt)
                .env("ESBUILD_BIN", &tools.esbuild))
        },
    )
}
