//! The shopper's path, driven as a browser without JavaScript would: a short link, the
//! hosted page, a form POST with a sandbox test card, the redirect — and the money
//! invariants under concurrency.

use std::thread;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_tests::http::{Client, Reply};

use crate::support::{create, fetch, product};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_short_link_redirects_to_a_fresh_session",
        a_short_link_redirects_to_a_fresh_session,
    ),
    (
        "previews_prefetches_and_head_create_no_session",
        previews_prefetches_and_head_create_no_session,
    ),
    ("every_human_visit_is_counted", every_human_visit_is_counted),
    (
        "a_visit_s_ticket_creates_its_session_once_and_nothing_else",
        a_visit_s_ticket_creates_its_session_once_and_nothing_else,
    ),
    (
        "unknown_and_inactive_links_show_a_page_not_a_session",
        unknown_and_inactive_links_show_a_page_not_a_session,
    ),
    (
        "the_hosted_page_shows_what_is_bought_in_the_first_response",
        the_hosted_page_shows_what_is_bought_in_the_first_response,
    ),
    (
        "paying_with_the_test_card_completes_and_redirects",
        paying_with_the_test_card_completes_and_redirects,
    ),
    (
        "a_completed_checkout_s_event_carries_the_session_as_get_shows_it",
        a_completed_checkout_s_event_carries_the_session_as_get_shows_it,
    ),
    (
        "a_decline_shows_a_message_and_the_shopper_can_retry",
        a_decline_shows_a_message_and_the_shopper_can_retry,
    ),
    (
        "three_d_secure_can_be_completed_or_failed",
        three_d_secure_can_be_completed_or_failed,
    ),
    (
        "five_failed_attempts_lock_the_session",
        five_failed_attempts_lock_the_session,
    ),
    (
        "a_deactivated_link_stops_taking_payments_at_once",
        a_deactivated_link_stops_taking_payments_at_once,
    ),
    (
        "a_stale_cached_link_never_yields_a_payable_session",
        a_stale_cached_link_never_yields_a_payable_session,
    ),
    (
        "a_promotion_code_typed_on_the_page_lowers_the_total",
        a_promotion_code_typed_on_the_page_lowers_the_total,
    ),
    (
        "one_address_may_fail_twenty_times_across_sessions",
        one_address_may_fail_twenty_times_across_sessions,
    ),
    (
        "max_completions_never_exceeded_under_concurrency",
        max_completions_never_exceeded_under_concurrency,
    ),
    (
        "a_single_use_link_is_paid_exactly_once_under_concurrency",
        a_single_use_link_is_paid_exactly_once_under_concurrency,
    ),
    (
        "no_card_number_or_cvc_is_stored_or_logged",
        no_card_number_or_cvc_is_stored_or_logged,
    ),
];

pub(crate) const SUCCESS: &str = "4242 4242 4242 4242";

/// `application/x-www-form-urlencoded` of pairs.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A link selling a NT$590 product with `extra` settings; answers the link object.
pub(crate) fn link(merchant: &Client, extra: Value) -> Result<Value, Failed> {
    let product = product(merchant, "Field notes", 590, "TWD")?;
    let mut body = json!({"productId": product["id"], "successUrl": "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    create(merchant, "/v1/payment_links", body)
}

pub(crate) fn path_of(url: &str, suite: &Suite) -> String {
    url.trim_start_matches(&suite.worker.base_url).to_owned()
}

/// Visits a link as a person would (the 302, then the page it leads to); answers the
/// session id.
pub(crate) fn visit(suite: &Suite, link: &Value) -> Result<String, Failed> {
    let reply = suite
        .client
        .get(&path_of(link["url"].as_str().unwrap_or_default(), suite))
        .send()?;
    let (id, page) = arrive(suite, &reply)?;
    ensure!(page.status == 200, "the page answered {}", page.status);
    Ok(id)
}

/// Where a short-link visit's 302 leads, loaded as the shopper's browser loads it (that
/// first load creates the session from the visit's signed ticket): the id and the page.
pub(crate) fn arrive(suite: &Suite, hop: &Reply) -> Result<(String, Reply), Failed> {
    ensure!(
        hop.status == 302,
        "visit answered {}: {}",
        hop.status,
        hop.body
    );
    let location = hop.header("location").unwrap_or_default().to_owned();
    let path = location
        .strip_prefix(&suite.worker.base_url)
        .ok_or_else(|| Failed::from(format!("Location {location} is another origin")))?;
    let id = path
        .strip_prefix("/c/")
        .and_then(|rest| rest.split('?').next())
        .unwrap_or_default()
        .to_owned();
    ensure!(
        id.starts_with("cs_") && path.starts_with(&format!("/c/{id}?t=")),
        "Location {location}"
    );
    Ok((id, suite.client.get(path).send()?))
}

/// The page's CSRF token, as a browser would submit it.
pub(crate) fn csrf(page: &Reply) -> Result<String, Failed> {
    page.quoted_after("name=\"csrf\" value=\"")
        .ok_or_else(|| Failed::from("no csrf field on the page"))
}

pub(crate) fn pay(
    suite: &Suite,
    session: &str,
    token: &str,
    card: &str,
    extra: &[(&str, &str)],
) -> Result<Reply, Failed> {
    let mut pairs = vec![
        ("csrf", token),
        ("email", "shopper@example.com"),
        ("name", "Mei Lin"),
        ("card_number", card),
        ("card_expiry", "12 / 34"),
        ("card_cvc", "123"),
    ];
    pairs.extend_from_slice(extra);
    Ok(suite
        .client
        .post(&format!("/c/{session}"))
        .body("application/x-www-form-urlencoded", form(&pairs))
        .send()?)
}

/// Visit, load the page, pay: what one shopper does.
fn shop(suite: &Suite, link: &Value, card: &str) -> Result<(String, Reply), Failed> {
    let session = visit(suite, link)?;
    let page = suite.client.get(&format!("/c/{session}")).send()?;
    ensure_eq!(page.status, 200);
    let reply = pay(suite, &session, &csrf(&page)?, card, &[])?;
    Ok((session, reply))
}

fn link_counters(merchant: &Client, link: &Value) -> Result<Value, Failed> {
    fetch(
        merchant,
        &format!(
            "/v1/payment_links/{}",
            link["id"].as_str().unwrap_or_default()
        ),
    )
}

fn a_short_link_redirects_to_a_fresh_session(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    let path = path_of(link["url"].as_str().unwrap_or_default(), suite);
    let reply = suite.client.get(&format!("{path}?prefilled_email=mei%40example.com&client_reference_id=ref-9&utm_source=newsletter&locale=ja")).send()?;
    ensure_eq!(reply.status, 302);
    ensure_eq!(reply.header("x-robots-tag"), Some("noindex"));
    // The visit itself writes nothing; the page it leads to creates the session.
    let (session_id, page) = arrive(suite, &reply)?;
    let premature = suite.query(&format!(
        "SELECT count(*) AS n FROM checkout_sessions WHERE payment_link_id = '{}' AND id <> '{session_id}'",
        link["id"].as_str().unwrap_or_default()
    ))?;
    ensure_eq!(premature[0]["n"], json!(0));
    ensure_eq!(page.status, 200);
    let session = fetch(&merchant, &format!("/v1/checkout/sessions/{session_id}"))?;
    ensure_eq!(session["payment_link"], link["id"]);
    ensure_eq!(session["customer_email"], json!("mei@example.com"));
    ensure_eq!(session["client_reference_id"], json!("ref-9"));
    ensure_eq!(session["locale"], json!("ja"));
    ensure_eq!(session["amount_total"], json!(590));
    ensure_eq!(session["status"], json!("OPEN"));
    let stored = suite.query(&format!(
        "SELECT utm FROM checkout_sessions WHERE id = '{session_id}'"
    ))?;
    ensure_eq!(stored[0]["utm"], json!("{\"utm_source\":\"newsletter\"}"));
    // Each visit is its own session.
    let second = visit(suite, &link)?;
    ensure!(second != session_id, "two visits shared a session");
    ensure_eq!(link_counters(&merchant, &link)?["session_count"], json!(2));
    Ok(())
}

fn previews_prefetches_and_head_create_no_session(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    let path = path_of(link["url"].as_str().unwrap_or_default(), suite);
    for (name, value) in [
        (
            "User-Agent",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        ),
        (
            "User-Agent",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        ),
        ("User-Agent", "WhatsApp/2.23.20.0"),
        ("Sec-Purpose", "prefetch;prerender"),
        ("Purpose", "prefetch"),
    ] {
        let reply = suite.client.get(&path).header(name, value).send()?;
        ensure!(
            reply.status == 200,
            "{name}: {value} answered {}",
            reply.status
        );
        ensure!(
            reply.body.contains("og:title") && reply.body.contains("Field notes"),
            "no Open Graph title for {value}"
        );
        ensure!(reply.body.contains("NT$590"), "no price for {value}");
    }
    let head = suite.client.request("HEAD", &path).send()?;
    ensure_eq!(head.status, 200);
    ensure!(head.body.is_empty(), "HEAD has a body");
    let after = link_counters(&merchant, &link)?;
    ensure_eq!(after["session_count"], json!(0));
    let sessions = suite.query(&format!(
        "SELECT count(*) AS n FROM checkout_sessions WHERE payment_link_id = '{}'",
        link["id"].as_str().unwrap_or_default()
    ))?;
    ensure_eq!(sessions[0]["n"], json!(0));
    Ok(())
}

fn every_human_visit_is_counted(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    for _ in 0..7 {
        visit(suite, &link)?;
    }
    // Views are counted off the response path: poll, do not sleep.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counters = link_counters(&merchant, &link)?;
        if counters["view_count"] == json!(7) {
            ensure_eq!(counters["session_count"], json!(7));
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "view_count is {} after 7 visits",
            counters["view_count"]
        );
        thread::sleep(Duration::from_millis(100));
    }
}

fn a_visit_s_ticket_creates_its_session_once_and_nothing_else(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    let link_id = link["id"].as_str().unwrap_or_default().to_owned();
    let sessions = || -> Result<Value, Failed> {
        Ok(suite.query(&format!(
            "SELECT count(*) AS n FROM checkout_sessions WHERE payment_link_id = '{link_id}'"
        ))?[0]["n"]
            .clone())
    };
    let hop = suite
        .client
        .get(&path_of(link["url"].as_str().unwrap_or_default(), suite))
        .send()?;
    let location = hop.header("location").unwrap_or_default().to_owned();
    let path = location
        .trim_start_matches(&suite.worker.base_url)
        .to_owned();
    let (id, ticket) = path
        .trim_start_matches("/c/")
        .split_once("?t=")
        .ok_or_else(|| Failed::from(format!("no ticket in {location}")))?;
    ensure_eq!(sessions()?, json!(0));
    // Another session id with this ticket, or an altered ticket: refused, nothing created.
    let other = format!("/c/cs_{}?t={ticket}", "A".repeat(24));
    ensure_eq!(suite.client.get(&other).send()?.status, 404);
    let mut altered = ticket.to_owned();
    let last = altered.pop().unwrap_or('0');
    altered.push(if last == '0' { '1' } else { '0' });
    ensure_eq!(
        suite
            .client
            .get(&format!("/c/{id}?t={altered}"))
            .send()?
            .status,
        404
    );
    ensure_eq!(suite.client.get(&format!("/c/{id}")).send()?.status, 404);
    ensure_eq!(sessions()?, json!(0));
    // Loaded twice (a reload, two tabs): one session, counted once.
    for _ in 0..2 {
        ensure_eq!(suite.client.get(&path).send()?.status, 200);
    }
    ensure_eq!(sessions()?, json!(1));
    let counters = link_counters(&merchant, &link)?;
    ensure_eq!(counters["session_count"], json!(1));
    ensure_eq!(counters["view_count"], json!(1));
    Ok(())
}

fn unknown_and_inactive_links_show_a_page_not_a_session(suite: &Suite) -> Result<(), Failed> {
    let unknown = suite
        .client
        .get("/AAAAAAAAAAAAAAA")
        .header("Accept-Language", "zh-TW")
        .send()?;
    ensure_eq!(unknown.status, 404);
    ensure!(
        unknown.body.contains("此付款連結不存在"),
        "not localized: {}",
        unknown.body
    );
    let junk = suite.client.get("/not-a-code!").send()?;
    ensure_eq!(junk.status, 404);
    let merchant = suite.merchant();
    let inactive = link(&merchant, json!({"active": false}))?;
    let reply = suite
        .client
        .get(&path_of(
            inactive["url"].as_str().unwrap_or_default(),
            suite,
        ))
        .header("Accept-Language", "ja")
        .send()?;
    ensure_eq!(reply.status, 410);
    ensure!(
        reply.body.contains("この支払いリンクは無効になりました"),
        "not localized: {}",
        reply.body
    );
    ensure_eq!(
        link_counters(&merchant, &inactive)?["session_count"],
        json!(0)
    );
    Ok(())
}

fn the_hosted_page_shows_what_is_bought_in_the_first_response(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(
        &merchant,
        json!({
            "custom_fields": [{"key": "engraving", "label": "Engraving", "type": "text", "optional": true}],
            "billing_address_collection": "required",
        }),
    )?;
    let session = visit(suite, &link)?;
    let page = suite.client.get(&format!("/c/{session}")).send()?;
    ensure_eq!(page.status, 200);
    for expected in [
        "Test Merchant",
        "Field notes",
        "NT$590",
        "autocomplete=\"email\"",
        "autocomplete=\"cc-number\"",
        "autocomplete=\"cc-exp\"",
        "autocomplete=\"cc-csc\"",
        "autocomplete=\"billing postal-code\"",
        "name=\"custom_engraving\"",
        "method=\"post\"",
    ] {
        ensure!(page.body.contains(expected), "the page lacks {expected}");
    }
    // The only script is inline and allowed by this response's nonce alone.
    let csp = page
        .header("content-security-policy")
        .unwrap_or_default()
        .to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_default();
    ensure!(
        !nonce.is_empty() && page.body.contains(&format!("<script nonce=\"{nonce}\">")),
        "script without the CSP nonce"
    );
    ensure_eq!(page.body.matches("<script").count(), 1);
    ensure!(
        page.body.len() <= 14 * 1024,
        "first response is {} bytes",
        page.body.len()
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    ensure!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "CSP {csp}"
    );
    ensure_eq!(page.header("cache-control"), Some("no-store"));
    ensure_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let embedded = suite
        .client
        .get(&format!("/c/{session}?embedded=1"))
        .send()?;
    ensure!(
        embedded
            .header("content-security-policy")
            .unwrap_or_default()
            .contains("frame-ancestors https://shop.example"),
        "embedded mode cannot be framed by the merchant's allowed host"
    );
    let japanese = suite
        .client
        .get(&format!("/c/{session}"))
        .header("Accept-Language", "ja,en;q=0.5")
        .send()?;
    ensure!(
        japanese.body.contains("カード番号") && japanese.body.contains("lang=\"ja\""),
        "not in Japanese"
    );
    Ok(())
}

fn paying_with_the_test_card_completes_and_redirects(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({"metadata": {"campaign": "spring"}}))?;
    let (session, reply) = shop(suite, &link, SUCCESS)?;
    ensure_eq!(reply.status, 303);
    let expected = format!("https://shop.example/thanks?session_id={session}");
    ensure_eq!(reply.header("location"), Some(expected.as_str()));
    let completed = fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?;
    ensure_eq!(completed["status"], json!("COMPLETE"));
    ensure_eq!(completed["payment_status"], json!("paid"));
    ensure!(
        completed["orderId"]
            .as_str()
            .is_some_and(|o| o.starts_with("ord_")),
        "no order id"
    );
    ensure_eq!(completed["customer_email"], json!("shopper@example.com"));
    let counters = link_counters(&merchant, &link)?;
    ensure_eq!(counters["completed_count"], json!(1));
    ensure_eq!(counters["used"], json!(true));
    // The link's charges, as the links document shows them, in both dialects.
    let charges = &counters["charges"];
    ensure_eq!(charges["total"], json!(1));
    ensure_eq!(charges["data"][0]["amount"], json!(590));
    ensure_eq!(charges["data"][0]["currency"], json!("twd"));
    ensure_eq!(
        charges["data"][0]["card"],
        json!({"brand": "visa", "last_digits": "4242"})
    );
    ensure_eq!(charges["data"][0]["checkout_session_id"], json!(session));
    let omise = {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:", suite.account.keys.test.secret_key));
        let id = link["id"].as_str().unwrap_or_default();
        suite
            .client
            .get(&format!("/links/{id}"))
            .header("Authorization", &format!("Basic {basic}"))
            .send()?
            .json()
    };
    ensure_eq!(omise["charges"]["data"][0]["id"], charges["data"][0]["id"]);
    let order_id = completed["order_id"].as_str().unwrap_or_default();
    let orders = suite.query(&format!(
        "SELECT amount_total, currency, status, customer_email FROM orders WHERE id = '{order_id}'"
    ))?;
    ensure_eq!(
        orders,
        vec![
            json!({"amount_total": 590, "currency": "TWD", "status": "PAID", "customer_email": "shopper@example.com"})
        ]
    );
    let payments = suite.query(&format!("SELECT card_brand, card_last4, card_exp_month, card_exp_year FROM payments WHERE order_id = '{order_id}'"))?;
    ensure_eq!(
        payments,
        vec![
            json!({"card_brand": "visa", "card_last4": "4242", "card_exp_month": 12, "card_exp_year": 2034})
        ]
    );
    let events = suite.query(&format!(
        "SELECT type, data FROM events WHERE object_id = '{session}'"
    ))?;
    ensure_eq!(events.len(), 1);
    ensure_eq!(events[0]["type"], json!("checkout.completed"));
    let data: Value = serde_json::from_str(events[0]["data"].as_str().unwrap_or("{}"))?;
    ensure_eq!(data["id"], json!(session));
    // A second submit of the same completed session never charges twice.
    // The completed session's page sends the shopper on to the success URL.
    let again = suite.client.get(&format!("/c/{session}")).send()?;
    ensure_eq!(again.status, 303);
    ensure_eq!(again.header("location"), Some(expected.as_str()));
    let resubmit = pay(suite, &session, "stale-token", SUCCESS, &[])?;
    ensure_eq!(resubmit.status, 303);
    let count = suite.query(&format!(
        "SELECT count(*) AS n FROM orders WHERE checkout_session_id = '{session}'"
    ))?;
    ensure_eq!(count[0]["n"], json!(1));
    Ok(())
}

fn a_completed_checkout_s_event_carries_the_session_as_get_shows_it(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Completion events")?;
    let link = link(&merchant, json!({"customerCreation": "always"}))?;
    let (session, reply) = shop(suite, &link, SUCCESS)?;
    ensure_eq!(reply.status, 303);
    let shown = fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?;
    ensure_eq!(shown["status"], json!("COMPLETE"));
    ensure!(shown["customer"].is_string(), "no customer: {shown}");
    let events = suite.query(&format!(
        "SELECT data FROM events WHERE type = 'checkout.completed' AND object_id = '{session}'"
    ))?;
    ensure_eq!(events.len(), 1);
    let data: Value = serde_json::from_str(events[0]["data"].as_str().unwrap_or("{}"))?;
    ensure_eq!(data, shown);
    Ok(())
}

fn a_decline_shows_a_message_and_the_shopper_can_retry(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    let session = visit(suite, &link)?;
    let page = suite.client.get(&format!("/c/{session}")).send()?;
    let token = csrf(&page)?;
    for (card, message) in [
        ("4000 0000 0000 0002", "Your card was declined"),
        ("4000 0000 0000 9995", "insufficient funds"),
        ("4242 4242 4242 4241", "This card number is not valid"),
    ] {
        let reply = pay(suite, &session, &token, card, &[])?;
        ensure!(
            reply.status == 402 || reply.status == 422,
            "{card} answered {}",
            reply.status
        );
        ensure!(reply.body.contains(message), "{card}: no `{message}`");
        ensure!(
            reply.body.contains("value=\"shopper@example.com\""),
            "the email was not kept"
        );
    }
    let localized = suite
        .client
        .post(&format!("/c/{session}"))
        .header("Accept-Language", "zh-TW")
        .body(
            "application/x-www-form-urlencoded",
            form(&[
                ("csrf", &token),
                ("email", "a@b.co"),
                ("card_number", "4000000000000002"),
                ("card_expiry", "12/34"),
                ("card_cvc", "123"),
            ]),
        )
        .send()?;
    ensure!(
        localized.body.contains("您的卡片遭到拒絕"),
        "decline not localized"
    );
    let success = pay(suite, &session, &token, SUCCESS, &[])?;
    ensure_eq!(success.status, 303);
    ensure_eq!(
        link_counters(&merchant, &link)?["completed_count"],
        json!(1)
    );
    Ok(())
}

fn three_d_secure_can_be_completed_or_failed(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    for (outcome, expected_status) in [("fail", 402), ("complete", 303)] {
        let session = visit(suite, &link)?;
        let page = suite.client.get(&format!("/c/{session}")).send()?;
        let token = csrf(&page)?;
        let challenge = pay(suite, &session, &token, "4000 0025 0000 3155", &[])?;
        ensure_eq!(challenge.status, 200);
        ensure!(
            challenge.body.contains("value=\"complete\""),
            "no challenge page"
        );
        let answered = suite
            .client
            .post(&format!("/c/{session}/challenge"))
            .body(
                "application/x-www-form-urlencoded",
                form(&[("csrf", &token), ("outcome", outcome)]),
            )
            .send()?;
        ensure_eq!(answered.status, expected_status);
        let status =
            fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?["status"].clone();
        ensure_eq!(
            status,
            json!(if outcome == "complete" {
                "COMPLETE"
            } else {
                "OPEN"
            })
        );
    }
    let counters = link_counters(&merchant, &link)?;
    ensure_eq!(counters["completed_count"], json!(1));
    let reserved = suite.query(&format!(
        "SELECT reserved_count FROM payment_links WHERE id = '{}'",
        link["id"].as_str().unwrap_or_default()
    ))?;
    ensure_eq!(reserved[0]["reserved_count"], json!(0));
    Ok(())
}

fn five_failed_attempts_lock_the_session(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    let session = visit(suite, &link)?;
    let token = csrf(&suite.client.get(&format!("/c/{session}")).send()?)?;
    for _ in 0..5 {
        pay(suite, &session, &token, "4000 0000 0000 0002", &[])?;
    }
    let locked = pay(suite, &session, &token, SUCCESS, &[])?;
    ensure_eq!(locked.status, 429);
    ensure!(
        locked.body.contains("Too many failed attempts"),
        "no lock message"
    );
    ensure_eq!(
        fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?["status"],
        json!("OPEN")
    );
    Ok(())
}

fn a_deactivated_link_stops_taking_payments_at_once(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    // A shopper opened the page before the merchant deactivated the link.
    let session = visit(suite, &link)?;
    let token = csrf(&suite.client.get(&format!("/c/{session}")).send()?)?;
    let id = link["id"].as_str().unwrap_or_default();
    let off = merchant
        .request("PATCH", &format!("/v1/payment_links/{id}"))
        .json(&json!({"active": false}))
        .send()?;
    ensure_eq!(off.status, 200);
    let refused = pay(suite, &session, &token, SUCCESS, &[])?;
    ensure_eq!(refused.status, 410);
    let visit_after = suite
        .client
        .get(&path_of(link["url"].as_str().unwrap_or_default(), suite))
        .send()?;
    // The link host answers 410 itself once its isolate's memory of the link (10 s) has
    // passed; until then its redirect leads to a checkout page that D1 refuses with 410.
    let seen = match visit_after.status {
        302 => {
            let location = visit_after.header("location").unwrap_or_default();
            suite.client.get(&path_of(location, suite)).send()?
        }
        _ => visit_after,
    };
    ensure_eq!(seen.status, 410);
    let sessions = suite.query(&format!(
        "SELECT count(*) AS n FROM checkout_sessions WHERE payment_link_id = '{id}'"
    ))?;
    ensure_eq!(sessions[0]["n"], json!(1));
    let orders = suite.query(&format!(
        "SELECT count(*) AS n FROM orders WHERE payment_link_id = '{id}'"
    ))?;
    ensure_eq!(orders[0]["n"], json!(0));
    Ok(())
}

fn one_address_may_fail_twenty_times_across_sessions(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    let address = "203.0.113.77";
    let attempt = |session: &str, token: &str, card: &str| -> Result<Reply, Failed> {
        let body = form(&[
            ("csrf", token),
            ("email", "tester@example.com"),
            ("card_number", card),
            ("card_expiry", "12/34"),
            ("card_cvc", "123"),
        ]);
        Ok(suite
            .client
            .post(&format!("/c/{session}"))
            .header("CF-Connecting-IP", address)
            .body("application/x-www-form-urlencoded", body)
            .send()?)
    };
    for _ in 0..5 {
        let session = visit(suite, &link)?;
        let token = csrf(&suite.client.get(&format!("/c/{session}")).send()?)?;
        for _ in 0..4 {
            let reply = attempt(&session, &token, "4000 0000 0000 0002")?;
            ensure_eq!(reply.status, 402);
        }
    }
    let session = visit(suite, &link)?;
    let token = csrf(&suite.client.get(&format!("/c/{session}")).send()?)?;
    let blocked = attempt(&session, &token, SUCCESS)?;
    ensure_eq!(blocked.status, 429);
    ensure_eq!(
        fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?["status"],
        json!("OPEN")
    );
    // Another address is not affected.
    let other = suite
        .client
        .post(&format!("/c/{session}"))
        .header("CF-Connecting-IP", "198.51.100.9")
        .body(
            "application/x-www-form-urlencoded",
            form(&[
                ("csrf", &token),
                ("email", "a@b.co"),
                ("card_number", SUCCESS),
                ("card_expiry", "12/34"),
                ("card_cvc", "123"),
            ]),
        )
        .send()?;
    ensure_eq!(other.status, 303);
    Ok(())
}

fn a_promotion_code_typed_on_the_page_lowers_the_total(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Promo page")?;
    create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "PAGE25", "percent_off": 25, "max_redemptions": 1}),
    )?;
    let link = link(&merchant, json!({"allow_promotion_codes": true}))?;
    let apply = |session: &str, token: &str, code: &str| -> Result<Reply, Failed> {
        Ok(suite
            .client
            .post(&format!("/c/{session}/promotion"))
            .body(
                "application/x-www-form-urlencoded",
                form(&[("csrf", token), ("code", code)]),
            )
            .send()?)
    };
    let session = visit(suite, &link)?;
    let page = suite.client.get(&format!("/c/{session}")).send()?;
    ensure!(
        page.body.contains("name=\"code\""),
        "no promotion code field"
    );
    let token = csrf(&page)?;
    let wrong = apply(&session, &token, "NOPE")?;
    ensure_eq!(wrong.status, 422);
    ensure!(wrong.body.contains("cannot be used"), "no refusal message");
    let applied = apply(&session, &token, "page25")?;
    ensure_eq!(applied.status, 303);
    let back = format!("/c/{session}");
    ensure_eq!(applied.header("location"), Some(back.as_str()));
    let page = suite.client.get(&format!("/c/{session}")).send()?;
    ensure!(
        page.body.contains("−NT$147") && page.body.contains("NT$443"),
        "the page does not show the new total"
    );
    let priced = fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?;
    ensure_eq!(
        (
            priced["amount_discount"].clone(),
            priced["amount_total"].clone()
        ),
        (json!(147), json!(443))
    );
    ensure_eq!(pay(suite, &session, &token, SUCCESS, &[])?.status, 303);
    let order = suite.query(&format!(
        "SELECT amount_total, promotion_code FROM orders WHERE checkout_session_id = '{session}'"
    ))?;
    ensure_eq!(
        order,
        vec![json!({"amount_total": 443, "promotion_code": "PAGE25"})]
    );
    let code = fetch(&merchant, "/v1/promotion_codes?code=PAGE25")?;
    ensure_eq!(code["data"][0]["times_redeemed"], json!(1));
    // Fully redeemed now: the next shopper is refused.
    let next = visit(suite, &link)?;
    let next_token = csrf(&suite.client.get(&format!("/c/{next}")).send()?)?;
    ensure_eq!(apply(&next, &next_token, "PAGE25")?.status, 422);
    // A link that does not allow codes offers no field and takes none.
    let closed = crate::shopper::link(&merchant, json!({}))?;
    let plain = visit(suite, &closed)?;
    let plain_page = suite.client.get(&format!("/c/{plain}")).send()?;
    ensure!(
        !plain_page.body.contains("name=\"code\""),
        "a field the link does not allow"
    );
    ensure_eq!(apply(&plain, &csrf(&plain_page)?, "PAGE25")?.status, 403);
    Ok(())
}

fn a_stale_cached_link_never_yields_a_payable_session(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    let code = link["url_id"].as_str().unwrap_or_default().to_owned();
    visit(suite, &link)?;
    // Wait until the visit's snapshot is cached (it is written off the response path).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cached = suite
            .client
            .with_bearer(&suite.operator_token)
            .post("/__test/kv")
            .json(&json!({"key": format!("link:{code}")}))
            .send()?
            .json();
        if cached["value"]
            .as_str()
            .is_some_and(|v| v.contains("\"active\":1"))
        {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the link was never cached: {cached}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    // Deactivate in D1 only: the cache still says the link is active.
    let id = link["id"].as_str().unwrap_or_default();
    suite.update(&format!(
        "UPDATE payment_links SET active = 0 WHERE id = '{id}'"
    ))?;
    let sessions_before = suite.query(&format!(
        "SELECT count(*) AS n FROM checkout_sessions WHERE payment_link_id = '{id}'"
    ))?;
    // The cached snapshot still sends the shopper on; the page, reading D1, refuses.
    let hop = suite
        .client
        .get(&path_of(link["url"].as_str().unwrap_or_default(), suite))
        .send()?;
    let (_, page) = arrive(suite, &hop)?;
    ensure_eq!(page.status, 410);
    let sessions_after = suite.query(&format!(
        "SELECT count(*) AS n FROM checkout_sessions WHERE payment_link_id = '{id}'"
    ))?;
    ensure_eq!(sessions_after, sessions_before);
    Ok(())
}

/// How many shoppers are in flight at once. The local runtime (workerd behind wrangler's
/// dev proxy) drops connections when a couple of hundred requests pile up on it, and the
/// proxy answers a POST it could not forward with its own 503 ("Your worker restarted
/// mid-request"); this many keeps every payment racing another without that.
const IN_FLIGHT: usize = 32;

/// Runs `each(i)` for every `i < count`, `IN_FLIGHT` at a time; answers the results in order.
pub(crate) fn in_flight<T: Send>(count: usize, each: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(count));
    thread::scope(|scope| {
        for _ in 0..IN_FLIGHT.min(count) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= count {
                        break;
                    }
                    let result = each(i);
                    if let Ok(mut results) = results.lock() {
                        results.push((i, result));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// `shoppers` people open `link`'s checkout, then all pay at once (`IN_FLIGHT` payments
/// racing at every moment); answers how many were sent to the success URL.
fn rush(suite: &Suite, link: &Value, shoppers: usize) -> Result<usize, Failed> {
    let opened: Vec<Result<Option<(String, String)>, String>> = in_flight(shoppers, |_| {
        let path = path_of(link["url"].as_str().unwrap_or_default(), suite);
        let visit = suite.client.get(&path).send().map_err(|e| e.to_string())?;
        if visit.status != 302 {
            return Ok(None);
        }
        let (session, page) = arrive(suite, &visit).map_err(|e| format!("{e:?}"))?;
        if page.status != 200 {
            return Ok(None);
        }
        let token = csrf(&page).map_err(|e| format!("{e:?}"))?;
        Ok(Some((session, token)))
    });
    let mut carts = Vec::new();
    for opened in opened {
        if let Some(cart) = opened? {
            carts.push(cart);
        }
    }
    let outcomes: Vec<Result<u16, String>> = in_flight(carts.len(), |i| {
        let (session, token) = &carts[i];
        let reply = pay(suite, session, token, SUCCESS, &[]).map_err(|e| format!("{e:?}"))?;
        match reply.status {
            303 | 200 | 410 => Ok(reply.status),
            other => Err(format!(
                "a shopper's payment got {other} ({:?}): {}",
                reply.headers,
                reply.body.chars().take(300).collect::<String>()
            )),
        }
    });
    let mut paid = 0;
    for outcome in outcomes {
        match outcome? {
            // 303 to the success URL, or 200 with the hosted confirmation.
            303 | 200 => paid += 1,
            410 => {}
            other => return Err(format!("a shopper got {other}").into()),
        }
    }
    Ok(paid)
}

fn max_completions_never_exceeded_under_concurrency(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Flash sale")?;
    let link = link(&merchant, json!({"maxCompletions": 50}))?;
    let paid = rush(suite, &link, 200)?;
    ensure_eq!(paid, 50);
    let counters = link_counters(&merchant, &link)?;
    ensure_eq!(counters["completed_count"], json!(50));
    let id = link["id"].as_str().unwrap_or_default();
    let rows = suite.query(&format!(
        "SELECT (SELECT count(*) FROM orders WHERE payment_link_id = '{id}') AS orders,
                (SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.payment_link_id = '{id}') AS payments,
                (SELECT count(*) FROM checkout_sessions WHERE payment_link_id = '{id}' AND status = 'COMPLETE') AS complete,
                (SELECT reserved_count FROM payment_links WHERE id = '{id}') AS reserved"
    ))?;
    ensure_eq!(
        rows[0],
        json!({"orders": 50, "payments": 50, "complete": 50, "reserved": 0})
    );
    Ok(())
}

fn a_single_use_link_is_paid_exactly_once_under_concurrency(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Single use")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"amount": 7440, "currency": "THB", "title": "Hot Latte"}),
    )?;
    ensure_eq!(link["multiple"], json!(false));
    let paid = rush(suite, &link, 20)?;
    ensure_eq!(paid, 1);
    let after = link_counters(&merchant, &link)?;
    ensure_eq!(after["completed_count"], json!(1));
    ensure_eq!(after["used"], json!(true));
    Ok(())
}

fn no_card_number_or_cvc_is_stored_or_logged(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let link = link(&merchant, json!({}))?;
    let session = visit(suite, &link)?;
    let token = csrf(&suite.client.get(&format!("/c/{session}")).send()?)?;
    let reply = pay(
        suite,
        &session,
        &token,
        "5555555555554444",
        &[("card_cvc", "987")],
    )?;
    ensure_eq!(reply.status, 303);
    for table in [
        "checkout_sessions",
        "orders",
        "payments",
        "events",
        "customers",
        "payment_links",
    ] {
        let dump = serde_json::to_string(&suite.query(&format!("SELECT * FROM {table}"))?)?;
        for secret in [
            "5555555555554444",
            "4242424242424242",
            "4000000000000002",
            "4000002500003155",
        ] {
            ensure!(!dump.contains(secret), "{table} holds a card number");
        }
        ensure!(!dump.contains("\"987\""), "{table} holds the CVC");
    }
    let log =
        std::fs::read_to_string(suite.worker.state_dir.join("worker.log")).unwrap_or_default();
    for secret in ["5555555555554444", "4242424242424242", "4000000000000002"] {
        ensure!(
            !log.contains(secret),
            "the Worker's log holds a card number"
        );
    }
    Ok(())
}
