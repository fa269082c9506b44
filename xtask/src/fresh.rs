//! A local Worker with nothing in it yet, for the commands that drive one of their own
//! (`bench`, `size`).

use std::path::Path;

use till_tests::local::{Front, LocalWorker, Output, WorkerConfig, free_port};

use crate::step::Result;

/// A Worker on a free port with empty state in `state_dir` (log beside it, `{dir}.log`)
/// and a fresh operator token, plus `vars`; answers it and the token.
pub fn fresh_worker(state_dir: &Path, vars: &[(&str, &str)]) -> Result<(LocalWorker, String)> {
    let _ = std::fs::remove_dir_all(state_dir);
    std::fs::create_dir_all(state_dir).map_err(|e| format!("{}: {e}", state_dir.display()))?;
    let operator = format!("op_{}", till_shared::ids::random_base62(32));
    let mut all = vec![("OPERATOR_TOKEN".to_owned(), operator.clone())];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let worker = LocalWorker::start(&WorkerConfig {
        config: None,
        front: Front::Links,
        port: free_port().map_err(|e| e.to_string())?,
        state_dir: state_dir.to_path_buf(),
        vars: all,
        output: Output::File(state_dir.with_extension("log")),
    })
    .map_err(|e| e.to_string())?;
    Ok((worker, operator))
}
