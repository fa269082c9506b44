//! Release builds of the widget (into `www/pkg/`) and the dashboard (into
//! `www/dashboard/pkg/`), served as static assets, and of the Worker (into `edge/build/`,
//! which `wrangler.toml` points at).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use till_tests::local::workspace_root;

use crate::step::{Result, run, satisfied, step};
use crate::tools::Tools;

pub fn all(tools: &Tools) -> Result<()> {
    widget(tools)?;
    dashboard(tools)?;
    worker(tools)?;
    links_worker(tools)
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

/// The loader (`widget/loader/till.js`, with the button styles of `widget/src/button.css`
/// inlined) minified into `www/till.js`, and its type declarations beside it.
pub fn loader(tools: &Tools) -> Result<()> {
    let root = workspace_root();
    let source = root.join("widget/loader/till.js");
    let css = root.join("widget/src/button.css");
    let output = root.join("www/till.js");
    let fresh = [&source, &css, &root.join("widget/loader/till.d.ts")]
        .iter()
        .all(|input| matches!((modified(input), modified(&output)), (Some(i), Some(o)) if i <= o));
    if fresh {
        satisfied("Loader build (www/till.js is newer than its sources)");
        return Ok(());
    }
    step("Building the loader (www/till.js, minified)", || {
        let read =
            |path: &Path| fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
        let styles: String = read(&css)?.lines().collect();
        let script = read(&source)?;
        if !script.contains("BUTTON_CSS") {
            return Err("widget/loader/till.js has no BUTTON_CSS placeholder".into());
        }
        let quoted = serde_json::to_string(&styles).map_err(|e| e.to_string())?;
        let staged = root.join("target/till.js");
        fs::create_dir_all(root.join("target")).map_err(|e| e.to_string())?;
        fs::write(&staged, script.replace("BUTTON_CSS", &quoted)).map_err(|e| e.to_string())?;
        run(Command::new(&tools.esbuild)
            .arg(&staged)
            .args([
                "--minify",
                "--target=es2022",
                "--charset=utf8",
                "--log-level=warning",
            ])
            .arg(format!("--outfile={}", output.display())))?;
        fs::copy(
            root.join("widget/loader/till.d.ts"),
            root.join("www/till.d.ts"),
        )
        .map(|_| ())
        .map_err(|e| format!("till.d.ts: {e}"))
    })
}

pub fn widget(tools: &Tools) -> Result<()> {
    loader(tools)?;
    let root = workspace_root();
    let output = root.join("www/pkg/till_widget_bg.wasm");
    if up_to_date(&output, &["widget", "shared"]) {
        satisfied("Widget build (www/pkg is newer than its sources)");
        return Ok(());
    }
    step("Building the widget (Leptos, wasm32, opt-level z)", || {
        let out_dir = root.join("www/pkg");
        for_the_web(tools, &cargo_wasm("till-widget")?, "till_widget", &out_dir)?;
        optimize(tools, &out_dir.join("till_widget_bg.wasm"))
    })
}

/// The merchant dashboard (`www/dashboard`, Leptos) into `www/dashboard/pkg/`, served as
/// static assets at `/dashboard/`.
pub fn dashboard(tools: &Tools) -> Result<()> {
    let root = workspace_root();
    let output = root.join("www/dashboard/pkg/till_dashboard_bg.wasm");
    if up_to_date(
        &output,
        &[
            "www/dashboard/src",
            "www/dashboard/Cargo.toml",
            "www/dashboard/style.css",
            "shared",
        ],
    ) {
        satisfied("Dashboard build (www/dashboard/pkg is newer than its sources)");
        return Ok(());
    }
    step(
        "Building the dashboard (Leptos, wasm32, opt-level z)",
        || {
            let out_dir = root.join("www/dashboard/pkg");
            let input = cargo_wasm_erased("till-dashboard")?;
            for_the_web(tools, &input, "till_dashboard", &out_dir)?;
            // wasm-bindgen's glue, minified: it is part of the first load.
            let glue = out_dir.join("till_dashboard.js");
            run(Command::new(&tools.esbuild)
                .arg(&glue)
                .args([
                    "--minify",
                    "--format=esm",
                    "--target=es2022",
                    "--log-level=warning",
                    "--allow-overwrite",
                ])
                .arg(format!("--outfile={}", glue.display())))?;
            run(Command::new(&tools.esbuild)
                .arg(root.join("www/dashboard/style.css"))
                .args(["--minify", "--log-level=warning"])
                .arg(format!("--outfile={}", out_dir.join("style.css").display())))?;
            // `--converge` repeats -Oz until nothing shrinks (650 B brotli, 15 s): the
            // first load has a budget.
            let wasm = out_dir.join("till_dashboard_bg.wasm");
            run(Command::new(&tools.wasm_opt)
                .args(["-Oz", "--converge"])
                .args(WASM_FEATURES)
                .arg("--strip-debug")
                .arg(&wasm)
                .arg("-o")
                .arg(&wasm))
        },
    )
}

/// wasm-bindgen's `web` output of `input` into `out_dir`: `{name}.js` and `{name}_bg.wasm`.
fn for_the_web(tools: &Tools, input: &Path, name: &str, out_dir: &Path) -> Result<()> {
    run(Command::new(&tools.wasm_bindgen)
        .arg(input)
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            name,
            "--out-dir",
        ])
        .arg(out_dir))
}

/// Builds `package`'s library for wasm32 (release) and answers the path of its `.wasm`.
fn cargo_wasm(package: &str) -> Result<PathBuf> {
    build_wasm(package, &[], crate::tools::target_dir(), None)
}

/// [`cargo_wasm`] with Leptos's component types erased (`--cfg erase_components`: one
/// `AnyView` per component instead of a nested type), in a target directory of its own so
/// the flag does not rebuild the others. The dashboard's wasm is 22 KB (brotli) smaller for
/// it; the widget's grows by 5 KB, so the widget is built without.
fn cargo_wasm_erased(package: &str) -> Result<PathBuf> {
    let target = crate::tools::target_dir().join("erased");
    build_wasm(package, &[], target, Some("--cfg\x1ferase_components"))
}

fn build_wasm(
    package: &str,
    features: &[&str],
    target: PathBuf,
    rustflags: Option<&str>,
) -> Result<PathBuf> {
    let mut cargo = Command::new("cargo");
    cargo
        .args(["build", "--package", package, "--lib", "--release"])
        .args(features.iter().flat_map(|f| ["--features", f]))
        .args(["--target", "wasm32-unknown-unknown", "--target-dir"])
        .arg(&target)
        .current_dir(workspace_root());
    if let Some(flags) = rustflags {
        cargo.env("CARGO_ENCODED_RUSTFLAGS", flags);
    }
    run(&mut cargo)?;
    Ok(target
        .join("wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", package.replace('-', "_"))))
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

/// The main Worker (`till-edge`) into `edge/build/`.
pub fn worker(tools: &Tools) -> Result<()> {
    let root = workspace_root();
    if up_to_date(&root.join("edge/build/index.js"), &["edge", "shared"]) {
        satisfied("Worker build (edge/build is newer than its sources)");
        return Ok(());
    }
    step(
        "Building the Worker (workers-rs, wasm32, opt-level z)",
        || {
            let input = cargo_wasm("till-edge")?;
            bundle(tools, &input, "edge", &root.join("edge/build"), true)
        },
    )
}

/// The link host's Worker (`till-links` with its `worker` feature) into
/// `edge/links/build/`.
pub fn links_worker(tools: &Tools) -> Result<()> {
    let root = workspace_root();
    if up_to_date(
        &root.join("edge/links/build/index.js"),
        &["edge/links", "edge/entry.js", "shared"],
    ) {
        satisfied("Links Worker build (edge/links/build is newer than its sources)");
        return Ok(());
    }
    step(
        "Building the links Worker (workers-rs, wasm32, opt-level z)",
        || {
            let input = build_wasm("till-links", &["worker"], crate::tools::target_dir(), None)?;
            bundle(
                tools,
                &input,
                "links",
                &root.join("edge/links/build"),
                false,
            )
        },
    )
}

/// A Worker's wasm (`input`) made into what its `wrangler.toml` points at, in `out`:
/// wasm-bindgen's `module` output, optimized for speed by wasm-opt, behind `edge/entry.js`
/// bundled by esbuild. With `symbols`, the function names are kept beside the build.
fn bundle(tools: &Tools, input: &Path, name: &str, out: &Path, symbols: bool) -> Result<()> {
    let root = workspace_root();
    // wasm-bindgen's `module` output with the reset function the entry's panic recovery
    // calls, staged outside `edge/` so a running `dev` sees one change.
    let staging = root.join("target").join(format!("{name}-build"));
    let _ = fs::remove_dir_all(&staging);
    run(Command::new(&tools.wasm_bindgen)
        .arg(input)
        .args([
            "--target",
            "module",
            "--no-typescript",
            "--experimental-reset-state-function",
            "--force-enable-abort-handler",
            "--out-name",
            "index",
            "--out-dir",
        ])
        .arg(&staging))?;
    let wasm = staging.join("index_bg.wasm");
    run(Command::new(&tools.wasm_opt)
        .arg("-O")
        .args(WASM_FEATURES)
        .arg("--enable-exception-handling")
        .arg("--debuginfo")
        .arg(&wasm)
        .arg("-o")
        .arg(&wasm))?;
    if symbols {
        // The function names (a tenth of the module) are not shipped: they are kept
        // beside the build in a copy whose function indices are the shipped module's,
        // which turns a trace's `wasm-function[N]` into a Rust name. A panic's log line
        // names its source file and line without them.
        let symbols = root.join("target").join(format!("{name}-symbols"));
        fs::create_dir_all(&symbols).map_err(|e| e.to_string())?;
        fs::copy(&wasm, symbols.join("index_bg.wasm")).map_err(|e| e.to_string())?;
    }
    run(Command::new(&tools.wasm_opt)
        .args(WASM_FEATURES)
        .arg("--enable-exception-handling")
        .arg("--strip-debug")
        .arg(&wasm)
        .arg("-o")
        .arg(&wasm))?;
    // workerd imports a `.wasm` module as a compiled module, without `source`.
    let glue = staging.join("index.js");
    let text = fs::read_to_string(&glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    if !text.contains("import source ") {
        return Err(
            "wasm-bindgen's module output no longer imports its wasm with `import source`".into(),
        );
    }
    fs::write(&glue, text.replace("import source ", "import ")).map_err(|e| e.to_string())?;
    fs::copy(root.join("edge/entry.js"), staging.join("entry.js"))
        .map_err(|e| format!("edge/entry.js: {e}"))?;
    run(Command::new(&tools.esbuild)
        .arg(staging.join("entry.js"))
        .args([
            "--bundle",
            "--format=esm",
            "--minify",
            "--external:./index_bg.wasm",
            "--external:cloudflare:*",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={}", staging.join("bundle.js").display())))?;
    // Each file is renamed into place whole; the bundle last, as it is what `dev` watches
    // and what marks the build fresh.
    fs::create_dir_all(out).map_err(|e| e.to_string())?;
    for leftover in ["worker", "package.json"] {
        let _ = fs::remove_dir_all(out.join(leftover));
        let _ = fs::remove_file(out.join(leftover));
    }
    fs::rename(&wasm, out.join("index_bg.wasm")).map_err(|e| e.to_string())?;
    fs::rename(staging.join("bundle.js"), out.join("index.js")).map_err(|e| e.to_string())
}

/// Whether `output` exists and is newer than every source of the given crates and the
/// workspace manifests. Skipping a fresh build keeps a running `dev` (which watches its
/// bundle) from reloading when a second instance starts.
fn up_to_date(output: &Path, crates: &[&str]) -> bool {
    let Some(built) = modified(output) else {
        return false;
    };
    let root = workspace_root();
    let mut inputs: Vec<PathBuf> = vec![root.join("Cargo.toml"), root.join("Cargo.lock")];
    inputs.extend(crates.iter().map(|c| root.join(c)));
    inputs
        .iter()
        .all(|input| newest(input).is_none_or(|newest| newest <= built))
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time under `path`, skipping build output directories.
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    fs::read_dir(path)
        .ok()?
        .flatten()
        .filter(|entry| {
            !matches!(
                entry.file_name().to_str(),
                Some("build" | "target" | "pkg" | ".wrangler" | "deploy")
            )
        })
        .filter_map(|entry| newest(&entry.path()))
        .max()
}
