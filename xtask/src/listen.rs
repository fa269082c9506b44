//! `cargo xtask listen --forward-to URL [--state DIR] [--events a,b]`: webhooks of the local
//! instance (the one `cargo xtask dev` runs) delivered to an app on this machine, the way
//! `stripe listen` works. A relay on 127.0.0.1 receives each delivery, forwards it unchanged
//! (raw body and `Till-*` headers) to the app, prints the event and the app's status, and
//! answers Till with that status, so failures are retried as they would be in production.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use till_tests::http::Client;
use till_tests::local::workspace_root;
use till_tests::receiver::read_request;

use crate::step::Result;

/// Endpoints made by this command carry this description, so a later run reuses them.
const DESCRIPTION: &str = "cargo xtask listen";

#[derive(Debug)]
struct Options {
    forward_to: String,
    state_dir: PathBuf,
    events: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        forward_to: String::new(),
        state_dir: workspace_root().join(".till"),
        events: vec!["*".to_owned()],
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--forward-to" => options.forward_to = value()?,
            "--state" => options.state_dir = PathBuf::from(value()?),
            "--events" => {
                options.events = value()?.split(',').map(|e| e.trim().to_owned()).collect()
            }
            other => return Err(format!("unknown option `{other}` for listen")),
        }
    }
    if !(options.forward_to.starts_with("http://") || options.forward_to.starts_with("https://")) {
        return Err("listen needs --forward-to http://localhost:PORT/your/webhook/path".into());
    }
    Ok(options)
}

pub fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    let dev: Value = std::fs::read_to_string(options.state_dir.join("dev.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| {
            format!(
                "no running instance: start `cargo xtask dev` first ({} has no dev.json)",
                options.state_dir.display()
            )
        })?;
    let base = dev["base_url"].as_str().unwrap_or_default().to_owned();
    let merchant = Client::new(&base).with_bearer(dev["secret_key"].as_str().unwrap_or_default());

    let relay = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| e.to_string())?;
    let relay_url = format!(
        "http://127.0.0.1:{}/",
        relay.local_addr().map_err(|e| e.to_string())?.port()
    );
    let (endpoint_id, secret) = endpoint(&merchant, &relay_url, &options.events)?;
    println!("Forwarding webhooks of {base} to {}", options.forward_to);
    println!("Signing secret for your app: {secret}   (endpoint {endpoint_id})");
    println!("Press Ctrl-C to stop.\n");

    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())?;
    relay.set_nonblocking(true).map_err(|e| e.to_string())?;
    let app = Client::new("");
    while !stop.load(Ordering::SeqCst) {
        let Ok((stream, _)) = relay.accept() else {
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let Ok((headers, body)) = read_request(&stream) else {
            continue;
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut forward = app.request("POST", &options.forward_to);
        for name in [
            "Till-Signature",
            "Till-Event-Id",
            "Till-Event-Type",
            "User-Agent",
        ] {
            if let Some(value) = header(name) {
                forward = forward.header(name, &value);
            }
        }
        let status = match forward.body("application/json", body).send() {
            Ok(reply) => reply.status,
            Err(_) => 502,
        };
        println!(
            "{}  {:<28} {}  -> {status}",
            header("Till-Event-Id").unwrap_or_default(),
            header("Till-Event-Type").unwrap_or_default(),
            if (200..300).contains(&status) {
                "delivered"
            } else {
                "failed (Till will retry)"
            },
        );
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status} Relayed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
    // A stopped relay would only collect failed attempts: switch the endpoint off.
    let _ = merchant
        .request("PATCH", &format!("/v1/webhook_endpoints/{endpoint_id}"))
        .json(&json!({"status": "disabled"}))
        .send();
    println!("\nStopped; endpoint {endpoint_id} disabled.");
    Ok(())
}

/// This command's endpoint, pointed at the relay with a fresh secret: reused if an earlier
/// run made one, created otherwise.
fn endpoint(merchant: &Client, relay_url: &str, events: &[String]) -> Result<(String, String)> {
    let text = |e: till_tests::Result<till_tests::http::Reply>| e.map_err(|e| e.to_string());
    let listed = text(merchant.get("/v1/webhook_endpoints?limit=100").send())?.json();
    let existing = listed["data"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["description"] == DESCRIPTION))
        .and_then(|e| e["id"].as_str().map(str::to_owned));
    let reply = match existing {
        Some(id) => {
            let update = json!({"url": relay_url, "enabled_events": events, "status": "enabled"});
            let updated = text(merchant.request("PATCH", &format!("/v1/webhook_endpoints/{id}")).json(&update).send())?;
            if updated.status != 200 {
                return Err(format!("updating the endpoint answered {}: {}", updated.status, updated.body));
            }
            text(merchant.post(&format!("/v1/webhook_endpoints/{id}/roll_secret")).send())?
        }
        None => text(
            merchant
                .post("/v1/webhook_endpoints")
                .json(&json!({"url": relay_url, "enabled_events": events, "description": DESCRIPTION}))
                .send(),
        )?,
    };
    if !(200..300).contains(&reply.status) {
        return Err(format!(
            "setting up the endpoint answered {}: {}",
            reply.status, reply.body
        ));
    }
    let body = reply.json();
    Ok((
        body["id"].as_str().unwrap_or_default().to_owned(),
        body["secret"].as_str().unwrap_or_default().to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn listen_needs_a_url_to_forward_to() {
        assert!(parse(&[]).unwrap_err().contains("--forward-to"));
        assert!(parse(&args(&["--forward-to", "localhost:3000"])).is_err());
        let options = parse(&args(&[
            "--forward-to",
            "http://localhost:3000/hooks",
            "--events",
            "checkout.completed, payment.failed",
        ]))
        .unwrap();
        assert_eq!(options.forward_to, "http://localhost:3000/hooks");
        assert_eq!(options.events, vec!["checkout.completed", "payment.failed"]);
    }
}
