//! `cargo xtask deploy [--env NAME] [--dry-run]`: Till onto Cloudflare in one command.
//!
//! Builds; creates the D1 database and the KV namespace when they do not exist yet (read
//! back from wrangler's JSON output) and keeps their ids in `edge/deploy/NAME/`, which is
//! git-ignored, with the configurations written from the committed `wrangler.toml` files;
//! applies the D1 migrations remotely; deploys the main Worker, then the links Worker
//! (whose service binding names it), each with the secrets it lacks (generated when no
//! Worker has them yet, printed once); and prints the URLs. Every step reads what exists
//! first, so running it again changes only what changed.
//!
//! `--dry-run` does all that needs no Cloudflare account: the builds, the configurations,
//! `wrangler deploy --dry-run --outdir` for each Worker, and the check that every binding
//! the code uses is declared. `cargo xtask test` runs it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use till_tests::local::{Overrides, workspace_root, wrangler, write_configs};

use crate::step::{self, Result, step};
use crate::{build, tools};

/// The secrets Till's Workers read, and which Workers read each.
const SECRETS: &[(&str, &[Worker])] = &[
    ("OPERATOR_TOKEN", &[Worker::Main, Worker::Links]),
    ("PROCESSOR_SECRETS_KEY", &[Worker::Main]),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Worker {
    Main,
    Links,
}

/// What one deployment keeps between runs (`edge/deploy/NAME/state.json`).
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct State {
    database_id: Option<String>,
    kv_id: Option<String>,
    main_url: Option<String>,
    links_url: Option<String>,
}

struct Options {
    env: String,
    dry_run: bool,
    link_host: Option<String>,
    api_host: Option<String>,
}

fn options(args: &[String]) -> Result<Options> {
    let mut options = Options {
        env: "production".into(),
        dry_run: false,
        link_host: std::env::var("TILL_LINK_HOST")
            .ok()
            .filter(|h| !h.is_empty()),
        api_host: std::env::var("TILL_API_HOST")
            .ok()
            .filter(|h| !h.is_empty()),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dry-run" => options.dry_run = true,
            "--env" => options.env = args.next().ok_or("--env needs a name")?.clone(),
            "--link-host" => {
                options.link_host = Some(args.next().ok_or("--link-host needs a host")?.clone())
            }
            "--api-host" => {
                options.api_host = Some(args.next().ok_or("--api-host needs a host")?.clone())
            }
            other => return Err(format!("deploy: unknown argument `{other}`")),
        }
    }
    let valid = |name: &str| {
        !name.is_empty()
            && name.len() <= 20
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !valid(&options.env) {
        return Err(format!(
            "--env `{}`: lowercase letters, digits and `-`, at most 20",
            options.env
        ));
    }
    for host in [&options.link_host, &options.api_host]
        .into_iter()
        .flatten()
    {
        if host.contains(['/', ':', ' ']) || !host.contains('.') {
            return Err(format!(
                "`{host}` is not a host name (say `links.example.com`)"
            ));
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> Result<()> {
    let options = options(args)?;
    let tools = tools::setup(tools::Needs::Build)?;
    build::all(&tools)?;
    let dir = workspace_root().join("edge/deploy").join(&options.env);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let state_path = dir.join("state.json");
    let mut state: State = fs::read_to_string(&state_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let suffix = (options.env != "production").then(|| options.env.clone());
    let names = Names::new(suffix.as_deref());

    if !options.dry_run {
        let probe = till_tests::local::till_config();
        let whoami = step::output(wrangler(&probe, &dir).arg("whoami"));
        if !whoami
            .as_deref()
            .is_some_and(|w| w.contains("associated with the email") || w.contains("Account ID"))
        {
            return Err("wrangler is not signed in: run `node_modules/.bin/wrangler login`, or set CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID)".into());
        }
        state.database_id = Some(database(&dir, &names.database)?);
        state.kv_id = Some(namespace(&dir, &names.cache)?);
        save(&state_path, &state)?;
    }
    let link_base = options
        .link_host
        .as_ref()
        .map(|host| format!("https://{host}"))
        .or_else(|| state.links_url.clone());
    let overrides = Overrides {
        database_id: state.database_id.clone(),
        kv_id: state.kv_id.clone(),
        link_base_url: link_base.clone(),
        suffix,
        link_host: options.link_host.clone(),
        api_host: options.api_host.clone(),
        ..Overrides::default()
    };
    let (links, main) =
        write_configs(&dir.join("config"), &overrides).map_err(|e| e.to_string())?;
    check_bindings(&main, &links)?;

    if options.dry_run {
        for (worker, config) in [(Worker::Main, &main), (Worker::Links, &links)] {
            let out = dir
                .join("dry-run")
                .join(format!("{worker:?}").to_lowercase());
            let _ = fs::remove_dir_all(&out);
            step(
                &format!("wrangler deploy --dry-run ({worker:?} Worker)"),
                || {
                    step::run(
                        wrangler(config, &dir)
                            .args(["deploy", "--dry-run", "--outdir"])
                            .arg(&out)
                            .stdin(Stdio::null()),
                    )
                },
            )?;
            let bundle = out.join("index.js");
            let wasm = fs::read_dir(&out)
                .map_err(|e| format!("{}: {e}", out.display()))?
                .flatten()
                .any(|entry| entry.file_name().to_string_lossy().ends_with(".wasm"));
            if !bundle.exists() || !wasm {
                return Err(format!(
                    "the dry run of the {worker:?} Worker wrote no bundle with its wasm into {}",
                    out.display()
                ));
            }
        }
        println!(
            "\nDry run passed: both Workers bundle, and every binding their code uses is declared.\n  configurations: {}\n  bundles:        {}",
            dir.join("config").display(),
            dir.join("dry-run").display()
        );
        return Ok(());
    }

    step("Applying D1 migrations (remote)", || {
        step::run(
            wrangler(&main, &dir)
                .args(["d1", "migrations", "apply", "DB", "--remote"])
                .stdin(Stdio::null()),
        )
    })?;
    let secrets = secrets(&dir, &main, &links)?;
    let main_url = deploy(&dir, &main, secrets.get(Worker::Main))?;
    let links_url = deploy(&dir, &links, secrets.get(Worker::Links))?;
    state.main_url = main_url.clone();
    state.links_url = links_url.clone();
    save(&state_path, &state)?;
    // The first deployment learns the links Worker's address only now: the main Worker
    // writes it into the links it makes, so it is deployed again with it (once).
    if options.link_host.is_none() && links_url.is_some() && link_base != links_url {
        let overrides = Overrides {
            link_base_url: links_url.clone(),
            ..overrides
        };
        let (_, main) =
            write_configs(&dir.join("config"), &overrides).map_err(|e| e.to_string())?;
        deploy(&dir, &main, None)?;
    }
    println!("\nTill is deployed ({}):", options.env);
    let shown = |url: &Option<String>, host: &Option<String>| {
        host.as_ref()
            .map(|h| format!("https://{h}"))
            .or_else(|| url.clone())
            .unwrap_or_else(|| "(see wrangler's output above)".into())
    };
    println!(
        "  API, checkout, dashboard  {}",
        shown(&main_url, &options.api_host)
    );
    println!(
        "  payment links             {}",
        shown(&links_url, &options.link_host)
    );
    println!("  state (ids, URLs)         {}", state_path.display());
    Ok(())
}

/// The names of one deployment's resources.
struct Names {
    database: String,
    cache: String,
}

impl Names {
    fn new(suffix: Option<&str>) -> Names {
        let with = |name: &str| match suffix {
            Some(suffix) => format!("{name}-{suffix}"),
            None => name.to_owned(),
        };
        Names {
            database: with("till"),
            cache: with("till-cache"),
        }
    }
}

fn save(path: &Path, state: &State) -> Result<()> {
    let text = serde_json::to_string_pretty(state).map_err(|e| e.to_string())?;
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// wrangler's answer to `args`, as JSON.
fn json_of(dir: &Path, args: &[&str]) -> Result<Value> {
    let config = till_tests::local::till_config();
    let output = wrangler(&config, dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("wrangler: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrangler {} failed:\n{text}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // wrangler may print a banner before the JSON.
    let start = text
        .find(['[', '{'])
        .ok_or_else(|| format!("wrangler {} printed no JSON:\n{text}", args.join(" ")))?;
    serde_json::from_str(&text[start..]).map_err(|e| format!("wrangler {}: {e}", args.join(" ")))
}

/// The id of the D1 database `name`, created first when there is none.
fn database(dir: &Path, name: &str) -> Result<String> {
    find_or_create(
        dir,
        &format!("D1 database {name}"),
        (&["d1", "list", "--json"], "name", "uuid"),
        &["d1", "create", name],
        name,
    )
}

/// The id of the KV namespace titled `title`, created first when there is none.
fn namespace(dir: &Path, title: &str) -> Result<String> {
    find_or_create(
        dir,
        &format!("KV namespace {title}"),
        (&["kv", "namespace", "list"], "title", "id"),
        &["kv", "namespace", "create", title],
        title,
    )
}

/// The id of the resource whose `key` is `name` in the JSON list wrangler prints for
/// `list.0`, read from its field `list.2`; made with `create` first when none is listed.
fn find_or_create(
    dir: &Path,
    what: &str,
    list: (&[&str], &str, &str),
    create: &[&str],
    name: &str,
) -> Result<String> {
    let (list_args, key, id_field) = list;
    let find = || -> Result<Option<String>> {
        let listed = json_of(dir, list_args)?;
        Ok(listed.as_array().into_iter().flatten().find_map(|item| {
            (item[key] == json!(name))
                .then(|| item[id_field].as_str().map(str::to_owned))
                .flatten()
        }))
    };
    if let Some(id) = find()? {
        step::satisfied(&format!("{what} ({id})"));
        return Ok(id);
    }
    step(&format!("Creating the {what}"), || {
        step::run(
            wrangler(&till_tests::local::till_config(), dir)
                .args(create)
                .stdin(Stdio::null()),
        )
    })?;
    find()?.ok_or_else(|| format!("the {what} was created but is not listed"))
}

/// The secrets each Worker lacks, with their values: given in this process's environment
/// (`OPERATOR_TOKEN=… cargo xtask deploy`), else generated when no Worker has the secret
/// yet (printed once: keep them where you keep secrets).
struct Missing(Vec<(Worker, String, String)>);

impl Missing {
    /// A `--secrets-file` for `worker`'s deployment, if it lacks any.
    fn get(&self, worker: Worker) -> Option<Value> {
        let own: serde_json::Map<String, Value> = self
            .0
            .iter()
            .filter(|(w, _, _)| *w == worker)
            .map(|(_, name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        (!own.is_empty()).then_some(Value::Object(own))
    }
}

fn secrets(dir: &Path, main: &Path, links: &Path) -> Result<Missing> {
    let existing = |config: &Path| -> BTreeSet<String> {
        // A Worker not deployed yet has none (wrangler answers an error).
        let output = wrangler(config, dir)
            .args(["secret", "list", "--format", "json"])
            .stdin(Stdio::null())
            .output();
        let text = output
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let list: Value = text
            .find('[')
            .and_then(|start| serde_json::from_str(&text[start..]).ok())
            .unwrap_or(Value::Null);
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str().map(str::to_owned))
            .collect()
    };
    let have = [
        (Worker::Main, existing(main)),
        (Worker::Links, existing(links)),
    ];
    let has = |worker: Worker, name: &str| {
        have.iter()
            .any(|(w, set)| *w == worker && set.contains(name))
    };
    let mut missing = Vec::new();
    for (name, readers) in SECRETS {
        let lacking: Vec<Worker> = readers.iter().copied().filter(|w| !has(*w, name)).collect();
        if lacking.is_empty() {
            step::satisfied(&format!("secret {name}"));
            continue;
        }
        let given = std::env::var(name).ok().filter(|v| !v.is_empty());
        let value = match given {
            Some(value) => value,
            None if lacking.len() == readers.len() => {
                let value = generate(name);
                println!(
                    "\n  New secret {name} (shown once; keep it where you keep secrets):\n    {value}\n"
                );
                value
            }
            None => {
                // Secrets cannot be read back: the one the other Worker has must be given.
                println!(
                    "warning: {lacking:?} lacks {name}, which another Worker has; run again with {name}=… set to copy it (until then its short links are answered by the main Worker)"
                );
                continue;
            }
        };
        missing.extend(
            lacking
                .into_iter()
                .map(|w| (w, name.to_string(), value.clone())),
        );
    }
    Ok(Missing(missing))
}

/// A new secret: the operator token as `op_` and 43 Base62 characters (256 bits); the
/// sealing key as `dev` makes one (64 hex digits).
fn generate(name: &str) -> String {
    match name {
        "OPERATOR_TOKEN" => format!("op_{}", till_shared::ids::random_base62(43)),
        _ => till_shared::sealed::generate_key(),
    }
}

/// `wrangler deploy` of `config` (with `secrets` uploaded alongside); answers the
/// workers.dev URL wrangler printed.
fn deploy(dir: &Path, config: &Path, secrets: Option<Value>) -> Result<Option<String>> {
    let name = read_name(config)?;
    step(&format!("Deploying {name}"), || {
        let mut command = wrangler(config, dir);
        command.arg("deploy").stdin(Stdio::null());
        let secrets_file = dir.join("secrets.json");
        if let Some(secrets) = &secrets {
            write_private(&secrets_file, &secrets.to_string())?;
            command.arg("--secrets-file").arg(&secrets_file);
        }
        let output = command.output().map_err(|e| format!("wrangler: {e}"));
        let _ = fs::remove_file(&secrets_file);
        let output = output?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        print!("{text}");
        if !output.status.success() {
            return Err(format!(
                "wrangler deploy failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(text
            .split_whitespace()
            .find(|word| word.starts_with("https://") && word.contains(".workers.dev"))
            .map(str::to_owned))
    })
}

/// A file only this user may read (the secrets, for the moment of one deploy).
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // A file left by an interrupted run is made anew, so its mode is this one.
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

fn read_name(config: &Path) -> Result<String> {
    let text = fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    value["name"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} has no name", config.display()))
}

/// The bindings a Worker's code asks the environment for (`env.d1("DB")`, `env.kv(…)`,
/// `env.service(…)`, `env.rate_limiter(…)`, `env.assets(…)`), by kind and name, read from
/// its sources; names given as constants (`crate::DB`, `MAIN`) are looked up in them.
pub fn bindings_used(sources: &[PathBuf]) -> Result<BTreeSet<(String, String)>> {
    let mut texts = Vec::new();
    for dir in sources {
        collect(dir, &mut texts)?;
    }
    let all = texts.join("\n");
    let constant = |name: &str| -> Option<String> {
        let pattern = format!("const {name}: &str = \"");
        let at = all.find(&pattern)?;
        let rest = &all[at + pattern.len()..];
        rest.split('"').next().map(str::to_owned)
    };
    let mut used = BTreeSet::new();
    for kind in ["d1", "kv", "service", "rate_limiter", "assets"] {
        let call = format!(".{kind}(");
        let mut rest = all.as_str();
        while let Some(at) = rest.find(&call) {
            rest = &rest[at + call.len()..];
            let argument = rest.split(')').next().unwrap_or_default().trim();
            let name = match argument.strip_prefix('"') {
                Some(literal) => Some(literal.trim_end_matches('"').to_owned()),
                None => constant(argument.rsplit("::").next().unwrap_or(argument)),
            };
            let name = name.ok_or_else(|| {
                format!("`{call}{argument})`: cannot tell which binding it names")
            })?;
            used.insert((kind.to_owned(), name));
        }
    }
    Ok(used)
}

fn collect(dir: &Path, texts: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, texts)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            texts.push(fs::read_to_string(&path).map_err(|e| e.to_string())?);
        }
    }
    Ok(())
}

/// The bindings a configuration declares, by the kind [`bindings_used`] names them.
fn bindings_declared(config: &Value) -> BTreeSet<(String, String)> {
    let mut declared = BTreeSet::new();
    for (table, key, kind) in [
        ("d1_databases", "binding", "d1"),
        ("kv_namespaces", "binding", "kv"),
        ("services", "binding", "service"),
        ("ratelimits", "name", "rate_limiter"),
    ] {
        for binding in config[table].as_array().into_iter().flatten() {
            if let Some(name) = binding[key].as_str() {
                declared.insert((kind.to_owned(), name.to_owned()));
            }
        }
    }
    if let Some(name) = config.pointer("/assets/binding").and_then(Value::as_str) {
        declared.insert(("assets".to_owned(), name.to_owned()));
    }
    declared
}

/// Every binding each Worker's code uses is declared in its configuration.
fn check_bindings(main: &Path, links: &Path) -> Result<()> {
    let root = workspace_root();
    let read = |path: &Path| -> Result<Value> {
        let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    };
    // The main Worker links the links crate too.
    for (config, sources) in [
        (
            main,
            vec![root.join("edge/src"), root.join("edge/links/src")],
        ),
        (links, vec![root.join("edge/links/src")]),
    ] {
        let used = bindings_used(&sources)?;
        let declared = bindings_declared(&read(config)?);
        // A Worker linking the links crate as a library does not run its entry: the
        // service binding is the links Worker's own.
        let missing: Vec<String> = used
            .difference(&declared)
            .filter(|(kind, _)| !(config == main && kind == "service"))
            .map(|(kind, name)| format!("{kind} `{name}`"))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{} does not declare what its code uses: {}",
                config.display(),
                missing.join(", ")
            ));
        }
        step::satisfied(&format!(
            "{}: all {} bindings its code uses are declared",
            read_name(config)?,
            used.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bindings_the_code_uses_are_read_from_its_sources() {
        let root = workspace_root();
        let links = bindings_used(&[root.join("edge/links/src")]).unwrap();
        let pair = |kind: &str, name: &str| (kind.to_owned(), name.to_owned());
        assert!(links.contains(&pair("d1", "DB")), "{links:?}");
        assert!(links.contains(&pair("kv", "CACHE")), "{links:?}");
        assert!(links.contains(&pair("service", "TILL")), "{links:?}");
        let main = bindings_used(&[root.join("edge/src")]).unwrap();
        assert!(
            main.contains(&pair("rate_limiter", "CHECKOUT_THROTTLE")),
            "{main:?}"
        );
        assert!(main.contains(&pair("assets", "ASSETS")), "{main:?}");
    }

    #[test]
    fn a_configuration_declares_its_bindings_by_kind() {
        let config = json!({
            "d1_databases": [{"binding": "DB"}],
            "kv_namespaces": [{"binding": "CACHE"}],
            "ratelimits": [{"name": "CHECKOUT_THROTTLE"}],
            "assets": {"binding": "ASSETS"},
        });
        let declared = bindings_declared(&config);
        assert_eq!(declared.len(), 4);
        assert!(!declared.contains(&("service".to_owned(), "TILL".to_owned())));
    }

    #[test]
    fn deployment_names_are_checked() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(options(&args(&["--env", "staging", "--dry-run"])).is_ok());
        assert!(options(&args(&["--env", "Prod!"])).is_err());
        assert!(options(&args(&["--link-host", "https://x.example"])).is_err());
        assert_eq!(Names::new(Some("staging")).database, "till-staging");
        assert_eq!(Names::new(None).cache, "till-cache");
    }
}
