//! Limits on what a request may make the Worker hold: bodies are capped while they are read
//! (the API at 64 KiB, shopper pages at 16 KiB, a chunked body cut off at the cap), and
//! fields nest at most five levels, so no visitor of a public page can exhaust the
//! instance every tenant's requests run on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use libtest_mimic::Failed;
use serde_json::{Value, json};

use crate::support::{create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "large_and_chunked_bodies_are_refused_at_the_cap_on_the_api_and_the_page",
        large_and_chunked_bodies_are_refused_at_the_cap_on_the_api_and_the_page,
    ),
    (
        "a_key_nested_past_five_levels_is_refused_naming_its_field",
        a_key_nested_past_five_levels_is_refused_naming_its_field,
    ),
];

const TWO_MB: usize = 2 * 1024 * 1024;

/// How a raw request sends its body.
enum Framing {
    Length,
    Chunked,
}

/// One HTTP/1.1 request written by hand, so a body can be sent chunked (no
/// `Content-Length`) or larger than the server will read; writing stops quietly when the
/// server has answered and closed. Answers the status code and the response text.
fn raw(
    suite: &Suite,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    framing: Framing,
) -> Result<(u16, String), Failed> {
    let address = suite.worker.base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match framing {
        Framing::Length => head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len())),
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    stream.write_all(head.as_bytes())?;
    let sent = match framing {
        Framing::Length => stream.write_all(body),
        Framing::Chunked => body.chunks(16 * 1024).try_for_each(|chunk| {
            stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
            stream.write_all(chunk)?;
            stream.write_all(b"\r\n")
        }),
    };
    if sent.is_ok() {
        let _ = stream.write_all(match framing {
            Framing::Length => b"",
            Framing::Chunked => b"0\r\n\r\n",
        });
    }
    let text = read_answer(&mut stream)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no HTTP answer: {text:?}"))?;
    Ok((status, text))
}

/// The response's head and its `Content-Length` body (the connection may stay open).
fn read_answer(stream: &mut TcpStream) -> Result<String, Failed> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Ok(text);
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return Ok(text),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
}

/// A session a shopper could reach from a public link.
fn open_session(suite: &Suite) -> Result<String, Failed> {
    let merchant = suite.merchant();
    let product = product(&merchant, "Capped", 500, "USD")?;
    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": product["id"]}),
    )?;
    Ok(session["id"].as_str().unwrap_or_default().to_owned())
}

/// The instance answers an ordinary request at once.
fn still_serving(suite: &Suite) -> Result<(), Failed> {
    let health = suite.client.get("/healthz").send()?;
    ensure_eq!(health.status, 200);
    let products = fetch(&suite.merchant(), "/v1/products?limit=1")?;
    ensure_eq!(products["object"], json!("list"));
    Ok(())
}

fn large_and_chunked_bodies_are_refused_at_the_cap_on_the_api_and_the_page(
    suite: &Suite,
) -> Result<(), Failed> {
    let session = open_session(suite)?;
    let bearer = format!("Bearer {}", suite.account.keys.test.secret_key);
    let json_body = format!("{{\"name\":\"{}\"}}", "x".repeat(TWO_MB));
    let form_body = format!("email={}", "x".repeat(TWO_MB));
    for framing in [Framing::Length, Framing::Chunked] {
        let (status, text) = raw(
            suite,
            "/v1/products",
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/json"),
            ],
            json_body.as_bytes(),
            framing,
        )?;
        ensure!(status == 413, "{text}");
        ensure!(text.contains("payload_too_large"), "{text}");
        still_serving(suite)?;
    }
    // Just over the API's cap, chunked, is refused too; just under passes the cap (and is
    // then read as the request it is).
    let over = format!("{{\"name\":\"{}\"}}", "x".repeat(64 * 1024));
    let (status, _) = raw(
        suite,
        "/v1/products",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        over.as_bytes(),
        Framing::Chunked,
    )?;
    ensure_eq!(status, 413);
    for path in [
        format!("/c/{session}"),
        format!("/c/{session}/promotion"),
        format!("/c/{session}/challenge"),
    ] {
        for framing in [Framing::Length, Framing::Chunked] {
            let (status, text) = raw(
                suite,
                &path,
                &[("Content-Type", "application/x-www-form-urlencoded")],
                form_body.as_bytes(),
                framing,
            )?;
            ensure!(status == 413, "{path}: {text}");
            ensure!(text.contains("text/html"), "{text}");
            still_serving(suite)?;
        }
    }
    // A page form of 17 KiB is over the page's cap.
    let (status, _) = raw(
        suite,
        &format!("/c/{session}"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("email={}", "x".repeat(17 * 1024)).as_bytes(),
        Framing::Chunked,
    )?;
    ensure_eq!(status, 413);
    // Nothing of the session changed.
    let shown = fetch(
        &suite.merchant(),
        &format!("/v1/checkout/sessions/{session}"),
    )?;
    ensure_eq!(shown["status"], json!("OPEN"));
    Ok(())
}

fn a_key_nested_past_five_levels_is_refused_naming_its_field(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let session = open_session(suite)?;
    // 60 KB of `[0]`: once a stack overflow that took the instance down.
    let deep = format!("metadata{}=1", "[0]".repeat(20_000));
    let reply = merchant
        .post("/v1/products")
        .body("application/x-www-form-urlencoded", deep.clone())
        .send()?;
    refused(&reply, 400, "invalid_request", Some("metadata"))?;
    still_serving(suite)?;
    // On a page, 60 KB is over the form's cap; a deep key within it is refused as deep.
    let page = |body: String| {
        suite
            .client
            .post(&format!("/c/{session}"))
            .body("application/x-www-form-urlencoded", body)
            .send()
    };
    ensure_eq!(page(deep)?.status, 413);
    let page = page(format!("email{}=1", "[0]".repeat(5_000)))?;
    ensure_eq!(page.status, 400);
    ensure!(page.body.contains("<html"), "{}", page.body);
    still_serving(suite)?;
    // JSON has the same limit: five levels below the field are read, six are refused.
    let mut nested = json!("leaf");
    for _ in 0..6 {
        nested = json!([nested]);
    }
    let reply = merchant
        .post("/v1/products")
        .json(&json!({"name": "Too deep", "metadata": nested}))
        .send()?;
    refused(&reply, 400, "invalid_request", Some("metadata"))?;
    // The deepest field a link has (a dropdown's option label) is still read.
    let link = merchant
        .post("/v1/payment_links")
        .body(
            "application/x-www-form-urlencoded",
            "amount=500&currency=USD&title=Deep&custom_fields[0][key]=size\
             &custom_fields[0][type]=dropdown&custom_fields[0][label]=Size\
             &custom_fields[0][dropdown][options][0][label]=Small\
             &custom_fields[0][dropdown][options][0][value]=s",
        )
        .send()?;
    ensure!(link.status == 201, "{}", link.body);
    let field: &Value = &link.json()["custom_fields"][0];
    ensure_eq!(field["dropdown"]["options"][0]["label"], json!("Small"));
    Ok(())
}
