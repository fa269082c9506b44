//! What anyone can make the Worker write without an account, and how long what it stores
//! is kept: the public health check writes nothing, a buy button's sessions are throttled
//! per client address, and the cron trigger deletes what is past its retention period.

use libtest_mimic::Failed;
use serde_json::json;

use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "the_public_health_check_writes_nothing_and_the_operator_one_writes",
        the_public_health_check_writes_nothing_and_the_operator_one_writes,
    ),
];

fn the_public_health_check_writes_nothing_and_the_operator_one_writes(
    suite: &Suite,
) -> Result<(), Failed> {
    let stored = || suite.query("SELECT nonce, checked_at FROM health_checks");
    let before = stored()?;
    for bearer in [None, Some("op_not_the_token")] {
        let client = match bearer {
            Some(token) => suite.client.with_bearer(token),
            None => suite.client.clone(),
        };
        let reply = client.get("/healthz").send()?;
        ensure_eq!(reply.status, 200);
        let body = reply.json();
        ensure_eq!(body["status"], json!("ok"));
        ensure_eq!(body["writes"], json!(false));
        ensure_eq!(body["d1"]["ok"], json!(true));
        ensure_eq!(body["kv"]["ok"], json!(true));
        ensure_eq!(stored()?, before);
    }
    // The operator's check writes and reads back, through D1 and KV.
    let operator = suite.client.with_bearer(&suite.operator_token);
    let reply = operator.get("/healthz").send()?;
    ensure_eq!(reply.status, 200);
    ensure_eq!(reply.json()["writes"], json!(true));
    let after = stored()?;
    ensure_eq!(after.len(), 1);
    ensure!(after != before, "the operator's check wrote nothing");
    Ok(())
}
