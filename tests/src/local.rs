//! Runs Till's Worker locally: wrangler's local mode in workerd, with D1 and KV on disk in
//! a state directory, and its cron trigger fired through the Worker's real `scheduled`
//! entry. `cargo xtask dev` and the black-box tests both start it from here.

use std::fs::{self, File};
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::Result;
use crate::http::Client;

/// How long a cold workerd may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Till's Worker as `edge/wrangler.toml` names it (`name`).
const TILL_WORKER: &str = "till";
/// The cron trigger of `edge/wrangler.toml` (`[triggers] crons`): every minute.
pub const TILL_CRON: &str = "* * * * *";
/// How often Cloudflare fires [`TILL_CRON`].
pub const CRON_PERIOD: Duration = Duration::from_secs(60);

/// The checkout this crate was built from.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The pinned wrangler from the root `package.json` (started directly, not through `npx`,
/// so that stopping it stops workerd too).
pub fn wrangler_bin() -> PathBuf {
    workspace_root().join("node_modules/.bin/wrangler")
}

/// The Worker bundle that `cargo xtask build` writes and `wrangler.toml` points at.
pub fn worker_bundle() -> PathBuf {
    workspace_root().join("edge/build/index.js")
}

/// Till's own wrangler configuration.
pub fn till_config() -> PathBuf {
    workspace_root().join("edge/wrangler.toml")
}

/// The link host's Worker's wrangler configuration.
pub fn links_config() -> PathBuf {
    workspace_root().join("edge/links/wrangler.toml")
}

/// The bundle of the link host's Worker.
pub fn links_bundle() -> PathBuf {
    workspace_root().join("edge/links/build/index.js")
}

/// What a run of Till's two Workers adds to their committed configurations.
#[derive(Default)]
pub struct Overrides {
    /// Variables of both Workers (wrangler's `--var` reaches only the first Worker of a
    /// multi-Worker run, so they are written into each configuration).
    pub vars: Vec<(String, String)>,
    /// The D1 database's and the KV namespace's ids (a deployment's); the committed
    /// placeholders when `None`.
    pub database_id: Option<String>,
    pub kv_id: Option<String>,
    /// The main Worker's `LINK_BASE_URL`, when set.
    pub link_base_url: Option<String>,
    /// A deployment's name (`staging`): appended to the Workers', the database's and the
    /// service binding's names, so environments never share a resource.
    pub suffix: Option<String>,
    /// Custom domains: the link host's (the links Worker's) and the API's (the main
    /// Worker's); each Worker keeps its workers.dev address too.
    pub link_host: Option<String>,
    pub api_host: Option<String>,
}

/// Till's Workers' configurations, as wrangler reads them for one run: each committed
/// `wrangler.toml` read, its relative paths made absolute, `overrides` applied, written as
/// JSON into `dir`. Answers the links Worker's and the main Worker's, in the order wrangler
/// takes them (the first answers on the run's port and hands the rest on).
pub fn write_configs(dir: &Path, overrides: &Overrides) -> Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (source, name) in [
        (links_config(), "till-links.json"),
        (till_config(), "till.json"),
    ] {
        let mut config = read_config(&source)?;
        absolute_paths(&mut config, source.parent().unwrap_or(Path::new(".")));
        let object = config
            .as_object_mut()
            .ok_or("a wrangler config is a table")?;
        let vars = object
            .entry("vars")
            .or_insert_with(|| serde_json::json!({}));
        for (name, value) in &overrides.vars {
            vars[name] = serde_json::Value::String(value.clone());
        }
        if let Some(base) = &overrides.link_base_url
            && vars.get("LINK_BASE_URL").is_some()
        {
            vars["LINK_BASE_URL"] = serde_json::Value::String(base.clone());
        }
        for (table, key, id) in [
            ("d1_databases", "database_id", &overrides.database_id),
            ("kv_namespaces", "id", &overrides.kv_id),
        ] {
            if let (Some(id), Some(list)) =
                (id, object.get_mut(table).and_then(|t| t.as_array_mut()))
            {
                for binding in list {
                    binding[key] = serde_json::Value::String(id.clone());
                }
            }
        }
        if let Some(suffix) = &overrides.suffix {
            let renamed = |value: &mut serde_json::Value| {
                if let Some(name) = value.as_str() {
                    *value = serde_json::Value::String(format!("{name}-{suffix}"));
                }
            };
            if let Some(name) = object.get_mut("name") {
                renamed(name);
            }
            for (table, key) in [("d1_databases", "database_name"), ("services", "service")] {
                if let Some(list) = object.get_mut(table).and_then(|t| t.as_array_mut()) {
                    for binding in list {
                        if let Some(value) = binding.get_mut(key) {
                            renamed(value);
                        }
                    }
                }
            }
        }
        let host = if name == "till-links.json" {
            &overrides.link_host
        } else {
            &overrides.api_host
        };
        if let Some(host) = host {
            object.insert(
                "routes".into(),
                serde_json::json!([{"pattern": host, "custom_domain": true}]),
            );
            object.insert("workers_dev".into(), serde_json::Value::Bool(true));
        }
        let path = dir.join(name);
        fs::write(&path, serde_json::to_string_pretty(&config)?)?;
        written.push(path);
    }
    Ok((written[0].clone(), written[1].clone()))
}

/// A committed `wrangler.toml` as JSON.
pub fn read_config(path: &Path) -> Result<serde_json::Value> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: toml::Value =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::to_value(value)?)
}

/// The paths a configuration names relative to its own folder (`base`), made absolute.
fn absolute_paths(config: &mut serde_json::Value, base: &Path) {
    let absolute = |value: &mut serde_json::Value| {
        if let Some(relative) = value.as_str() {
            *value = serde_json::Value::String(base.join(relative).display().to_string());
        }
    };
    if let Some(main) = config.get_mut("main") {
        absolute(main);
    }
    if let Some(directory) = config.pointer_mut("/assets/directory") {
        absolute(directory);
    }
    if let Some(list) = config
        .get_mut("d1_databases")
        .and_then(|d| d.as_array_mut())
    {
        for database in list {
            if let Some(dir) = database.get_mut("migrations_dir") {
                absolute(dir);
            }
        }
    }
}

/// A wrangler command for `config` that works offline: no `cf.json` download, no metrics,
/// no prompts, logs kept in the state directory.
pub fn wrangler(config: &Path, state_dir: &Path) -> Command {
    let mut command = Command::new(wrangler_bin());
    command
        .current_dir(workspace_root())
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .env("WRANGLER_LOG_PATH", state_dir.join("logs"))
        .arg("--config")
        .arg(config);
    command
}

/// Applies the migrations of `config` to the local D1 in `state_dir` (idempotent).
pub fn apply_migrations(config: &Path, state_dir: &Path) -> Result<()> {
    fs::create_dir_all(state_dir)?;
    let output = wrangler(config, state_dir)
        .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to"])
        .arg(state_dir)
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "applying D1 migrations failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(())
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Where the Worker's own output goes.
pub enum Output {
    /// To this process's terminal (`cargo xtask dev`).
    Inherit,
    /// To a file (tests), whose tail is shown if the Worker fails to start.
    File(PathBuf),
}

/// Which of Till's Workers answers on the run's port.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// The links Worker, handing everything but short links to the main Worker: Till as
    /// deployed on its link host, and what `cargo xtask dev` runs.
    Links,
    /// The main Worker alone. wrangler's local multi-Worker mode binds rate limiters to the
    /// first Worker only, so the buy button's throttle is tested this way.
    Main,
    /// The links Worker alone, its service binding to nothing: what it answers without the
    /// main Worker. Ready when it answers a short link (with a 404 page).
    LinksAlone,
}

/// A short code no link has: what a links Worker alone is asked to see it is up.
const NO_SUCH_LINK: &str = "/000000000000000";

pub struct WorkerConfig {
    /// The wrangler configuration to run; `None` is Till's own (`edge/wrangler.toml`).
    pub config: Option<PathBuf>,
    /// With Till's own configuration: which Worker is in front.
    pub front: Front,
    pub port: u16,
    pub state_dir: PathBuf,
    /// Worker variables (`--var NAME:VALUE`).
    pub vars: Vec<(String, String)>,
    pub output: Output,
}

/// A running local Worker. Dropping it stops wrangler and workerd.
pub struct LocalWorker {
    pub base_url: String,
    pub state_dir: PathBuf,
    child: Option<Child>,
    log: Option<PathBuf>,
    cron: Option<Cron>,
}

impl LocalWorker {
    /// Applies migrations, starts `wrangler dev` on 127.0.0.1 and waits until `/healthz`
    /// answers 200 (D1 and KV both working).
    pub fn start(config: &WorkerConfig) -> Result<LocalWorker> {
        // Till is its two Workers: the links Worker in front, the main Worker behind it.
        let (wrangler_config, behind) = match &config.config {
            Some(other) => (other.clone(), None),
            None => {
                let bundles = match config.front {
                    Front::Links => vec![worker_bundle(), links_bundle()],
                    Front::Main => vec![worker_bundle()],
                    Front::LinksAlone => vec![links_bundle()],
                };
                if let Some(missing) = bundles.iter().find(|bundle| !bundle.exists()) {
                    return Err(format!(
                        "{} is missing: build the Workers first (`cargo xtask build`)",
                        missing.display()
                    )
                    .into());
                }
                let overrides = Overrides {
                    vars: config.vars.clone(),
                    ..Overrides::default()
                };
                let (links, main) = write_configs(&config.state_dir.join("config"), &overrides)?;
                match config.front {
                    Front::Links => (links, Some(main)),
                    Front::Main => (main, None),
                    Front::LinksAlone => (links, None),
                }
            }
        };
        // The schema is the main Worker's (the links Worker's config names no migrations).
        if config.front != Front::LinksAlone || config.config.is_some() {
            apply_migrations(
                behind.as_ref().unwrap_or(&wrangler_config),
                &config.state_dir,
            )?;
        }
        let inspector_port = free_port()?;
        let mut command = wrangler(&wrangler_config, &config.state_dir);
        if let Some(main) = &behind {
            command.arg("--config").arg(main);
        }
        command
            .args(["dev", "--local", "--ip", "127.0.0.1", "--port"])
            .arg(config.port.to_string())
            .arg("--inspector-port")
            .arg(inspector_port.to_string())
            .arg("--persist-to")
            .arg(&config.state_dir)
            .args([
                "--show-interactive-dev-session=false",
                "--live-reload=false",
            ])
            .stdin(Stdio::null())
            // Its own process group: stopping the group stops workerd with wrangler, and a
            // Ctrl-C in the terminal reaches only the parent, which then stops the group.
            .process_group(0);
        if config.config.is_some() {
            for (name, value) in &config.vars {
                command.arg("--var").arg(format!("{name}:{value}"));
            }
        }
        let log = match &config.output {
            Output::Inherit => None,
            Output::File(path) => {
                let file = File::create(path)?;
                command.stdout(file.try_clone()?).stderr(file);
                Some(path.clone())
            }
        };
        let child = command.spawn()?;
        let mut worker = LocalWorker {
            base_url: format!("http://127.0.0.1:{}", config.port),
            state_dir: config.state_dir.clone(),
            child: Some(child),
            log,
            cron: None,
        };
        // Till answers /healthz with 200 once D1 and KV work; another Worker (the benchmark
        // peer) is ready when it answers at all, and the links Worker alone when it answers
        // a short link.
        let (probe, healthy) = match (&config.config, config.front) {
            (None, Front::LinksAlone) => (NO_SUCH_LINK, false),
            (None, _) => ("/healthz", true),
            (Some(_), _) => ("/healthz", false),
        };
        worker.wait_until_ready(probe, healthy)?;
        Ok(worker)
    }

    fn wait_until_ready(&mut self, probe: &str, healthy: bool) -> Result<()> {
        let client = Client::new(&self.base_url);
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(format!("wrangler exited early ({status}){}", self.log_tail()).into());
            }
            if let Ok(response) = client.get(probe).send()
                && (response.status == 200 || (!healthy && response.status < 500))
            {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                self.stop();
                return Err(format!(
                    "the Worker did not answer {probe} within {}s{}",
                    READY_TIMEOUT.as_secs(),
                    self.log_tail()
                )
                .into());
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    fn log_tail(&self) -> String {
        let Some(path) = &self.log else {
            return String::new();
        };
        let mut text = String::new();
        if let Ok(mut file) = File::open(path) {
            let _ = file.read_to_string(&mut text);
        }
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("\n--- {} ---\n{}", path.display(), tail.join("\n"))
    }

    /// Blocks until wrangler exits on its own.
    pub fn wait(&mut self) -> Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => Ok(Some(child.wait()?)),
            None => Ok(None),
        }
    }

    /// The loopback TCP ports the processes of this Worker's wrangler (its process group:
    /// wrangler, its dev proxy's workerd and the workerd running the Worker) listen on.
    /// Linux only (read from `/proc`); empty elsewhere.
    pub fn listening_ports(&self) -> Vec<u16> {
        self.child
            .as_ref()
            .map_or_else(Vec::new, |child| listening_ports_of(child.id()))
    }

    /// Fires the Worker's scheduled event once, as the platform does for its cron trigger,
    /// and waits for the handler to finish: workerd runs the `scheduled` export of
    /// `edge/entry.js`, which runs the Rust handler (`jobs::run`). Sent through miniflare's
    /// trigger endpoint to the workerd that runs the Worker (see [`Trigger`]).
    pub fn run_scheduled(&self) -> Result<()> {
        self.trigger()?.fire(now_millis())
    }

    /// From now on fires the scheduled event every `period`, at whole multiples of it (every
    /// minute at :00 for [`CRON_PERIOD`], as Cloudflare runs `* * * * *`), until the Worker
    /// stops. A run that outlasts the period delays the next one rather than overlapping
    /// it. Silent while the runs succeed; a failure is printed once, and so is the recovery.
    pub fn run_cron_every(&mut self, period: Duration) -> Result<()> {
        if let Some(cron) = self.cron.take() {
            cron.stop();
        }
        self.cron = Some(Cron::start(self.trigger()?, period));
        Ok(())
    }

    fn trigger(&self) -> Result<Trigger> {
        let group = self.child.as_ref().ok_or("the Worker is stopped")?.id();
        let public_port = self.base_url.rsplit(':').next().unwrap_or_default();
        Ok(Trigger {
            group,
            public_port: public_port.parse().unwrap_or(0),
            runtime: Arc::default(),
        })
    }

    /// Whether wrangler is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// A crash: SIGKILL to wrangler's process group at once (workerd with it), with no
    /// chance to finish anything in flight. The state directory stays as the kill left it.
    pub fn kill(&mut self) {
        let cron = self.cron.take();
        if let Some(cron) = &cron {
            cron.stopping.store(true, Ordering::SeqCst);
        }
        if let Some(mut child) = self.child.take() {
            signal_group(child.id() as i32, libc::SIGKILL);
            let _ = child.wait();
            released(child.id());
        }
        if let Some(cron) = cron {
            cron.stop();
        }
    }

    /// Stops the cron (if running) and wrangler's process group (see [`stop_group`]).
    pub fn stop(&mut self) {
        let cron = self.cron.take();
        if let Some(cron) = &cron {
            cron.stopping.store(true, Ordering::SeqCst);
        }
        if let Some(child) = self.child.take() {
            stop_group(child);
        }
        // A run in flight ended with workerd, so this does not wait long.
        if let Some(cron) = cron {
            cron.stop();
        }
    }
}

/// The loopback TCP ports the processes of process group `group` listen on (see
/// [`LocalWorker::listening_ports`]).
fn listening_ports_of(group: u32) -> Vec<u16> {
    let mut ports: Vec<u16> = listeners_of(group)
        .into_iter()
        .map(|(_, port)| port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The process of this Worker's group that listens on `port` (the workerd that runs the
/// Worker, for a port [`LocalWorker::listening_ports`] names). Linux only.
pub fn process_listening_on(worker: &LocalWorker, port: u16) -> Option<u32> {
    let group = worker.child.as_ref()?.id();
    listeners_of(group)
        .into_iter()
        .find_map(|(pid, listening)| (listening == port).then_some(pid))
}

/// Each process of group `group` with a loopback TCP port it listens on.
fn listeners_of(group: u32) -> Vec<(u32, u16)> {
    let mut sockets = std::collections::HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // `pid (comm) state ppid pgrp …`; comm may hold spaces, so count after `)`.
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|p| p.parse::<u32>().ok());
        if pgrp != Some(group) {
            continue;
        }
        for fd in fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(target) = fs::read_link(fd.path())
                && let Some(inode) = target
                    .to_str()
                    .and_then(|t| t.strip_prefix("socket:["))
                    .and_then(|t| t.strip_suffix(']'))
            {
                sockets.insert(inode.to_owned(), pid);
            }
        }
    }
    let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (address, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            let (host, port) = address.split_once(':')?;
            // 0A is LISTEN; 0100007F is 127.0.0.1.
            let pid = sockets.get(*inode)?;
            (*state == "0A" && host == "0100007F")
                .then(|| u16::from_str_radix(port, 16).ok().map(|port| (*pid, port)))
                .flatten()
        })
        .collect()
}

/// SIGTERM to wrangler's process group, then SIGKILL if it is still there after 10 s.
fn stop_group(mut child: Child) {
    let group = child.id() as i32;
    signal_group(group, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    // workerd may outlive wrangler by a moment; the group signal reaches it either way.
    signal_group(group, libc::SIGKILL);
    let _ = child.wait();
    released(child.id());
}

/// Waits (at most 10 s) until no process of group `group` listens any more: wrangler is
/// reaped at once, but the workerd it started dies a moment later, and a Worker started
/// again on the same port before that finds the port taken.
fn released(group: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !listening_ports_of(group).is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
}

/// The thread that fires the scheduled event on its period (see
/// [`LocalWorker::run_cron_every`]).
struct Cron {
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Cron {
    fn start(trigger: Trigger, period: Duration) -> Cron {
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopping);
        let period = period.as_millis().max(1) as u64;
        let thread = thread::spawn(move || {
            let mut failing = false;
            loop {
                let due = (now_millis() / period + 1) * period;
                while let Some(left) = due.checked_sub(now_millis()).filter(|left| *left > 0) {
                    if flag.load(Ordering::SeqCst) {
                        return;
                    }
                    thread::sleep(Duration::from_millis(left.min(100)));
                }
                let outcome = trigger.fire(due);
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                match outcome {
                    Ok(()) if failing => {
                        eprintln!("cron: the scheduled event runs again");
                        failing = false;
                    }
                    Ok(()) => {}
                    Err(error) if !failing => {
                        eprintln!("cron: {error} (retried every period; this is shown once)");
                        failing = true;
                    }
                    Err(_) => {}
                }
            }
        });
        Cron { stopping, thread }
    }

    fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Fires the scheduled event of one running Worker.
///
/// miniflare's trigger endpoint `/cdn-cgi/handler/scheduled`, asked through wrangler's
/// public port, hands the event to the static-assets proxy in front of the Worker, whose
/// `scheduled` is an unbound method (the wrangler 4.86 that Node 20 allows answers
/// `500 exception`). miniflare sends it to a Worker by name when `MF-Route-Override` names
/// one, but the first miniflare a request meets takes that header, and on the public port
/// that is wrangler's dev proxy, which runs no Worker of that name. So the event goes to
/// the workerd that runs the Worker, on its own loopback port: the one of the group's ports
/// that knows the Worker by name. The Worker's bundle and its `fetch` path stay as they are
/// (wrangler's `--test-scheduled` would wrap every request in a middleware and call the
/// handler from a request instead).
struct Trigger {
    group: u32,
    public_port: u16,
    /// The runtime's own address once found; found again if the runtime restarts.
    runtime: Arc<std::sync::Mutex<Option<String>>>,
}

impl Trigger {
    /// One scheduled event for [`TILL_CRON`] at `scheduled_ms`, waiting for its outcome.
    fn fire(&self, scheduled_ms: u64) -> Result<()> {
        let path = format!(
            "/cdn-cgi/handler/scheduled?cron={}&time={scheduled_ms}",
            TILL_CRON.replace(' ', "+")
        );
        let known = self.runtime.lock().ok().and_then(|url| url.clone());
        let reply = match known.map(|url| to_worker(&url, &path)) {
            Some(Ok(reply)) => reply,
            _ => to_worker(&self.find_runtime()?, &path)?,
        };
        if reply.status != 200 {
            return Err(format!(
                "the scheduled event answered {}: {}",
                reply.status,
                reply.body.trim()
            )
            .into());
        }
        Ok(())
    }

    /// The loopback port whose miniflare runs [`TILL_WORKER`]: asked for a handler that does
    /// not exist, it names the ones that do, and runs nothing.
    fn find_runtime(&self) -> Result<String> {
        let found = listening_ports_of(self.group)
            .into_iter()
            .filter(|port| *port != self.public_port)
            .map(|port| format!("http://127.0.0.1:{port}"))
            .find(|url| {
                to_worker(url, "/cdn-cgi/handler/none").is_ok_and(|reply| {
                    reply.status == 404 && reply.body.contains("not a valid handler")
                })
            })
            .ok_or("no port of the Worker's runtime knows it by name")?;
        if let Ok(mut runtime) = self.runtime.lock() {
            *runtime = Some(found.clone());
        }
        Ok(found)
    }
}

fn to_worker(base_url: &str, path: &str) -> Result<crate::http::Reply> {
    Client::new(base_url)
        .get(path)
        .header("MF-Route-Override", TILL_WORKER)
        .send()
}

impl Drop for LocalWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

#[allow(unsafe_code)]
fn signal_group(group: i32, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; it touches no memory.
    unsafe {
        libc::kill(-group, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduled_event_is_fired_for_the_worker_and_cron_of_the_wrangler_config() {
        let config = fs::read_to_string(till_config()).expect("edge/wrangler.toml");
        let lines: Vec<&str> = config.lines().map(str::trim).collect();
        assert!(
            lines.contains(&format!("name = \"{TILL_WORKER}\"").as_str()),
            "the Worker is not named {TILL_WORKER} in edge/wrangler.toml"
        );
        assert!(
            lines.contains(&format!("crons = [\"{TILL_CRON}\"]").as_str()),
            "edge/wrangler.toml's cron trigger is not `{TILL_CRON}` alone"
        );
        assert_eq!(CRON_PERIOD, Duration::from_secs(60), "{TILL_CRON}");
    }
}
