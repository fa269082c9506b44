//! Assertions that report instead of panicking, and request helpers shared by the checks.

/// Fails the check with a message unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+).into());
        }
    };
}

#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr $(,)?) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!(
                "{} != {}\n  left: {left:?}\n right: {right:?}",
                stringify!($left),
                stringify!($right)
            )
            .into());
        }
    }};
    ($left:expr, $right:expr, $($message:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!(
                "{} != {} ({})\n  left: {left:?}\n right: {right:?}",
                stringify!($left),
                stringify!($right),
                format!($($message)+)
            )
            .into());
        }
    }};
}

use libtest_mimic::Failed;
use serde_json::Value;
use till_tests::http::{Client, Reply};

/// POSTs JSON and expects 200 or 201; answers the body. Each call has an idempotency key
/// of its own, so a request the local runtime shed under load is sent again safely.
pub fn create(client: &Client, path: &str, body: Value) -> Result<Value, Failed> {
    let key = format!("setup-{}", till_shared::ids::random_base62(24));
    let reply = client
        .post(path)
        .header("Idempotency-Key", &key)
        .json(&body)
        .send()?;
    if !(200..300).contains(&reply.status) {
        return Err(format!("POST {path} answered {}: {}", reply.status, reply.body).into());
    }
    Ok(reply.json())
}

/// GETs and expects 200; answers the body.
pub fn fetch(client: &Client, path: &str) -> Result<Value, Failed> {
    let reply = client.get(path).send()?;
    if reply.status != 200 {
        return Err(format!("GET {path} answered {}: {}", reply.status, reply.body).into());
    }
    Ok(reply.json())
}

/// Sends with `method` and a JSON body, expects 200; answers the body.
pub fn change(client: &Client, method: &str, path: &str, body: Value) -> Result<Value, Failed> {
    let reply = client.request(method, path).json(&body).send()?;
    if reply.status != 200 {
        return Err(format!("{method} {path} answered {}: {}", reply.status, reply.body).into());
    }
    Ok(reply.json())
}

/// Checks an error reply: status, stable code, and the field it names.
pub fn refused(reply: &Reply, status: u16, code: &str, param: Option<&str>) -> Result<(), Failed> {
    crate::ensure!(
        reply.status == status,
        "expected {status} {code} {param:?}, got {}: {}",
        reply.status,
        reply.body
    );
    let body = reply.json();
    crate::ensure!(
        body["error"]["code"] == code,
        "expected code {code}, got {}",
        reply.body
    );
    crate::ensure!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "no message in {}",
        reply.body
    );
    if let Some(param) = param {
        crate::ensure!(
            body["error"]["param"] == param,
            "expected param {param}, got {}",
            reply.body
        );
    }
    Ok(())
}

/// A product with a one-time default price, created by `client`.
pub fn product(client: &Client, name: &str, amount: i64, currency: &str) -> Result<Value, Failed> {
    create(
        client,
        "/v1/products",
        serde_json::json!({"name": name, "price": {"amount": amount, "currency": currency}}),
    )
}

/// How many rows a list has in all (page mode answers a total count).
pub fn count(client: &Client, path: &str) -> Result<i64, Failed> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let body = fetch(client, &format!("{path}{separator}page=1&page_size=1"))?;
    body["count"]
        .as_i64()
        .ok_or_else(|| Failed::from(format!("no count in {body}")))
}
