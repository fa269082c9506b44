//! The pinned tools Till builds and tests with, installed into a cache directory outside
//! the checkout (so a fresh clone reuses them) and checked by exact version and path.
//!
//! Nothing here downloads from outside the package registries: the Rust CLIs come from
//! crates.io, wrangler/binaryen/esbuild/playwright-core/typescript from npm, Chromium from Debian.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use till_tests::local::workspace_root;

use crate::step::{Result, output, run, satisfied, step};

/// Must equal the `wasm-bindgen` crate in Cargo.lock (the CLI and the crate are one pair).
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// Runs the widget's browser tests the way Rust/wasm users do.
pub const WASM_PACK_VERSION: &str = "0.15.1";
/// Checks the dependency tree's licenses and bans against `deny.toml`.
pub const CARGO_DENY_VERSION: &str = "0.20.2";
/// Fuzzes the API from its OpenAPI document (`cargo xtask fuzz`); from PyPI, into a
/// virtualenv in the cache, with every dependency pinned by `xtask/fuzz-requirements.txt`.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";
pub const LOCALSTRIPE_VERSION: &str = "1.15.10";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// What a command needs installed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Building and running (`dev`, `build`).
    Build,
    /// Building, running and every test tier, which adds wasm-pack, Chromium and cargo-deny.
    Everything,
}

/// Paths of the installed tools.
pub struct Tools {
    pub wasm_bindgen: PathBuf,
    /// The directory holding `wasm-bindgen` and `wasm-bindgen-test-runner`, which wasm-pack
    /// finds on PATH (it would otherwise download its own).
    pub wasm_bindgen_dir: PathBuf,
    pub wasm_pack: Option<PathBuf>,
    pub wasm_opt: PathBuf,
    pub esbuild: PathBuf,
    pub chromedriver: Option<PathBuf>,
    pub cargo_deny: Option<PathBuf>,
}

/// `$TILL_CACHE_DIR`, else `$XDG_CACHE_HOME/till`, else `~/.cache/till`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TILL_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("till");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/till")
}

/// Past this, the shared build directory is emptied before a build fills it again: every
/// checkout path adds its own copy of the workspace's crates (about 3.5 GB each), while
/// the dependencies are shared.
const TARGET_DIR_LIMIT_BYTES: u64 = 12 << 30;

/// Where cargo builds for every command of this process and its children: the
/// `CARGO_TARGET_DIR` given, else `target` in the tools cache, shared by every checkout on
/// this machine, so that a fresh clone compiles only the workspace's own crates and not
/// its dependencies again.
///
/// Cargo names a workspace crate's build by its path relative to the workspace, so two
/// checkouts share one build of each of Till's crates and tell them fresh by file times:
/// a checkout edited before another one built would be taken as built. So when the
/// directory was last used by another checkout, Till's own crates are forgotten first
/// ([`forget_workspace_builds`]) and rebuilt; the dependencies stay. Two checkouts running
/// commands at the same time can still see each other's builds: run one at a time.
pub fn share_target_dir() {
    if std::env::var_os("CARGO_TARGET_DIR").is_some_and(|d| !d.is_empty()) {
        return;
    }
    let dir = cache_dir().join("target");
    if size_of_dir(&dir) > TARGET_DIR_LIMIT_BYTES {
        println!(
            "==> Emptying the shared build directory {} (over {} GB)",
            dir.display(),
            TARGET_DIR_LIMIT_BYTES >> 30
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let stamp = dir.join("till-checkout");
    let root = workspace_root();
    let here = root.display().to_string();
    if fs::read_to_string(&stamp).ok().as_deref() != Some(here.as_str()) {
        forget_workspace_builds(&dir, &root);
        let _ = fs::create_dir_all(&dir).and_then(|()| fs::write(&stamp, &here));
    }
    #[allow(unsafe_code)]
    // SAFETY: called first thing in `main`, before any thread exists that could read the
    // environment at the same time.
    unsafe {
        std::env::set_var("CARGO_TARGET_DIR", &dir);
    }
}

/// Removes cargo's fingerprints of the workspace's own crates from build directory `dir`
/// (every profile, host and wasm32), so that the next build compiles them from this
/// checkout's sources.
fn forget_workspace_builds(dir: &Path, root: &Path) {
    let crates = workspace_crates(root);
    let profiles = ["debug", "release"];
    let fingerprints = profiles
        .iter()
        .map(|profile| dir.join(profile))
        .chain(profiles.iter().map(|p| dir.join(WASM_TARGET).join(p)))
        .map(|profile| profile.join(".fingerprint"));
    for fingerprint in fingerprints {
        let Ok(entries) = fs::read_dir(&fingerprint) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if crates.iter().any(|c| {
                name.strip_prefix(c.as_str())
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|hash| hash.bytes().all(|b| b.is_ascii_hexdigit()))
            }) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// The package names of the workspace's members (`[workspace] members` in the root
/// manifest, each member's `[package] name`).
fn workspace_crates(root: &Path) -> Vec<String> {
    let quoted = |line: &str, key: &str| -> Option<String> {
        let rest = line
            .trim()
            .strip_prefix(key)?
            .trim_start()
            .strip_prefix('=')?;
        Some(rest.trim().to_owned())
    };
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let members = manifest
        .lines()
        .find_map(|line| quoted(line, "members"))
        .unwrap_or_default();
    members
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|member| member.trim().trim_matches('"'))
        .filter(|member| !member.is_empty())
        .filter_map(|member| {
            let text = fs::read_to_string(root.join(member).join("Cargo.toml")).ok()?;
            let name = text.lines().find_map(|line| quoted(line, "name"))?;
            Some(name.trim_matches('"').to_owned())
        })
        .collect()
}

/// Cargo's build directory for this process ([`share_target_dir`]).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// Bytes of the files under `dir` (0 when it does not exist).
fn size_of_dir(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(kind) if kind.is_file() => {
                    total += entry.metadata().map_or(0, |m| m.len());
                }
                _ => {}
            }
        }
    }
    total
}

pub fn setup(needs: Needs) -> Result<Tools> {
    let root = workspace_root();
    wasm_target()?;
    check_lockfile_pin(&root)?;
    // No `--locked`: a locked dependency of wasm-bindgen-cli is missing from the mirror.
    let bindgen_root = cargo_tool(
        "wasm-bindgen-cli",
        WASM_BINDGEN_VERSION,
        "wasm-bindgen",
        Resolve::Latest,
    )?;
    npm_packages(&root)?;
    let (wasm_pack, chromedriver, cargo_deny) = match needs {
        Needs::Everything => {
            let wasm_pack =
                cargo_tool("wasm-pack", WASM_PACK_VERSION, "wasm-pack", Resolve::Latest)?;
            let cargo_deny = cargo_tool(
                "cargo-deny",
                CARGO_DENY_VERSION,
                "cargo-deny",
                Resolve::Locked,
            )?;
            // The fuzz tier's and the processor tests'; installed here so that every
            // download happens up front.
            schemathesis()?;
            localstripe()?;
            (
                Some(wasm_pack.join("bin/wasm-pack")),
                Some(chromium()?),
                Some(cargo_deny.join("bin/cargo-deny")),
            )
        }
        Needs::Build => (None, None, None),
    };
    let bin = root.join("node_modules/.bin");
    Ok(Tools {
        wasm_bindgen: bindgen_root.join("bin/wasm-bindgen"),
        wasm_bindgen_dir: bindgen_root.join("bin"),
        wasm_pack,
        wasm_opt: bin.join("wasm-opt"),
        esbuild: bin.join("esbuild"),
        chromedriver,
        cargo_deny,
    })
}

fn wasm_target() -> Result<()> {
    let libdir =
        output(Command::new("rustc").args(["--print", "target-libdir", "--target", WASM_TARGET]))
            .map(|s| PathBuf::from(s.trim()));
    if libdir.is_some_and(|dir| dir.is_dir()) {
        satisfied("Rust target wasm32-unknown-unknown");
        return Ok(());
    }
    step("Installing the Rust target wasm32-unknown-unknown", || {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
    })
}

/// The wasm-bindgen CLI only works with the exact crate version it was built for.
fn check_lockfile_pin(root: &Path) -> Result<()> {
    let lock = fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let locked = lock
        .split("[[package]]")
        .find(|block| block.contains("\nname = \"wasm-bindgen\"\n"))
        .and_then(|block| block.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned());
    match locked {
        Some(version) if version != WASM_BINDGEN_VERSION => Err(format!(
            "Cargo.lock has wasm-bindgen {version} but the tools pin {WASM_BINDGEN_VERSION}; \
             keep `wasm-bindgen = \"={WASM_BINDGEN_VERSION}\"` in Cargo.toml"
        )),
        _ => Ok(()),
    }
}

/// How `cargo install` picks a tool's dependencies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resolve {
    /// The tool's own Cargo.lock (`--locked`): the versions its release was tested with.
    Locked,
    /// The newest versions its manifest allows.
    Latest,
}

/// A crates.io binary at `{cache}/tools/{crate}-{version}`, installed once and checked by
/// asking that exact path for its version (another copy on PATH is never used).
fn cargo_tool(krate: &str, version: &str, bin: &str, resolve: Resolve) -> Result<PathBuf> {
    let install_root = cache_dir().join("tools").join(format!("{krate}-{version}"));
    let binary = install_root.join("bin").join(bin);
    let reports = |path: &Path| {
        output(Command::new(path).arg("--version"))
            .is_some_and(|text| text.split_whitespace().any(|w| w == version))
    };
    if reports(&binary) {
        satisfied(&format!("{krate} {version} ({})", binary.display()));
        return Ok(install_root);
    }
    step(
        &format!(
            "Installing {krate} {version} from crates.io into {} (a few minutes, once per machine)",
            install_root.display()
        ),
        || {
            let mut install = Command::new("cargo");
            install
                .args(["install", krate, "--version", version, "--root"])
                .arg(&install_root)
                .current_dir(cache_dir_created()?);
            if resolve == Resolve::Locked {
                install.arg("--locked");
            }
            run(&mut install)?;
            if reports(&binary) {
                Ok(install_root.clone())
            } else {
                Err(format!(
                    "{} does not report version {version} after installing",
                    binary.display()
                ))
            }
        },
    )
}

/// A Python tool in a virtualenv at `{cache}/tools/{name}-{version}`, installed once
/// (`python3 -m venv`, then pip with its pinned requirements file in `xtask/`) and checked
/// by asking that virtualenv which version of the package it holds.
struct PythonTool {
    name: &'static str,
    version: &'static str,
    requirements: &'static str,
    /// The program in the virtualenv's `bin/`.
    program: &'static str,
}

impl PythonTool {
    fn installed(&self) -> Result<PathBuf> {
        let venv = cache_dir()
            .join("tools")
            .join(format!("{}-{}", self.name, self.version));
        let program = venv.join("bin").join(self.program);
        let holds = || {
            output(Command::new(venv.join("bin/python")).args([
                "-c",
                &format!(
                    "import importlib.metadata as m; print(m.version('{}'))",
                    self.name
                ),
            ]))
            .is_some_and(|text| text.trim() == self.version)
                && program.exists()
        };
        if holds() {
            satisfied(&format!(
                "{} {} ({})",
                self.name,
                self.version,
                program.display()
            ));
            return Ok(program);
        }
        let requirements = workspace_root().join("xtask").join(self.requirements);
        step(
            &format!(
                "Installing {} {} from PyPI into {} (a minute, once per machine)",
                self.name,
                self.version,
                venv.display()
            ),
            || {
                cache_dir_created()?;
                run(Command::new("python3")
                    .args(["-m", "venv", "--clear"])
                    .arg(&venv))?;
                run(Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                    .arg(&requirements))?;
                if holds() {
                    Ok(program.clone())
                } else {
                    Err(format!(
                        "{} does not hold {} {} after installing",
                        venv.display(),
                        self.name,
                        self.version
                    ))
                }
            },
        )
    }
}

/// schemathesis's `st`, for the fuzz tier.
pub fn schemathesis() -> Result<PathBuf> {
    PythonTool {
        name: "schemathesis",
        version: SCHEMATHESIS_VERSION,
        requirements: "fuzz-requirements.txt",
        program: "st",
    }
    .installed()
}

/// localstripe, the fake Stripe of the processor tests (`TILL_LOCALSTRIPE` tells them
/// where it is).
pub fn localstripe() -> Result<PathBuf> {
    PythonTool {
        name: "localstripe",
        version: LOCALSTRIPE_VERSION,
        requirements: "localstripe-requirements.txt",
        program: "localstripe",
    }
    .installed()
}

fn cache_dir_created() -> Result<PathBuf> {
    let dir = cache_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// `npm ci` when `package-lock.json` changed since the last install in this checkout.
fn npm_packages(root: &Path) -> Result<()> {
    let node = output(Command::new("node").arg("--version"))
        .ok_or("Node.js 20 or later is needed (node was not found on PATH)")?;
    let major: u32 = node
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        return Err(format!(
            "Node.js 20 or later is needed; found {}",
            node.trim()
        ));
    }
    let lock =
        fs::read(root.join("package-lock.json")).map_err(|e| format!("package-lock.json: {e}"))?;
    let stamp_path = root.join("node_modules/.till-lock-sha256");
    let wanted = till_shared::keys::hash_key(&String::from_utf8_lossy(&lock));
    let installed = fs::read_to_string(&stamp_path).unwrap_or_default();
    if installed.trim() == wanted && root.join("node_modules/.bin/wrangler").exists() {
        satisfied("npm packages (wrangler, binaryen, esbuild, playwright-core, typescript)");
        return Ok(());
    }
    step("Installing npm packages (npm ci)", || {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(root))?;
        fs::write(&stamp_path, wanted).map_err(|e| e.to_string())
    })
}

/// Debian's chromium and chromium-driver; installed with apt-get when running as root.
fn chromium() -> Result<PathBuf> {
    let find = |name: &str| {
        output(Command::new("sh").args(["-c", &format!("command -v {name}")]))
            .map(|p| PathBuf::from(p.trim()))
            .filter(|p| p.exists())
    };
    if let (Some(_), Some(driver)) = (find("chromium"), find("chromedriver")) {
        satisfied("Chromium and chromedriver");
        return Ok(driver);
    }
    let is_root = output(Command::new("id").arg("-u")).is_some_and(|id| id.trim() == "0");
    let has_apt = find("apt-get").is_some();
    if !(is_root && has_apt) {
        return Err(
            "Chromium and chromedriver are needed for the browser tests. Install them with:\n    \
             sudo apt-get update && sudo apt-get install -y chromium chromium-driver"
                .into(),
        );
    }
    step("Installing Chromium and chromedriver (apt-get)", || {
        run(Command::new("apt-get").args(["update", "-q"]))?;
        run(Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "chromium",
                "chromium-driver",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    })?;
    find("chromedriver").ok_or_else(|| "chromedriver is still missing after apt-get".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_crates_are_read_from_the_manifests() {
        let mut crates = workspace_crates(&workspace_root());
        crates.sort();
        assert_eq!(
            crates,
            [
                "till-dashboard",
                "till-edge",
                "till-links",
                "till-shared",
                "till-tests",
                "till-widget",
                "xtask"
            ]
        );
    }

    #[test]
    fn forgetting_builds_removes_only_the_workspace_crates_fingerprints() {
        let dir = std::env::temp_dir().join(format!("till-forget-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let release = dir.join("wasm32-unknown-unknown/release/.fingerprint");
        let debug = dir.join("debug/.fingerprint");
        let names = [
            (&release, "till-edge-5b3f9ddcaf40d674", false),
            (&release, "serde-0123abcd", true),
            (&debug, "till-shared-ce1e416a6d0d7968", false),
            (&debug, "xtask-00ff", false),
            (&debug, "till-shared-macros-00ff", true),
        ];
        for (parent, name, _) in &names {
            fs::create_dir_all(parent.join(name)).unwrap();
        }
        forget_workspace_builds(&dir, &workspace_root());
        for (parent, name, kept) in &names {
            assert_eq!(parent.join(name).exists(), *kept, "{name}");
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
