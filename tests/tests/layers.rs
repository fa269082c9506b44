//! The Worker's folders are layers (`edge/src/lib.rs` says which): a module may import only
//! from the layers below its own, and an area may use another area's storage, never its
//! handlers, and only the router takes in the runtime's request. This test reads every
//! `crate::…` path in `edge/src` and fails on a path that points up or sideways the wrong
//! way, on a handler used from another area, and on a request type below the router.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, top first. A unit is a folder of `edge/src`, or a file at its top.
const ORDER: &[&str] = &[
    "lib",
    // entry points
    "http",
    "jobs",
    // areas, each above the ones after it
    "sales",
    "checkout",
    "billing",
    "links",
    "catalog",
    "accounts",
    "events",
    // what handlers are given and answer
    "api",
    // services
    "pages",
    "processor",
    "db",
    // the environment and the one error type
    "ctx",
    "error",
];

/// The units whose modules hold route handlers: other units may use their storage
/// functions and types, but only the router calls their handlers.
const AREAS: &[&str] = &[
    "sales", "checkout", "billing", "links", "catalog", "accounts", "events",
];

/// One source file: its unit, its module path below the unit, and its text.
struct Source {
    path: String,
    unit: String,
    module: String,
    text: String,
}

fn rank(unit: &str) -> Option<usize> {
    ORDER.iter().position(|u| *u == unit)
}

/// `crate::a::b::{c, d}` → every `crate::…` path a file names, as segment lists.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = text[at..].find("crate::") {
        let start = at + found;
        at = start + "crate::".len();
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        expand(&text[at..], Vec::new(), &mut paths);
    }
    paths
}

/// Reads the segments after `crate::`, expanding one level of `{…}` groups (nested groups
/// are expanded recursively).
fn expand(rest: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut segments = prefix;
    let mut rest = rest;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !ident.is_empty() {
            segments.push(ident.clone());
            rest = &rest[ident.len()..];
        }
        if let Some(after) = rest.strip_prefix("::") {
            rest = after;
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut end = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                for item in split_top(&group[..end]) {
                    let item = item.trim();
                    if !item.is_empty() {
                        expand(item, segments.clone(), out);
                    }
                }
                return;
            }
            continue;
        }
        out.push(segments);
        return;
    }
}

/// Splits `a, b::{c, d}, e` at the commas outside braces.
fn split_top(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[from..]);
    items
}

fn read_tree(root: &Path) -> Vec<Source> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("edge/src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let relative: PathBuf = path.strip_prefix(root).expect("below root").into();
            let parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            let unit = parts[0].clone();
            let module = parts[1..]
                .iter()
                .filter(|p| *p != "mod")
                .cloned()
                .collect::<Vec<_>>()
                .join("::");
            Source {
                path: relative.to_string_lossy().into_owned(),
                unit,
                module,
                text: std::fs::read_to_string(&path).expect("a readable source file"),
            }
        })
        .collect()
}

/// Route handlers: `pub async fn name(call: &mut Call<'_>) -> ApiResult<Reply>`, by
/// `unit::module`.
fn handlers(sources: &[Source]) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for source in sources.iter().filter(|s| AREAS.contains(&s.unit.as_str())) {
        for line in source.text.lines() {
            let Some(rest) = line.trim().strip_prefix("pub async fn ") else {
                continue;
            };
            let Some((name, signature)) = rest.split_once('(') else {
                continue;
            };
            if signature.starts_with("call: &mut Call<'_>") && signature.contains("Result<Reply>") {
                found
                    .entry(format!("{}::{}", source.unit, source.module))
                    .or_default()
                    .push(name.to_owned());
            }
        }
    }
    found
}

/// The files that build outgoing requests (the webhook sender's POSTs, the Stripe client's
/// calls), the only uses of a request type outside the entry points.
const SENDS_REQUESTS: &[&str] = &["events/delivery.rs", "processor/stripe.rs"];

/// Whether a file takes in the runtime's request: only the entry points may; everything
/// below reads what the router hands it (`Call`, `PageRequest`, `Visitor`).
fn sees_a_request(source: &Source) -> bool {
    if ["lib", "http"].contains(&source.unit.as_str())
        || SENDS_REQUESTS.contains(&source.path.as_str())
    {
        return false;
    }
    source.text.contains("web_sys::Request")
        || source.text.contains("worker::Request")
        || source.text.lines().any(|line| {
            line.trim_start().starts_with("use worker::")
                && line
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|word| word == "Request")
        })
}

/// Every import that breaks the layers, as `file: crate::path (why)`.
fn violations(sources: &[Source]) -> Vec<String> {
    let handlers = handlers(sources);
    let mut wrong = Vec::new();
    for source in sources.iter().filter(|s| sees_a_request(s)) {
        wrong.push(format!(
            "{}: takes in a request; only http/ does (hand it what the router read)",
            source.path
        ));
    }
    for source in sources {
        let Some(own) = rank(&source.unit) else {
            wrong.push(format!(
                "{}: the unit `{}` has no layer in ORDER",
                source.path, source.unit
            ));
            continue;
        };
        for path in crate_paths(&source.text) {
            let Some(target) = path.first() else { continue };
            if target == &source.unit || target == "self" {
                continue;
            }
            let shown = format!("crate::{}", path.join("::"));
            match rank(target) {
                None => wrong.push(format!("{}: {shown} names no unit", source.path)),
                Some(theirs) if theirs <= own => wrong.push(format!(
                    "{}: {shown} points up or sideways ({} is not below {})",
                    source.path, target, source.unit
                )),
                Some(_) => {}
            }
            // A handler of another area, named through its module path.
            if AREAS.contains(&source.unit.as_str()) && path.len() >= 3 {
                let module = format!("{}::{}", path[0], path[1]);
                if handlers
                    .get(&module)
                    .is_some_and(|names| names.contains(&path[2]))
                {
                    wrong.push(format!(
                        "{}: {shown} is another area's route handler; call its use case instead",
                        source.path
                    ));
                }
            }
        }
        // A handler of another area, called through an imported module (`prices::create(`).
        if AREAS.contains(&source.unit.as_str()) {
            for (module, names) in &handlers {
                let (unit, name) = module.split_once("::").expect("unit::module");
                if unit == source.unit || !source.text.contains(&format!("crate::{module}")) {
                    continue;
                }
                let local = name.rsplit("::").next().unwrap_or(name);
                for handler in names {
                    if source.text.contains(&format!("{local}::{handler}(")) {
                        wrong.push(format!(
                            "{}: calls {module}::{handler}, another area's route handler",
                            source.path
                        ));
                    }
                }
            }
        }
    }
    wrong
}

fn edge_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../edge/src")
}

#[test]
fn every_import_in_the_worker_points_down_the_layers() {
    let sources = read_tree(&edge_src());
    assert!(sources.len() > 20, "read the Worker's sources");
    let units: std::collections::BTreeSet<&str> = sources.iter().map(|s| s.unit.as_str()).collect();
    for unit in ORDER {
        assert!(
            units.contains(unit),
            "the layer `{unit}` exists in edge/src"
        );
    }
    let wrong = violations(&sources);
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

fn source(path: &str, text: &str) -> Source {
    let parts: Vec<&str> = path.trim_end_matches(".rs").split('/').collect();
    Source {
        path: path.to_owned(),
        unit: parts[0].to_owned(),
        module: parts[1..]
            .iter()
            .filter(|p| **p != "mod")
            .copied()
            .collect::<Vec<_>>()
            .join("::"),
        text: text.to_owned(),
    }
}

#[test]
fn an_import_up_the_layers_is_caught() {
    let tree = [
        source(
            "db/mod.rs",
            "use crate::ctx::Ctx;\nuse crate::catalog::prices::PriceRow;\n",
        ),
        source("ctx.rs", ""),
        source("catalog/prices.rs", "use crate::db;\n"),
    ];
    let wrong = violations(&tree);
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].contains("db/mod.rs: crate::catalog::prices::PriceRow points up"));
}

#[test]
fn grouped_and_inline_paths_are_read() {
    let tree = [
        source(
            "api/call.rs",
            "use crate::{db::{self, Bind}, error::ApiError};\nfn f() { crate::http::auth::x(); }\n",
        ),
        source("db/mod.rs", ""),
        source("error.rs", ""),
        source("http/auth.rs", ""),
    ];
    let wrong = violations(&tree);
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].contains("crate::http::auth::x points up"));
}

#[test]
fn a_cycle_between_two_areas_is_caught() {
    let tree = [
        source(
            "links/shortlinks.rs",
            "use crate::checkout::sessions::insert;\n",
        ),
        source(
            "checkout/sessions.rs",
            "use crate::links::payment_links::LinkRow;\n",
        ),
    ];
    let wrong = violations(&tree);
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].starts_with("links/shortlinks.rs"));
}

#[test]
fn a_request_below_the_router_is_caught() {
    let tree = [
        source(
            "checkout/page.rs",
            "use worker::{D1Database, Request, Response};\n",
        ),
        source("http/mod.rs", "use worker::{Request, Response};\n"),
        source(
            "events/delivery.rs",
            "use worker::{Fetch, Request, RequestInit};\n",
        ),
    ];
    let wrong = violations(&tree);
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].starts_with("checkout/page.rs: takes in a request"));
}

#[test]
fn another_areas_handler_is_caught() {
    let tree = [
        source(
            "catalog/prices.rs",
            "pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {}\npub async fn load(call: &Call<'_>) {}\n",
        ),
        source(
            "checkout/sessions.rs",
            "use crate::catalog::prices;\nfn f() { prices::load(call); prices::create(call); }\n",
        ),
    ];
    let wrong = violations(&tree);
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].contains("catalog::prices::create"));
}
