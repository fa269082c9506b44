//! Checkout sessions as the hosted-checkout document creates them: modes, redirect URLs,
//! prefilled customer, metadata (secret keys only), promotion codes, expiry.

use libtest_mimic::Failed;
use serde_json::json;

use crate::support::{create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "sessions_round_trip_as_the_hosted_checkout_guide_uses_them",
        sessions_round_trip_as_the_hosted_checkout_guide_uses_them,
    ),
    (
        "modes_follow_the_price_and_setup_charges_nothing",
        modes_follow_the_price_and_setup_charges_nothing,
    ),
    (
        "publishable_keys_create_sessions_but_not_with_metadata",
        publishable_keys_create_sessions_but_not_with_metadata,
    ),
    ("sessions_expire_once", sessions_expire_once),
    (
        "the_cron_expires_due_sessions_once_with_an_event",
        the_cron_expires_due_sessions_once_with_an_event,
    ),
    (
        "the_cron_releases_abandoned_payment_reservations",
        the_cron_releases_abandoned_payment_reservations,
    ),
    (
        "an_expiry_event_carries_the_session_as_get_shows_it",
        an_expiry_event_carries_the_session_as_get_shows_it,
    ),
];

fn sessions_round_trip_as_the_hosted_checkout_guide_uses_them(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let product = product(&merchant, "100 points", 1000, "TWD")?;
    create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "TOPUP15", "percent_off": 15}),
    )?;
    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({
            "productId": product["id"], "mode": "PAYMENT",
            "successUrl": "https://yoursite.com/success?session_id={CHECKOUT_SESSION_ID}",
            "cancelUrl": "https://yoursite.com/cancel",
            "customerEmail": "user@example.com", "customerName": "王小明",
            "metadata": {"transaction_id": "txn_abc123", "points": 100},
            "promotionCode": "topup15", "locale": "zh-TW", "client_reference_id": "order-42",
        }),
    )?;
    let id = session["id"].as_str().unwrap_or_default();
    ensure!(id.starts_with("cs_"), "id {id}");
    ensure_eq!(session["object"], json!("checkout.session"));
    ensure_eq!(
        session["url"],
        json!(format!("{}/c/{id}", suite.worker.base_url))
    );
    ensure_eq!(session["status"], json!("OPEN"));
    ensure_eq!(session["mode"], json!("PAYMENT"));
    ensure_eq!(session["currency"], json!("TWD"));
    ensure_eq!(session["amount_subtotal"], json!(1000));
    ensure_eq!(session["amount_discount"], json!(150));
    ensure_eq!(session["amount_total"], json!(850));
    ensure_eq!(session["promotion_code"], json!("topup15"));
    ensure_eq!(
        session["success_url"],
        json!("https://yoursite.com/success?session_id={CHECKOUT_SESSION_ID}")
    );
    ensure_eq!(session["customer_email"], json!("user@example.com"));
    ensure_eq!(session["customer_name"], json!("王小明"));
    ensure_eq!(
        session["metadata"],
        json!({"transaction_id": "txn_abc123", "points": "100"})
    );
    ensure_eq!(session["locale"], json!("zh-TW"));
    ensure_eq!(session["client_reference_id"], json!("order-42"));
    ensure_eq!(session["orderId"], json!(null));
    ensure_eq!(session["subscriptionId"], json!(null));
    ensure_eq!(
        session["line_items"][0]["price_id"],
        product["default_price"]["id"]
    );
    ensure_eq!(
        fetch(&merchant, &format!("/v1/checkout/sessions/{id}"))?,
        session
    );
    let listed = fetch(&merchant, "/v1/checkout/sessions?status=open&limit=100")?;
    ensure!(
        listed["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|s| s["id"] == id)),
        "not listed"
    );

    for (body, param) in [
        (
            json!({"productId": product["id"], "successUrl": "ftp://x.example"}),
            "success_url",
        ),
        (
            json!({"productId": product["id"], "cancelUrl": "not a url"}),
            "cancel_url",
        ),
        (
            json!({"productId": product["id"], "customerEmail": "nobody"}),
            "customer_email",
        ),
        (
            json!({"productId": product["id"], "locale": "xx"}),
            "locale",
        ),
        (
            json!({"productId": product["id"], "mode": "RENTAL"}),
            "mode",
        ),
        (json!({}), "product_id"),
    ] {
        refused(
            &merchant.post("/v1/checkout/sessions").json(&body).send()?,
            400,
            "invalid_request",
            Some(param),
        )?;
    }
    let unknown = merchant
        .post("/v1/checkout/sessions")
        .json(&json!({"productId": "prod_gone"}))
        .send()?;
    refused(&unknown, 409, "resource_missing", Some("product_id"))
}

fn modes_follow_the_price_and_setup_charges_nothing(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let one_time = product(&merchant, "Ebook", 300, "USD")?;
    let monthly = create(
        &merchant,
        "/v1/products",
        json!({"name": "Monthly plan", "price": {"amount": 900, "currency": "USD", "interval": "MONTH"}}),
    )?;
    let subscription = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": monthly["id"]}),
    )?;
    ensure_eq!(subscription["mode"], json!("SUBSCRIPTION"));
    ensure_eq!(subscription["amount_total"], json!(900));
    let wrong = merchant
        .post("/v1/checkout/sessions")
        .json(&json!({"productId": one_time["id"], "mode": "SUBSCRIPTION"}))
        .send()?;
    refused(&wrong, 409, "conflict", Some("mode"))?;
    let recurring_as_payment = merchant
        .post("/v1/checkout/sessions")
        .json(&json!({"productId": monthly["id"], "mode": "PAYMENT"}))
        .send()?;
    refused(&recurring_as_payment, 409, "conflict", Some("mode"))?;
    let setup = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": monthly["id"], "mode": "SETUP"}),
    )?;
    ensure_eq!(setup["mode"], json!("SETUP"));
    ensure_eq!(setup["amount_total"], json!(0));
    ensure_eq!(setup["payment_status"], json!("no_payment_required"));
    let by_price = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"price_id": one_time["default_price"]["id"]}),
    )?;
    ensure_eq!(by_price["mode"], json!("PAYMENT"));
    ensure_eq!(by_price["amount_total"], json!(300));
    Ok(())
}

fn publishable_keys_create_sessions_but_not_with_metadata(suite: &Suite) -> Result<(), Failed> {
    let product = product(&suite.merchant(), "Sticker", 150, "USD")?;
    let publishable = suite.publishable();
    let session = create(
        &publishable,
        "/v1/checkout/sessions",
        json!({"productId": product["id"], "customerEmail": "a@b.co"}),
    )?;
    ensure_eq!(session["status"], json!("OPEN"));
    let with_metadata = publishable
        .post("/v1/checkout/sessions")
        .json(&json!({"productId": product["id"], "metadata": {"userId": "u1"}}))
        .send()?;
    refused(&with_metadata, 403, "forbidden", Some("metadata"))?;
    // Reading sessions back needs the secret key.
    let id = session["id"].as_str().unwrap_or_default();
    refused(
        &publishable
            .get(&format!("/v1/checkout/sessions/{id}"))
            .send()?,
        403,
        "forbidden",
        None,
    )
}

fn sessions_expire_once(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let product = product(&merchant, "Expiring", 100, "USD")?;
    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": product["id"]}),
    )?;
    let id = session["id"].as_str().unwrap_or_default();
    let expired = merchant
        .post(&format!("/v1/checkout/sessions/{id}/expire"))
        .send()?;
    ensure_eq!(expired.status, 200);
    ensure_eq!(expired.json()["status"], json!("EXPIRED"));
    let again = merchant
        .post(&format!("/v1/checkout/sessions/{id}/expire"))
        .send()?;
    refused(&again, 409, "conflict", None)?;
    let too_soon = merchant
        .post("/v1/checkout/sessions")
        .json(&json!({"productId": product["id"], "expires_at": 60}))
        .send()?;
    refused(&too_soon, 400, "invalid_request", Some("expires_at"))
}

fn expired_events(suite: &Suite, session: &str) -> Result<Vec<serde_json::Value>, Failed> {
    Ok(suite.query(&format!(
        "SELECT data FROM events WHERE type = 'checkout.expired' AND object_id = '{session}'"
    ))?)
}

fn the_cron_expires_due_sessions_once_with_an_event(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let product = product(&merchant, "Due soon", 100, "USD")?;
    let due = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": product["id"], "client_reference_id": "due-1"}),
    )?;
    let later = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": product["id"]}),
    )?;
    let due_id = due["id"].as_str().unwrap_or_default();
    suite.update(&format!(
        "UPDATE checkout_sessions SET expires_at = 1 WHERE id = '{due_id}'"
    ))?;
    suite.run_cron()?;
    suite.run_cron()?;
    ensure_eq!(
        fetch(&merchant, &format!("/v1/checkout/sessions/{due_id}"))?["status"],
        json!("EXPIRED")
    );
    let later_id = later["id"].as_str().unwrap_or_default();
    ensure_eq!(
        fetch(&merchant, &format!("/v1/checkout/sessions/{later_id}"))?["status"],
        json!("OPEN")
    );
    let events = expired_events(suite, due_id)?;
    ensure_eq!(events.len(), 1);
    let data: serde_json::Value = serde_json::from_str(events[0]["data"].as_str().unwrap_or("{}"))?;
    ensure_eq!(data["id"], json!(due_id));
    ensure_eq!(data["status"], json!("EXPIRED"));
    ensure_eq!(data["client_reference_id"], json!("due-1"));
    // Expiring through the API writes the event too.
    merchant
        .post(&format!("/v1/checkout/sessions/{later_id}/expire"))
        .send()?;
    ensure_eq!(expired_events(suite, later_id)?.len(), 1);
    Ok(())
}

fn the_cron_releases_abandoned_payment_reservations(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Abandoned")?;
    let product = product(&merchant, "Last one", 100, "USD")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"productId": product["id"], "maxCompletions": 1}),
    )?;
    let link_id = link["id"].as_str().unwrap_or_default();
    let path = link["url"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches(&suite.worker.base_url)
        .to_owned();
    let visit = suite.client.get(&path).send()?;
    let (session, page) = crate::shopper::arrive(suite, &visit)?;
    ensure_eq!(page.status, 200);
    // What a shopper meets: the page a visit leads to (or the visit's own answer).
    let meets = |path: &str| -> Result<u16, Failed> {
        let visit = suite.client.get(path).send()?;
        if visit.status != 302 {
            return Ok(visit.status);
        }
        Ok(crate::shopper::arrive(suite, &visit)?.1.status)
    };
    // A payment takes the only completion. Other checks run crons meanwhile, so the link
    // counts it before the session holds it, and it is abandoned only once the 410 is seen:
    // no cron in between can find a stale reservation that the link does not count.
    suite.update(&format!(
        "UPDATE payment_links SET reserved_count = 1 WHERE id = '{link_id}'"
    ))?;
    suite.update(&format!(
        "UPDATE checkout_sessions SET reservation = 'abandoned', reserved_at = unixepoch() WHERE id = '{session}'"
    ))?;
    ensure_eq!(meets(&path)?, 410);
    // It was left 20 minutes ago.
    suite.update(&format!(
        "UPDATE checkout_sessions SET reserved_at = unixepoch() - 1200 WHERE id = '{session}'"
    ))?;
    suite.run_cron()?;
    let rows = suite.query(&format!(
        "SELECT (SELECT reserved_count FROM payment_links WHERE id = '{link_id}') AS reserved,
                (SELECT count(*) FROM checkout_sessions WHERE id = '{session}' AND reservation IS NULL) AS released"
    ))?;
    ensure_eq!(rows[0], json!({"reserved": 0, "released": 1}));
    ensure_eq!(meets(&path)?, 200);
    Ok(())
}

/// The one `checkout.expired` of a session, its `data` parsed.
fn expired_event_data(suite: &Suite, session: &str) -> Result<serde_json::Value, Failed> {
    let events = expired_events(suite, session)?;
    ensure_eq!(events.len(), 1);
    Ok(serde_json::from_str(
        events[0]["data"].as_str().unwrap_or("{}"),
    )?)
}

fn an_expiry_event_carries_the_session_as_get_shows_it(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Expiry events")?;
    let product = product(&merchant, "Kept for later", 250, "USD")?;
    let body = json!({"productId": product["id"], "client_reference_id": "ref-7",
        "customer_email": "later@example.com", "metadata": {"cart": "c-1"}});
    let by_api = create(&merchant, "/v1/checkout/sessions", body.clone())?;
    let api_id = by_api["id"].as_str().unwrap_or_default();
    let expired = merchant
        .post(&format!("/v1/checkout/sessions/{api_id}/expire"))
        .send()?;
    ensure_eq!(expired.status, 200);
    let shown = fetch(&merchant, &format!("/v1/checkout/sessions/{api_id}"))?;
    ensure_eq!(shown["status"], json!("EXPIRED"));
    ensure_eq!(expired.json(), shown);
    ensure_eq!(expired_event_data(suite, api_id)?, shown);

    // The cron has no request: its event's `url` is on the origin the session was opened
    // on, so the event is exactly what GET shows, like the API's.
    let by_cron = create(&merchant, "/v1/checkout/sessions", body)?;
    let cron_id = by_cron["id"].as_str().unwrap_or_default();
    suite.update(&format!(
        "UPDATE checkout_sessions SET expires_at = 1 WHERE id = '{cron_id}'"
    ))?;
    suite.run_cron()?;
    let shown = fetch(&merchant, &format!("/v1/checkout/sessions/{cron_id}"))?;
    let data = expired_event_data(suite, cron_id)?;
    ensure_eq!(
        data["url"],
        json!(format!("{}/c/{cron_id}", suite.worker.base_url))
    );
    ensure_eq!(data, shown);
    Ok(())
}
