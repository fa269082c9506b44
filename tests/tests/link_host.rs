//! The links Worker alone, with nothing behind its service binding: what it answers
//! without the main Worker is what the link host serves from isolate memory, KV and D1.
//! The links are made through Till as it runs locally (the links Worker in front of the
//! main Worker), which is then stopped; the links Worker alone starts on the same D1 and KV.

use serde_json::json;
use till_tests::accounts::create_account;
use till_tests::http::Client;
use till_tests::local::{Front, LocalWorker, Output, WorkerConfig, free_port, workspace_root};

fn start(
    front: Front,
    state_dir: &std::path::Path,
    operator: &str,
    log: &str,
) -> till_tests::Result<LocalWorker> {
    LocalWorker::start(&WorkerConfig {
        config: None,
        front,
        port: free_port()?,
        state_dir: state_dir.to_path_buf(),
        vars: vec![("OPERATOR_TOKEN".into(), operator.to_owned())],
        output: Output::File(state_dir.join(log)),
    })
}

#[test]
fn the_links_worker_answers_short_links_without_the_main_worker() -> till_tests::Result<()> {
    let state_dir = workspace_root()
        .join("target/test-state")
        .join(format!("link-host-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    std::fs::create_dir_all(&state_dir)?;
    let operator = format!("op_{}", till_shared::ids::random_base62(32));

    let till = start(Front::Links, &state_dir, &operator, "till.log")?;
    let account = create_account(&till.base_url, &operator, "Link host shop")?;
    let merchant = Client::new(&till.base_url).with_bearer(&account.keys.test.secret_key);
    let link = |title: &str| -> till_tests::Result<serde_json::Value> {
        let reply = merchant
            .post("/v1/payment_links")
            .json(&json!({"amount": 7440, "currency": "THB", "title": title, "multiple": true}))
            .send()?;
        assert_eq!(reply.status, 201, "{}", reply.body);
        Ok(reply.json())
    };
    let visited = link("Hot Latte")?;
    let unvisited = link("Iced Latte")?;
    let retired = link("Mocha")?;
    let code = |link: &serde_json::Value| link["url_id"].as_str().unwrap_or_default().to_owned();
    // One visit through Till: its snapshot is in KV now.
    let first = Client::new(&till.base_url)
        .get(&format!("/{}", code(&visited)))
        .send()?;
    assert_eq!(first.status, 302, "{}", first.body);
    // Deactivated: the API writes its snapshot again, as inactive.
    let off = merchant
        .request(
            "PATCH",
            &format!(
                "/v1/payment_links/{}",
                retired["id"].as_str().unwrap_or_default()
            ),
        )
        .json(&json!({"active": false}))
        .send()?;
    assert_eq!(off.status, 200, "{}", off.body);
    drop(till);

    let links = start(Front::LinksAlone, &state_dir, &operator, "links.log")?;
    let shopper = Client::new(&links.base_url);
    // From KV (cached by the visit) and from D1 (never visited): a redirect with a ticket.
    for link in [&visited, &unvisited] {
        let visit = shopper
            .get(&format!("/{}?utm_source=line&theme=dark", code(link)))
            .send()?;
        assert_eq!(visit.status, 302, "{}", visit.body);
        let location = visit.header("location").unwrap_or_default();
        let expected = format!("{}/c/cs_", links.base_url);
        assert!(location.starts_with(&expected), "{location}");
        assert!(
            location.contains("?t=") && location.ends_with("&theme=dark"),
            "{location}"
        );
        assert_eq!(visit.header("cache-control"), Some("no-store"));
        assert_eq!(visit.header("referrer-policy"), Some("no-referrer"));
    }
    // A crawler gets the preview with the link's Open Graph tags; HEAD gets its headers.
    let preview = shopper
        .get(&format!("/{}", code(&visited)))
        .header("User-Agent", "facebookexternalhit/1.1")
        .send()?;
    assert_eq!(preview.status, 200);
    assert!(
        preview
            .body
            .contains("<meta property=\"og:title\" content=\"Hot Latte\">"),
        "{}",
        preview.body
    );
    let head = shopper
        .request("HEAD", &format!("/{}", code(&visited)))
        .send()?;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // The localized pages: a deactivated link (410), a code no link has (404), both framed
    // by no one.
    let gone = shopper
        .get(&format!("/{}", code(&retired)))
        .header("Accept-Language", "ja")
        .send()?;
    assert_eq!(gone.status, 410);
    assert!(
        gone.body.contains("この支払いリンクは無効になりました。"),
        "{}",
        gone.body
    );
    let missing = shopper.get("/zzzzzzzzzzzzzzz").send()?;
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("This payment link does not exist."),
        "{}",
        missing.body
    );
    for page in [&gone, &missing] {
        let policy = page.header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    }
    // What is not its own goes on to the main Worker, which is not there: the overlay's
    // visits and everything else.
    for path in [
        format!("/{}?embedded=1", code(&visited)),
        "/healthz".to_owned(),
    ] {
        let onward = shopper.get(&path).send()?;
        assert!(
            onward.status >= 500,
            "{path} answered {} without the main Worker",
            onward.status
        );
    }
    drop(links);
    let _ = std::fs::remove_dir_all(&state_dir);
    Ok(())
}
