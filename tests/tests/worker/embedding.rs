//! The hosted pages inside the buy button's overlay: framed only by the shop's origin,
//! themed, reporting success and errors to the shop instead of navigating the frame, and
//! the `/b/{product}?key=pk_…` entry that buttons without a payment link open.

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_tests::http::Reply;

use crate::shopper::{arrive, csrf, link, path_of};
use crate::support::{change, fetch, product};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "an_overlay_page_is_framed_only_by_the_shop_and_reports_the_payment_to_it",
        an_overlay_page_is_framed_only_by_the_shop_and_reports_the_payment_to_it,
    ),
    (
        "a_malformed_origin_never_reaches_a_header_or_the_page",
        a_malformed_origin_never_reaches_a_header_or_the_page,
    ),
    (
        "an_unpayable_link_in_the_overlay_reports_an_error_to_the_shop",
        an_unpayable_link_in_the_overlay_reports_an_error_to_the_shop,
    ),
    (
        "a_product_opens_with_a_publishable_key_and_only_with_one",
        a_product_opens_with_a_publishable_key_and_only_with_one,
    ),
];

const SHOP: &str = "https://shop.example";
const FRAME: &str = "embedded=1&origin=https%3A%2F%2Fshop.example&theme=dark";

pub(crate) fn frame_ancestors(reply: &Reply) -> String {
    let policy = reply.header("content-security-policy").unwrap_or_default();
    policy
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("frame-ancestors "))
        .unwrap_or_default()
        .to_owned()
}

/// What the page says to the shop once greeted (`<main data-say="…">`), as JSON.
fn said(reply: &Reply) -> Result<Value, Failed> {
    let marker = "<main data-say=\"";
    let start = reply
        .body
        .find(marker)
        .ok_or_else(|| Failed::from(format!("the page says nothing: {}", reply.body)))?
        + marker.len();
    let raw: String = reply.body[start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let unescaped = raw
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    Ok(serde_json::from_str(&unescaped)?)
}

/// A payment link of the main merchant (NT$590, success URL on the shop) and its path.
fn link_path(suite: &Suite, extra: Value) -> Result<(Value, String), Failed> {
    let link = link(&suite.merchant(), extra)?;
    let path = path_of(link["url"].as_str().unwrap_or_default(), suite);
    Ok((link, path))
}

fn an_overlay_page_is_framed_only_by_the_shop_and_reports_the_payment_to_it(
    suite: &Suite,
) -> Result<(), Failed> {
    let (_, path) = link_path(suite, json!({}))?;
    let visit = suite.client.get(&format!("{path}?{FRAME}")).send()?;
    let location = visit.header("location").unwrap_or_default().to_owned();
    ensure!(
        location.ends_with(&format!("&{FRAME}")),
        "the frame is not kept: {location}"
    );
    let (session, page) = arrive(suite, &visit)?;
    let page_path = format!("/c/{session}?{FRAME}");
    ensure_eq!(page.status, 200);
    ensure_eq!(frame_ancestors(&page), SHOP);
    ensure!(
        page.body.contains(&format!("data-parent=\"{SHOP}\"")),
        "no parent on the page"
    );
    ensure!(page.body.contains("data-theme=\"dark\""), "not dark");
    ensure!(
        page.body.contains(&format!(
            "action=\"/c/{session}?{}\"",
            FRAME.replace('&', "&amp;")
        )),
        "the form does not keep the frame"
    );
    ensure!(page.body.contains("postMessage"), "no messaging script");
    // The same page on its own is light and cannot be framed.
    let plain = suite.client.get(&format!("/c/{session}")).send()?;
    ensure_eq!(frame_ancestors(&plain), "'none'");
    ensure!(
        plain.body.contains("data-theme=\"light\"") && !plain.body.contains("data-parent"),
        "the plain page is themed or framed"
    );

    let body = format!(
        "csrf={}&email=mei%40example.com&name=Mei&card_number=4242+4242+4242+4242&card_expiry=12+%2F+34&card_cvc=123",
        csrf(&page)?
    );
    let paid = suite
        .client
        .post(&page_path)
        .body("application/x-www-form-urlencoded", body)
        .send()?;
    // In the overlay the frame does not go to the success URL: it tells the shop.
    ensure_eq!(paid.status, 200);
    ensure_eq!(frame_ancestors(&paid), SHOP);
    ensure_eq!(
        said(&paid)?,
        json!({"type": "success", "session_id": session,
               "url": format!("https://shop.example/thanks?session_id={session}")})
    );
    let stored = fetch(
        &suite.merchant(),
        &format!("/v1/checkout/sessions/{session}"),
    )?;
    ensure_eq!(stored["status"], json!("COMPLETE"));
    // Outside the overlay a completed session still sends the shopper to the success URL.
    let again = suite.client.get(&format!("/c/{session}")).send()?;
    ensure_eq!(again.status, 303);
    Ok(())
}

fn a_malformed_origin_never_reaches_a_header_or_the_page(suite: &Suite) -> Result<(), Failed> {
    let (_, path) = link_path(suite, json!({}))?;
    for origin in [
        "https%3A%2F%2Fshop.example%3B%20script-src%20*",
        "https%3A%2F%2Fshop.example%2Fpath",
        "javascript%3Aalert(1)",
        "%22%3E%3Cscript%3E",
    ] {
        let visit = suite
            .client
            .get(&format!("{path}?embedded=1&origin={origin}"))
            .send()?;
        let location = visit.header("location").unwrap_or_default().to_owned();
        ensure!(
            location.ends_with("&embedded=1"),
            "{origin} kept: {location}"
        );
        let (_, page) = arrive(suite, &visit)?;
        // Embedded without an origin: framed only by the merchant's allowed hosts.
        ensure_eq!(frame_ancestors(&page), SHOP);
        ensure!(
            !page.body.contains("data-parent"),
            "{origin} reached the page"
        );
        let policy = page.header("content-security-policy").unwrap_or_default();
        for part in ["script-src *", "/path", "javascript", "<script>"] {
            ensure!(!policy.contains(part), "{origin} reached the CSP: {policy}");
        }
    }
    Ok(())
}

fn an_unpayable_link_in_the_overlay_reports_an_error_to_the_shop(
    suite: &Suite,
) -> Result<(), Failed> {
    let (link, path) = link_path(suite, json!({}))?;
    let id = link["id"].as_str().unwrap_or_default();
    change(
        &suite.merchant(),
        "PATCH",
        &format!("/v1/payment_links/{id}"),
        json!({"active": false}),
    )?;
    let page = suite.client.get(&format!("{path}?{FRAME}")).send()?;
    ensure_eq!(page.status, 410);
    ensure_eq!(frame_ancestors(&page), SHOP);
    let error = said(&page)?;
    ensure_eq!(error["type"], json!("error"));
    ensure_eq!(error["code"], json!("link_inactive"));
    ensure_eq!(
        error["message"],
        json!("This payment link is no longer active.")
    );
    let missing = suite
        .client
        .get(&format!("/zzzzzzzzzzzzzzz?{FRAME}"))
        .send()?;
    ensure_eq!(missing.status, 404);
    ensure_eq!(said(&missing)?["code"], json!("link_not_found"));
    Ok(())
}

fn a_product_opens_with_a_publishable_key_and_only_with_one(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let sticker = product(&merchant, "Sticker pack", 150, "TWD")?;
    let id = sticker["id"].as_str().unwrap_or_default();
    let key = &suite.account.keys.test.publishable_key;
    let visit = suite
        .client
        .get(&format!(
            "/b/{id}?key={key}&prefilled_email=kei%40example.com&client_reference_id=cart-7&locale=ja&{FRAME}"
        ))
        .send()?;
    ensure!(
        visit.status == 302,
        "answered {}: {}",
        visit.status,
        visit.body
    );
    let location = visit.header("location").unwrap_or_default().to_owned();
    ensure!(location.ends_with(&format!("?{FRAME}")), "{location}");
    let session_id = location
        .rsplit('/')
        .next()
        .and_then(|l| l.split('?').next())
        .unwrap_or_default();
    let session = fetch(&merchant, &format!("/v1/checkout/sessions/{session_id}"))?;
    ensure_eq!(session["amount_total"], json!(150));
    ensure_eq!(session["customer_email"], json!("kei@example.com"));
    ensure_eq!(session["client_reference_id"], json!("cart-7"));
    ensure_eq!(session["locale"], json!("ja"));
    ensure_eq!(session["mode"], json!("PAYMENT"));

    // A prefill that would not pass is dropped, not a reason to lose the sale.
    let lenient = suite
        .client
        .get(&format!("/b/{id}?key={key}&prefilled_email=not-an-email"))
        .send()?;
    ensure_eq!(lenient.status, 302);

    let count =
        format!("SELECT COUNT(*) AS n FROM checkout_sessions WHERE line_items LIKE '%{id}%'");
    let sessions_before = suite.query(&count)?;
    let secret = &suite.account.keys.test.secret_key;
    let other_key = &suite.other.keys.test.publishable_key;
    for refused in [
        format!("/b/{id}?key={secret}"),
        format!("/b/{id}?key={other_key}"),
        format!("/b/{id}"),
        format!("/b/prod_doesnotexist?key={key}"),
    ] {
        let reply = suite.client.get(&refused).send()?;
        ensure!(reply.status == 404, "{refused} answered {}", reply.status);
        ensure!(!reply.body.contains(secret.as_str()), "the key is echoed");
    }
    ensure_eq!(sessions_before, vec![json!({"n": 2})]);
    // A refused visit creates no session.
    ensure_eq!(suite.query(&count)?, sessions_before);
    Ok(())
}
