//! Events as merchants read them: written with the change, listed, filtered, paged.

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_tests::http::Client;

use crate::shopper::{csrf, pay};
use crate::support::{create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_completed_checkout_is_an_event_the_webhook_sample_can_read",
        a_completed_checkout_is_an_event_the_webhook_sample_can_read,
    ),
    (
        "events_filter_by_type_and_time_and_page",
        events_filter_by_type_and_time_and_page,
    ),
    (
        "payment_link_changes_are_events_with_the_link",
        payment_link_changes_are_events_with_the_link,
    ),
    (
        "every_event_s_data_is_the_object_as_get_returns_it",
        every_event_s_data_is_the_object_as_get_returns_it,
    ),
];

/// The newest event of `kind` about `object_id`: it must exist.
fn newest(merchant: &Client, kind: &str, object_id: &str) -> Result<Value, Failed> {
    let list = fetch(merchant, &format!("/v1/events?type={kind}&limit=100"))?;
    list["data"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .find(|e| e["object_id"] == object_id || e["data"]["id"] == object_id)
        })
        .cloned()
        .ok_or_else(|| Failed::from(format!("no {kind} event about {object_id}")))
}

/// The event of `kind` just written about the object at `path` carries exactly what a GET of
/// `path` answers now.
fn event_is_get(merchant: &Client, kind: &str, path: &str) -> Result<(), Failed> {
    let object = fetch(merchant, path)?;
    let id = object["id"].as_str().unwrap_or_default().to_owned();
    let event = newest(merchant, kind, &id)?;
    if event["data"] != object {
        return Err(format!(
            "{kind}: the event's data differs from GET {path}\n event: {}\n   GET: {object}",
            event["data"]
        )
        .into());
    }
    Ok(())
}

/// Each event type, right after the change it reports, against the object's GET. (The
/// `payment.*` events have no object of their own to GET yet; `customer.deleted` reports a
/// customer GET no longer finds.)
fn every_event_s_data_is_the_object_as_get_returns_it(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Events are objects")?;
    let sold = product(&merchant, "Tea", 450, "TWD")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"productId": sold["id"], "metadata": {"shelf": "B1"}}),
    )?;
    let link_path = format!(
        "/v1/payment_links/{}",
        link["id"].as_str().unwrap_or_default()
    );
    event_is_get(&merchant, "payment_link.created", &link_path)?;
    crate::support::change(
        &merchant,
        "PATCH",
        &link_path,
        json!({"title": "Green tea", "max_completions": 5}),
    )?;
    event_is_get(&merchant, "payment_link.updated", &link_path)?;
    create(&merchant, &format!("{link_path}/archive"), json!({}))?;
    event_is_get(&merchant, "payment_link.deactivated", &link_path)?;

    let customer = create(
        &merchant,
        "/v1/customers",
        json!({"name": "Lin", "email": "lin@example.com", "metadata": {"tier": "gold"}}),
    )?;
    let customer_id = customer["id"].as_str().unwrap_or_default().to_owned();
    let customer_path = format!("/v1/customers/{customer_id}");
    event_is_get(&merchant, "customer.created", &customer_path)?;
    crate::support::change(
        &merchant,
        "PATCH",
        &customer_path,
        json!({"name": "Lin Mei"}),
    )?;
    event_is_get(&merchant, "customer.updated", &customer_path)?;

    let card = create(
        &merchant,
        "/v1/payment_methods",
        json!({"customer_id": customer_id, "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
    )?;
    let card_path = format!(
        "/v1/payment_methods/{}",
        card["id"].as_str().unwrap_or_default()
    );
    event_is_get(&merchant, "payment_method.attached", &card_path)?;

    let plan = create(
        &merchant,
        "/v1/products",
        json!({"name": "Tea club", "price": {"amount": 900, "currency": "TWD", "interval": "MONTH"}}),
    )?;
    // Starting later, so the subscription is not billed (and changed) right after it is made.
    let subscription = create(
        &merchant,
        "/v1/subscriptions",
        json!({"customer_id": customer_id, "token_id": card["id"],
               "products": [{"product_id": plan["id"], "quantity": 1}],
               "start_time": "2099-01-01T00:00:00Z"}),
    )?;
    let subscription_path = format!(
        "/v1/subscriptions/{}",
        subscription["id"].as_str().unwrap_or_default()
    );
    event_is_get(&merchant, "subscription.created", &subscription_path)?;
    crate::support::change(
        &merchant,
        "PATCH",
        &subscription_path,
        json!({"metadata": {"seat": "3"}}),
    )?;
    event_is_get(&merchant, "subscription.updated", &subscription_path)?;
    create(&merchant, &format!("{subscription_path}/cancel"), json!({}))?;
    event_is_get(&merchant, "subscription.canceled", &subscription_path)?;
    create(&merchant, &format!("{card_path}/detach"), json!({}))?;
    event_is_get(&merchant, "payment_method.detached", &card_path)?;

    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": sold["id"], "successUrl": "https://shop.example/ok"}),
    )?;
    let session_id = session["id"].as_str().unwrap_or_default().to_owned();
    let page = suite.client.get(&format!("/c/{session_id}")).send()?;
    ensure_eq!(
        pay(
            suite,
            &session_id,
            &csrf(&page)?,
            "4242 4242 4242 4242",
            &[]
        )?
        .status,
        303
    );
    event_is_get(
        &merchant,
        "checkout.completed",
        &format!("/v1/checkout/sessions/{session_id}"),
    )?;
    let unpaid = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": sold["id"], "successUrl": "https://shop.example/ok"}),
    )?;
    let unpaid_path = format!(
        "/v1/checkout/sessions/{}",
        unpaid["id"].as_str().unwrap_or_default()
    );
    create(&merchant, &format!("{unpaid_path}/expire"), json!({}))?;
    event_is_get(&merchant, "checkout.expired", &unpaid_path)?;
    Ok(())
}

fn payment_link_changes_are_events_with_the_link(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Link events")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"amount": 7440, "currency": "THB", "title": "Hot Latte", "metadata": {"shelf": "A2"}}),
    )?;
    let id = link["id"].as_str().unwrap_or_default();
    let path = format!("/v1/payment_links/{id}");
    crate::support::change(&merchant, "PATCH", &path, json!({"title": "Iced Latte"}))?;
    create(&merchant, &format!("{path}/archive"), json!({}))?;
    // Archiving again changes nothing, so it is no event.
    create(&merchant, &format!("{path}/archive"), json!({}))?;
    let reply = merchant.request("DELETE", &path).send()?;
    ensure_eq!(reply.status, 200);

    let events = fetch(&merchant, "/v1/events?type=payment_link.*&limit=100")?;
    let seen: Vec<(String, Value)> = events["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .rev()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["data"].clone(),
            )
        })
        .collect();
    let kinds: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
    ensure_eq!(
        kinds,
        vec![
            "payment_link.created",
            "payment_link.updated",
            "payment_link.deactivated",
            "payment_link.deactivated"
        ]
    );
    let created = &seen[0].1;
    ensure_eq!(created["id"], json!(id));
    ensure_eq!(created["url"], link["url"]);
    ensure_eq!(created["url_id"], link["url_id"]);
    ensure_eq!(created["active"], json!(true));
    ensure_eq!(created["metadata"], json!({"shelf": "A2"}));
    ensure_eq!(seen[1].1["title"], json!("Iced Latte"));
    ensure_eq!(
        (seen[2].1["active"].clone(), seen[2].1["deleted"].clone()),
        (json!(false), json!(false))
    );
    ensure_eq!(seen[3].1["deleted"], json!(true));
    Ok(())
}

fn a_completed_checkout_is_an_event_the_webhook_sample_can_read(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Events")?;
    let product = product(&merchant, "100 points", 1000, "TWD")?;
    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": product["id"], "successUrl": "https://yoursite.com/success", "metadata": {"transaction_id": "txn_abc123"}}),
    )?;
    let id = session["id"].as_str().unwrap_or_default();
    let page = suite.client.get(&format!("/c/{id}")).send()?;
    let token = csrf(&page)?;
    ensure_eq!(
        pay(suite, id, &token, "4000 0000 0000 0002", &[])?.status,
        402
    );
    ensure_eq!(
        pay(suite, id, &token, "4242 4242 4242 4242", &[])?.status,
        303
    );

    // The decline and the payment are events too, written with their changes.
    let failed = fetch(&merchant, "/v1/events?type=payment.failed")?;
    ensure_eq!(
        failed["data"][0]["data"]["failure_code"],
        json!("card_declined")
    );
    ensure_eq!(failed["data"][0]["data"]["card"]["last4"], json!("0002"));
    ensure_eq!(failed["data"][0]["data"]["checkout_session_id"], json!(id));
    let succeeded = fetch(&merchant, "/v1/events?type=payment.succeeded")?;
    ensure_eq!(succeeded["data"][0]["data"]["status"], json!("SUCCEEDED"));
    ensure_eq!(succeeded["data"][0]["data"]["amount"], json!(1000));
    ensure_eq!(succeeded["data"][0]["data"]["card"]["last4"], json!("4242"));
    ensure_eq!(
        fetch(&merchant, "/v1/events?type=payment.*")?["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let listed = fetch(&merchant, "/v1/events?type=checkout.completed")?;
    ensure_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    let event = &listed["data"][0];
    ensure!(
        event["id"].as_str().is_some_and(|e| e.starts_with("evt_")),
        "event id {}",
        event["id"]
    );
    ensure_eq!(event["object"], json!("event"));
    ensure_eq!(event["type"], json!("checkout.completed"));
    ensure_eq!(event["livemode"], json!(false));
    // What the hosted-checkout guide's webhook handler reads.
    ensure_eq!(event["data"]["id"], json!(id));
    ensure_eq!(
        event["data"]["metadata"]["transaction_id"],
        json!("txn_abc123")
    );
    ensure_eq!(event["data"]["status"], json!("COMPLETE"));
    ensure_eq!(event["data"]["amount_total"], json!(1000));
    let event_id = event["id"].as_str().unwrap_or_default();
    // Retrieved alone, the event is the listed one plus its webhook deliveries (none here).
    let mut single = fetch(&merchant, &format!("/v1/events/{event_id}"))?;
    ensure_eq!(single["deliveries"], json!([]));
    if let Some(object) = single.as_object_mut() {
        object.remove("deliveries");
    }
    ensure_eq!(&single, event);
    ensure_eq!(
        fetch(&merchant, "/v1/events?type=checkout.*")?["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Another merchant does not see it.
    let stranger = suite.client.with_bearer(&suite.other.keys.test.secret_key);
    refused(
        &stranger.get(&format!("/v1/events/{event_id}")).send()?,
        404,
        "resource_not_found",
        None,
    )?;
    refused(
        &suite.publishable().get("/v1/events").send()?,
        403,
        "forbidden",
        None,
    )
}

fn events_filter_by_type_and_time_and_page(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Event pages")?;
    let product = product(&merchant, "Tea", 300, "JPY")?;
    for _ in 0..3 {
        let session = create(
            &merchant,
            "/v1/checkout/sessions",
            json!({"productId": product["id"]}),
        )?;
        let id = session["id"].as_str().unwrap_or_default();
        ensure_eq!(
            merchant
                .post(&format!("/v1/checkout/sessions/{id}/expire"))
                .send()?
                .status,
            200
        );
    }
    let page = fetch(&merchant, "/v1/events?type=checkout.expired&limit=2")?;
    ensure_eq!(page["data"].as_array().map(Vec::len), Some(2));
    ensure_eq!(page["has_more"], json!(true));
    let last = page["data"][1]["id"].as_str().unwrap_or_default();
    let rest = fetch(
        &merchant,
        &format!("/v1/events?type=checkout.expired&limit=2&starting_after={last}"),
    )?;
    ensure_eq!(rest["data"].as_array().map(Vec::len), Some(1));
    ensure_eq!(rest["has_more"], json!(false));
    let counted = fetch(
        &merchant,
        "/v1/events?type=checkout.expired&page=1&page_size=10",
    )?;
    ensure_eq!(counted["count"], json!(3));
    ensure_eq!(
        fetch(&merchant, "/v1/events?created_gte=2099-01-01T00:00:00Z")?["data"],
        json!([])
    );
    ensure_eq!(
        fetch(&merchant, "/v1/events?created_lte=2000-01-01T00:00:00Z")?["data"],
        json!([])
    );
    ensure_eq!(
        fetch(&merchant, "/v1/events?type=checkout.completed")?["data"],
        json!([])
    );
    refused(
        &merchant.get("/v1/events?created_gte=yesterday").send()?,
        400,
        "invalid_request",
        Some("created_gte"),
    )
}
