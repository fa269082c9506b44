//! Money after the sale: a paid checkout as an order and a payment with its hosted
//! receipt, refunds in full and in parts (never more than was paid, also when twenty race),
//! a refund the processor refuses, a renewal refunded by its billing order, and the
//! refund events on a webhook endpoint.

use std::time::Duration;

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_shared::webhooks::verify;
use till_tests::http::{Client, Reply};
use till_tests::receiver::Receiver;

use crate::shopper::{SUCCESS, csrf, in_flight, path_of, pay};
use crate::support::{create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_paid_checkout_is_an_order_and_a_payment_with_a_printable_receipt",
        a_paid_checkout_is_an_order_and_a_payment_with_a_printable_receipt,
    ),
    (
        "orders_and_payments_are_filtered_and_paged",
        orders_and_payments_are_filtered_and_paged,
    ),
    (
        "refunds_are_partial_or_full_and_never_more_than_was_paid",
        refunds_are_partial_or_full_and_never_more_than_was_paid,
    ),
    (
        "twenty_concurrent_refunds_of_ten_against_a_hundred_exactly_ten_succeed",
        twenty_concurrent_refunds_of_ten_against_a_hundred_exactly_ten_succeed,
    ),
    (
        "a_refund_the_processor_refuses_gives_its_amount_back",
        a_refund_the_processor_refuses_gives_its_amount_back,
    ),
    (
        "a_renewal_is_a_payment_refunded_by_its_billing_order",
        a_renewal_is_a_payment_refunded_by_its_billing_order,
    ),
    (
        "refund_events_reach_the_receiver_signed",
        refund_events_reach_the_receiver_signed,
    ),
    (
        "a_link_s_funnel_counts_views_sessions_and_sales_by_day_and_source",
        a_link_s_funnel_counts_views_sessions_and_sales_by_day_and_source,
    ),
    (
        "a_link_s_qr_code_is_an_svg_of_its_own",
        a_link_s_qr_code_is_an_svg_of_its_own,
    ),
];

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// A link of `merchant` selling `amount` TWD of a product with an optional engraving
/// question, visited with a campaign and a reference, and paid with `card`; answers the
/// session id.
fn bought(suite: &Suite, merchant: &Client, amount: i64, card: &str) -> Result<String, Failed> {
    let product = product(merchant, "Field notes", amount, "TWD")?;
    let link = create(
        merchant,
        "/v1/payment_links",
        json!({"productId": product["id"], "successUrl": "https://shop.example/thanks",
               "custom_fields": [{"key": "engraving", "label": "Engraving", "type": "text", "optional": true}]}),
    )?;
    let path = path_of(link["url"].as_str().unwrap_or_default(), suite);
    let hop = suite
        .client
        .get(&format!(
            "{path}?client_reference_id=ref-42&utm_source=newsletter&utm_campaign=winter"
        ))
        .send()?;
    let (session, page) = crate::shopper::arrive(suite, &hop)?;
    ensure_eq!(page.status, 200);
    let paid = pay(
        suite,
        &session,
        &csrf(&page)?,
        card,
        &[("custom_engraving", "For Mei")],
    )?;
    ensure!(
        paid.status == 303,
        "paying answered {}: {}",
        paid.status,
        paid.body
    );
    Ok(session)
}

/// The one payment of a session, as the API lists it.
fn payment_of(merchant: &Client, session: &str) -> Result<Value, Failed> {
    let list = fetch(
        merchant,
        &format!("/v1/payments?checkout_session={session}"),
    )?;
    ensure_eq!(list["data"].as_array().map(Vec::len), Some(1));
    Ok(list["data"][0].clone())
}

/// Asks for a refund, with a key of its own: were the local proxy to shed the request
/// (its own 503), the harness sends it again under the same key, never twice as a refund.
fn refund(merchant: &Client, body: Value) -> Result<Reply, Failed> {
    let key = format!("refund-{}", till_shared::ids::random_base62(16));
    Ok(merchant
        .post("/v1/refunds")
        .header("Idempotency-Key", &key)
        .json(&body)
        .send()?)
}

/// The receipt page at `url` (on the local Worker), in `language`.
fn receipt(suite: &Suite, url: &str, language: &str) -> Result<Reply, Failed> {
    Ok(suite
        .client
        .get(&path_of(url, suite))
        .header("Accept-Language", language)
        .send()?)
}

fn a_paid_checkout_is_an_order_and_a_payment_with_a_printable_receipt(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Receipt Shop")?;
    let session = bought(suite, &merchant, 590, SUCCESS)?;
    let orders = fetch(&merchant, &format!("/v1/orders?checkout_session={session}"))?;
    ensure_eq!(orders["data"].as_array().map(Vec::len), Some(1));
    let order = &orders["data"][0];
    ensure!(text(&order["id"]).starts_with("ord_"), "order {order}");
    ensure_eq!(order["object"], json!("order"));
    ensure_eq!(order["status"], json!("PAID"));
    ensure_eq!(order["amount_total"], json!(590));
    ensure_eq!(order["currency"], json!("TWD"));
    ensure_eq!(order["line_items"][0]["name"], json!("Field notes"));
    ensure_eq!(order["line_items"][0]["quantity"], json!(1));
    ensure_eq!(order["custom_fields"]["engraving"], json!("For Mei"));
    ensure_eq!(order["client_reference_id"], json!("ref-42"));
    ensure_eq!(order["utm"]["utm_source"], json!("newsletter"));
    ensure_eq!(order["utm"]["utm_campaign"], json!("winter"));
    ensure_eq!(order["customer_email"], json!("shopper@example.com"));
    ensure_eq!(order["customer_details"]["name"], json!("Mei Lin"));
    ensure_eq!(order["amount_refunded"], json!(0));
    let same = fetch(&merchant, &format!("/v1/orders/{}", text(&order["id"])))?;
    ensure_eq!(&same, order);

    let payment = payment_of(&merchant, &session)?;
    ensure_eq!(payment["id"], order["payment_id"]);
    ensure_eq!(payment["object"], json!("payment"));
    ensure_eq!(payment["status"], json!("SUCCEEDED"));
    ensure_eq!(payment["amount"], json!(590));
    ensure_eq!(payment["amount_refunded"], json!(0));
    ensure_eq!(
        payment["card"],
        json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034})
    );
    ensure!(
        text(&payment["processor_reference"]).starts_with("tok_sandbox_"),
        "reference {payment}"
    );
    ensure_eq!(payment["order_id"], order["id"]);
    let url = text(&payment["receipt_url"]);
    let key = url.rsplit('/').next().unwrap_or_default().to_owned();
    ensure!(
        url.starts_with(&format!("{}/receipts/rcpt_", suite.worker.base_url)) && key.len() == 37,
        "receipt url {url}"
    );
    // Another merchant's key does not see it.
    let other = suite.fresh_merchant("Nosy Shop")?;
    refused(
        &other
            .get(&format!("/v1/payments/{}", text(&payment["id"])))
            .send()?,
        404,
        "resource_not_found",
        None,
    )?;

    let page = receipt(suite, &url, "en")?;
    ensure_eq!(page.status, 200);
    for shown in [
        "Receipt Shop",
        "Field notes",
        "NT$590",
        "Visa •••• 4242",
        text(&payment["id"]).as_str(),
        text(&order["id"]).as_str(),
        "Test mode",
        "@media print",
    ] {
        ensure!(page.body.contains(shown), "the receipt lacks {shown:?}");
    }
    ensure_eq!(page.header("cache-control"), Some("no-store"));
    ensure_eq!(page.header("x-robots-tag"), Some("noindex"));
    ensure!(
        page.header("content-security-policy")
            .is_some_and(|csp| csp.contains("default-src 'none'") && !csp.contains("script-src")),
        "csp {:?}",
        page.header("content-security-policy")
    );
    let localized = receipt(suite, &url, "zh-TW,zh;q=0.9")?;
    ensure!(
        localized.body.contains("收據") && localized.body.contains("付款金額"),
        "not in Traditional Chinese"
    );
    // A key one character off, or of another shape, finds nothing.
    let mut wrong = key.clone();
    wrong.pop();
    wrong.push(if key.ends_with('A') { 'B' } else { 'A' });
    for path in [
        format!("/receipts/{wrong}"),
        "/receipts/rcpt_".to_owned(),
        "/receipts/rcpt_%2F..%2Fv1".to_owned(),
    ] {
        let missing = suite.client.get(&path).send()?;
        ensure!(missing.status == 404, "{path} answered {}", missing.status);
        ensure!(
            !missing.body.contains("Field notes"),
            "{path} shows the sale"
        );
    }
    Ok(())
}

fn orders_and_payments_are_filtered_and_paged(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Filtered Shop")?;
    let first = bought(suite, &merchant, 300, SUCCESS)?;
    let second = bought(suite, &merchant, 400, SUCCESS)?;
    let all = fetch(&merchant, "/v1/payments?limit=1")?;
    ensure_eq!(all["data"].as_array().map(Vec::len), Some(1));
    ensure_eq!(all["has_more"], json!(true));
    ensure_eq!(all["data"][0]["checkout_session_id"], json!(second));
    let next = fetch(
        &merchant,
        &format!(
            "/v1/payments?limit=1&starting_after={}",
            text(&all["data"][0]["id"])
        ),
    )?;
    ensure_eq!(next["data"][0]["checkout_session_id"], json!(first));
    ensure_eq!(next["has_more"], json!(false));
    let paged = fetch(&merchant, "/v1/orders?page=1&page_size=10")?;
    ensure_eq!(paged["count"], json!(2));
    let link = text(&paged["data"][0]["payment_link"]);
    let by_link = fetch(&merchant, &format!("/v1/orders?payment_link={link}"))?;
    ensure_eq!(by_link["data"].as_array().map(Vec::len), Some(1));
    ensure_eq!(
        fetch(&merchant, "/v1/payments?status=succeeded")?["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    ensure_eq!(
        fetch(&merchant, "/v1/payments?status=REFUNDED")?["data"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    ensure_eq!(
        fetch(&merchant, "/v1/orders?created_gte=2999-01-01T00:00:00Z")?["data"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    ensure_eq!(
        fetch(&merchant, "/v1/orders?created_lte=2999-01-01T00:00:00Z")?["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    refused(
        &merchant.get("/v1/payments?status=PAID_TWICE").send()?,
        400,
        "invalid_request",
        Some("status"),
    )?;
    refused(
        &merchant.get("/v1/orders?created_gte=yesterday").send()?,
        400,
        "invalid_request",
        Some("created_gte"),
    )?;
    // A publishable key lists nothing of the sales.
    let publishable = suite.publishable();
    ensure_eq!(publishable.get("/v1/orders").send()?.status, 403);
    Ok(())
}

fn refunds_are_partial_or_full_and_never_more_than_was_paid(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Refunding Shop")?;
    let session = bought(suite, &merchant, 590, SUCCESS)?;
    let payment = payment_of(&merchant, &session)?;
    let id = text(&payment["id"]);

    let first = refund(
        &merchant,
        json!({"payment_id": id, "amount": 100, "reason": "requested_by_customer", "metadata": {"ticket": "T-7"}}),
    )?;
    ensure!(
        first.status == 201,
        "refund answered {}: {}",
        first.status,
        first.body
    );
    let first = first.json();
    ensure!(text(&first["id"]).starts_with("re_"), "refund {first}");
    ensure_eq!(first["status"], json!("SUCCEEDED"));
    ensure_eq!(first["amount"], json!(100));
    ensure_eq!(first["currency"], json!("TWD"));
    ensure_eq!(first["reason"], json!("requested_by_customer"));
    ensure_eq!(first["metadata"]["ticket"], json!("T-7"));
    let after = fetch(&merchant, &format!("/v1/payments/{id}"))?;
    ensure_eq!(after["amount_refunded"], json!(100));
    ensure_eq!(after["status"], json!("PARTIALLY_REFUNDED"));

    // More than is left is refused, naming what is left; nothing changes.
    let too_much = refund(&merchant, json!({"payment_id": id, "amount": 500}))?;
    refused(&too_much, 409, "conflict", Some("amount"))?;
    ensure!(too_much.body.contains("490"), "{}", too_much.body);

    // Without an amount, the rest; then nothing is left.
    let rest = refund(&merchant, json!({"payment_id": id}))?;
    ensure_eq!(rest.status, 201);
    ensure_eq!(rest.json()["amount"], json!(490));
    let done = fetch(&merchant, &format!("/v1/payments/{id}"))?;
    ensure_eq!(done["amount_refunded"], json!(590));
    ensure_eq!(done["status"], json!("REFUNDED"));
    ensure_eq!(done["refunded"], json!(true));
    refused(
        &refund(&merchant, json!({"payment_id": id, "amount": 1}))?,
        409,
        "conflict",
        Some("payment_id"),
    )?;
    let order = fetch(
        &merchant,
        &format!("/v1/orders/{}", text(&done["order_id"])),
    )?;
    ensure_eq!(order["amount_refunded"], json!(590));
    ensure_eq!(order["payment_status"], json!("REFUNDED"));

    let listed = fetch(&merchant, &format!("/v1/refunds?payment_id={id}"))?;
    ensure_eq!(listed["data"].as_array().map(Vec::len), Some(2));
    ensure_eq!(listed["data"][1]["id"], first["id"]);
    ensure_eq!(
        fetch(&merchant, &format!("/v1/refunds/{}", text(&first["id"])))?,
        listed["data"][1]
    );
    let stored = suite.query(&format!(
        "SELECT sum(amount) AS refunded, count(*) AS n FROM refunds WHERE payment_id = '{id}' AND status = 'SUCCEEDED'"
    ))?;
    ensure_eq!(stored[0], json!({"refunded": 590, "n": 2}));

    // Events of the change: each refund created, and the payment refunded twice.
    let events = fetch(&merchant, "/v1/events?type=refund.created")?;
    ensure_eq!(events["data"].as_array().map(Vec::len), Some(2));
    let refunded = fetch(&merchant, "/v1/events?type=payment.refunded")?;
    let amounts: Vec<Value> = refunded["data"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["data"]["amount_refunded"].clone())
                .collect()
        })
        .unwrap_or_default();
    ensure_eq!(amounts, vec![json!(590), json!(100)]);
    ensure_eq!(refunded["data"][1]["data"]["refund"]["id"], first["id"]);

    // The receipt shows both refunds and what was kept.
    let page = receipt(suite, &text(&payment["receipt_url"]), "en")?;
    ensure!(
        page.body.contains("NT$100") && page.body.contains("NT$490") && page.body.contains("NT$0"),
        "the receipt does not show the refunds"
    );

    // Bad asks get clear errors and change nothing.
    refused(
        &refund(&merchant, json!({"payment_id": "pay_nothing"}))?,
        409,
        "resource_missing",
        Some("payment_id"),
    )?;
    refused(
        &refund(&merchant, json!({}))?,
        400,
        "invalid_request",
        Some("payment_id"),
    )?;
    refused(
        &refund(&merchant, json!({"payment_id": id, "amount": 0}))?,
        400,
        "invalid_request",
        Some("amount"),
    )?;
    refused(
        &refund(&merchant, json!({"payment_id": id, "reason": "bored"}))?,
        400,
        "invalid_request",
        Some("reason"),
    )?;
    let other = suite.fresh_merchant("Other Refunder")?;
    refused(
        &refund(&other, json!({"payment_id": id}))?,
        409,
        "resource_missing",
        Some("payment_id"),
    )?;
    Ok(())
}

fn twenty_concurrent_refunds_of_ten_against_a_hundred_exactly_ten_succeed(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Racing Refunds")?;
    let session = bought(suite, &merchant, 100, SUCCESS)?;
    let id = text(&payment_of(&merchant, &session)?["id"]);
    let replies = in_flight(20, |i| {
        merchant
            .post("/v1/refunds")
            .header("Idempotency-Key", &format!("race-{id}-{i}"))
            .json(&json!({"payment_id": id, "amount": 10}))
            .send()
            .map(|r| (r.status, r.json()))
            .map_err(|e| e.to_string())
    });
    let mut statuses = Vec::new();
    for reply in replies {
        let (status, body) = reply?;
        if status != 201 {
            // Too much, or (once the payment is all refunded) nothing left.
            ensure!(
                status == 409
                    && body["error"]["code"] == "conflict"
                    && (body["error"]["param"] == "amount"
                        || body["error"]["param"] == "payment_id"),
                "a losing refund answered {status}: {body}"
            );
        }
        statuses.push(status);
    }
    ensure_eq!(statuses.iter().filter(|s| **s == 201).count(), 10);
    ensure_eq!(statuses.iter().filter(|s| **s == 409).count(), 10);
    let payment = fetch(&merchant, &format!("/v1/payments/{id}"))?;
    ensure_eq!(payment["amount_refunded"], json!(100));
    ensure_eq!(payment["status"], json!("REFUNDED"));
    let stored = suite.query(&format!(
        "SELECT count(*) AS n, sum(amount) AS total FROM refunds WHERE payment_id = '{id}'"
    ))?;
    ensure_eq!(stored[0], json!({"n": 10, "total": 100}));
    Ok(())
}

fn a_refund_the_processor_refuses_gives_its_amount_back(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Unrefundable")?;
    // The sandbox's card whose charges succeed and whose refunds fail.
    let session = bought(suite, &merchant, 250, "4000 0000 0000 5126")?;
    let id = text(&payment_of(&merchant, &session)?["id"]);
    let reply = refund(&merchant, json!({"payment_id": id, "amount": 50}))?;
    refused(&reply, 402, "refund_failed", Some("payment_id"))?;
    let failed = &reply.json()["error"]["refund"];
    ensure_eq!(failed["status"], json!("FAILED"));
    ensure_eq!(failed["failure_reason"], json!("expired_or_canceled_card"));
    let payment = fetch(&merchant, &format!("/v1/payments/{id}"))?;
    ensure_eq!(payment["amount_refunded"], json!(0));
    ensure_eq!(payment["status"], json!("SUCCEEDED"));
    let events = fetch(&merchant, "/v1/events?type=refund.failed")?;
    ensure_eq!(events["data"][0]["data"]["id"], failed["id"]);
    ensure_eq!(
        fetch(&merchant, "/v1/events?type=payment.refunded")?["data"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    // The full amount can still be asked (and is refused the same way, not as too much).
    refused(
        &refund(&merchant, json!({"payment_id": id}))?,
        402,
        "refund_failed",
        Some("payment_id"),
    )?;
    Ok(())
}

fn a_renewal_is_a_payment_refunded_by_its_billing_order(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Renewals")?;
    let clock = text(
        &create(
            &merchant,
            "/v1/test_clocks",
            json!({"frozen_time": "2031-01-01T00:00:00Z"}),
        )?["id"],
    );
    let customer = text(
        &create(
            &merchant,
            "/v1/customers",
            json!({"name": "Subscriber", "email": "subscriber@example.com", "test_clock": clock}),
        )?["id"],
    );
    let card = text(
        &create(
            &merchant,
            "/v1/payment_methods",
            json!({"customer_id": customer, "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
        )?["id"],
    );
    let plan = text(
        &create(
            &merchant,
            "/v1/products",
            json!({"name": "Pro plan", "type": "recurring", "txamt": 900, "txcurrcd": "HKD",
                   "interval": "monthly", "interval_count": 1}),
        )?["id"],
    );
    let subscription = text(
        &create(
            &merchant,
            "/v1/subscriptions",
            json!({"customer_id": customer, "token_id": card, "products": [{"product_id": plan, "quantity": 1}]}),
        )?["id"],
    );
    let advanced = create(
        &merchant,
        &format!("/v1/test_clocks/{clock}/advance"),
        json!({"frozen_time": "2031-02-01T00:00:30Z"}),
    )?;
    ensure_eq!(advanced["status"], json!("READY"));
    let payments = fetch(
        &merchant,
        &format!("/v1/payments?subscription_id={subscription}"),
    )?;
    let payments = payments["data"].as_array().cloned().unwrap_or_default();
    ensure_eq!(payments.len(), 2);
    for payment in &payments {
        ensure_eq!(payment["amount"], json!(900));
        ensure_eq!(payment["customer_id"], json!(customer));
        ensure_eq!(payment["card"]["last4"], json!("4242"));
        ensure!(
            text(&payment["billing_order_id"]).starts_with("sub_ord_"),
            "payment {payment}"
        );
    }
    let second = text(&payments[0]["billing_order_id"]);
    let reply = refund(
        &merchant,
        json!({"billing_order_id": second, "amount": 300}),
    )?;
    ensure!(
        reply.status == 201,
        "refund answered {}: {}",
        reply.status,
        reply.body
    );
    ensure_eq!(reply.json()["payment_id"], payments[0]["id"]);
    let after = fetch(
        &merchant,
        &format!("/v1/payments/{}", text(&payments[0]["id"])),
    )?;
    ensure_eq!(after["amount_refunded"], json!(300));
    let page = receipt(suite, &text(&after["receipt_url"]), "en")?;
    ensure!(
        page.body.contains("Subscription period") && page.body.contains("2031-02-01"),
        "the renewal's receipt lacks its period"
    );
    refused(
        &refund(
            &merchant,
            json!({"billing_order_id": "sub_ord_nothing_0001"}),
        )?,
        409,
        "resource_missing",
        Some("billing_order_id"),
    )?;
    refused(
        &refund(
            &merchant,
            json!({"billing_order_id": second, "payment_id": payments[0]["id"]}),
        )?,
        400,
        "invalid_request",
        Some("payment_id"),
    )?;
    Ok(())
}

fn refund_events_reach_the_receiver_signed(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Refund Hooks")?;
    let receiver = Receiver::start(0)?;
    let hook = create(
        &merchant,
        "/v1/webhook_endpoints",
        json!({"url": receiver.url, "enabled_events": ["refund.created", "payment.refunded"]}),
    )?;
    let secret = text(&hook["secret"]);
    let session = bought(suite, &merchant, 700, SUCCESS)?;
    let id = text(&payment_of(&merchant, &session)?["id"]);
    // The same Idempotency-Key twice is one refund.
    let ask = |key: &str| {
        merchant
            .post("/v1/refunds")
            .header("Idempotency-Key", key)
            .json(&json!({"payment_id": id, "amount": 200}))
            .send()
    };
    let once = ask("refund-1")?;
    let again = ask("refund-1")?;
    ensure_eq!(once.status, 201);
    ensure_eq!(again.status, 201);
    ensure_eq!(once.json()["id"], again.json()["id"]);
    ensure_eq!(
        fetch(&merchant, &format!("/v1/payments/{id}"))?["amount_refunded"],
        json!(200)
    );
    let got = receiver.wait_for(2, Duration::from_secs(15), || {
        let _ = suite.run_cron();
    });
    ensure_eq!(got.len(), 2);
    let mut types = Vec::new();
    for delivery in &got {
        let signature = delivery.header("till-signature").unwrap_or_default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        ensure!(
            verify(signature, &delivery.body, &secret, now, 300).is_ok(),
            "signature {signature} does not verify"
        );
        let event: Value = serde_json::from_slice(&delivery.body)?;
        types.push(text(&event["type"]));
        if event["type"] == "payment.refunded" {
            ensure_eq!(event["data"]["id"], json!(id));
            ensure_eq!(event["data"]["amount_refunded"], json!(200));
        }
    }
    types.sort();
    ensure_eq!(types, vec!["payment.refunded", "refund.created"]);
    Ok(())
}

/// The row of `data` whose `field` is `key`.
fn row<'a>(stats: &'a Value, field: &str, key: &str) -> Option<&'a Value> {
    stats["data"]
        .as_array()?
        .iter()
        .find(|r| r[field] == json!(key))
}

fn a_link_s_funnel_counts_views_sessions_and_sales_by_day_and_source(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Funnel")?;
    // One shopper from the newsletter pays NT$590; another from Instagram only looks.
    let session = bought(suite, &merchant, 590, "4242 4242 4242 4242")?;
    let link = fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?["payment_link"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let url = fetch(&merchant, &format!("/v1/payment_links/{link}"))?["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hop = suite
        .client
        .get(&format!("{}?utm_source=Instagram", path_of(&url, suite)))
        .send()?;
    let (_, page) = crate::shopper::arrive(suite, &hop)?;
    ensure_eq!(page.status, 200);

    let by_day = fetch(&merchant, &format!("/v1/payment_links/{link}/stats"))?;
    ensure_eq!(by_day["object"], json!("stats"));
    ensure_eq!(by_day["group_by"], json!("day"));
    ensure_eq!(by_day["data"].as_array().map(Vec::len), Some(30));
    let totals = &by_day["totals"];
    ensure_eq!(totals["views"], json!(2));
    ensure_eq!(totals["sessions"], json!(2));
    ensure_eq!(totals["paid"], json!(1));
    ensure_eq!(totals["conversion"], json!(0.5));
    ensure_eq!(
        totals["revenue"],
        json!([{"currency": "TWD", "amount": 590}])
    );
    let today = by_day["to"].as_str().unwrap_or_default().to_owned();
    let today_row = row(&by_day, "day", &today).ok_or("no row for today")?;
    ensure_eq!(today_row["views"], json!(2));

    let by_source = fetch(
        &merchant,
        &format!("/v1/payment_links/{link}/stats?group_by=utm_source"),
    )?;
    let newsletter = row(&by_source, "utm_source", "newsletter").ok_or("no newsletter row")?;
    ensure_eq!(newsletter["views"], json!(1));
    ensure_eq!(newsletter["sessions"], json!(1));
    ensure_eq!(newsletter["paid"], json!(1));
    // Sources are counted lower case.
    let instagram = row(&by_source, "utm_source", "instagram").ok_or("no instagram row")?;
    ensure_eq!(instagram["paid"], json!(0));
    ensure_eq!(instagram["sessions"], json!(1));

    // The environment's funnel holds the link's; the stored rows agree.
    let all = fetch(&merchant, "/v1/stats?group_by=day")?;
    ensure_eq!(all["totals"]["paid"], json!(1));
    ensure_eq!(all["payment_link"], Value::Null);
    let stored = suite.query(&format!(
        "SELECT sum(views) AS views FROM link_view_days WHERE payment_link_id = '{link}'"
    ))?;
    ensure_eq!(stored[0]["views"], json!(2));

    // A day range: a day before any sale counts nothing; bad ranges are refused.
    let before = fetch(
        &merchant,
        &format!("/v1/payment_links/{link}/stats?from=2020-01-01&to=2020-01-02"),
    )?;
    ensure_eq!(before["totals"]["views"], json!(0));
    ensure_eq!(before["data"].as_array().map(Vec::len), Some(2));
    for (query, param) in [
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("from=2026-13-01", "from"),
        ("to=soon", "to"),
        ("group_by=week", "group_by"),
    ] {
        refused(
            &merchant
                .get(&format!("/v1/payment_links/{link}/stats?{query}"))
                .send()?,
            400,
            "invalid_request",
            Some(param),
        )?;
    }
    // Another merchant cannot read it.
    let other = suite.fresh_merchant("Nosy")?;
    refused(
        &other
            .get(&format!("/v1/payment_links/{link}/stats"))
            .send()?,
        404,
        "resource_not_found",
        None,
    )?;
    Ok(())
}

fn a_link_s_qr_code_is_an_svg_of_its_own(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("QR")?;
    let product = product(&merchant, "Poster", 300, "TWD")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"product_id": product["id"]}),
    )?;
    let id = link["id"].as_str().unwrap_or_default();
    let svg = merchant
        .get(&format!("/v1/payment_links/{id}/qr.svg"))
        .send()?;
    ensure_eq!(svg.status, 200);
    ensure_eq!(svg.header("content-type"), Some("image/svg+xml"));
    ensure_eq!(svg.header("x-content-type-options"), Some("nosniff"));
    ensure!(
        svg.body
            .starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "not an SVG"
    );
    // Its title is the URL it encodes, and it has modules to scan.
    let url = link["url"].as_str().unwrap_or_default();
    ensure!(
        svg.body.contains(&format!("<title>{url}</title>")),
        "no title"
    );
    ensure!(svg.body.matches('M').count() > 50, "too few modules");
    let other = suite.fresh_merchant("Not yours")?;
    refused(
        &other
            .get(&format!("/v1/payment_links/{id}/qr.svg"))
            .send()?,
        404,
        "resource_not_found",
        None,
    )?;
    Ok(())
}
