//! The OpenAPI document against the running Worker: every documented operation is routed,
//! and the objects the API returns have exactly the documented properties.

use std::collections::BTreeSet;

use libtest_mimic::Failed;
use serde_json::{Value, json};

use crate::support::{create, fetch, product};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "every_documented_operation_is_routed",
        every_documented_operation_is_routed,
    ),
    (
        "returned_objects_have_exactly_the_documented_properties",
        returned_objects_have_exactly_the_documented_properties,
    ),
];

fn every_documented_operation_is_routed(suite: &Suite) -> Result<(), Failed> {
    let doc = fetch(&suite.client, "/v1/openapi.json")?;
    ensure_eq!(doc["openapi"], json!("3.1.0"));
    // Built with the Worker, served with the origin it is reached at.
    ensure_eq!(doc["servers"], json!([{ "url": suite.worker.base_url }]));
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    ensure!(paths.len() >= 20, "only {} paths documented", paths.len());
    let mut operations = 0;
    for (path, methods) in &paths {
        for method in methods
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            operations += 1;
            let concrete = path.replace("{id}", "x_unknown");
            let reply = suite
                .client
                .request(&method.to_ascii_uppercase(), &concrete)
                .send()?;
            let unrouted = reply.status == 405
                || (reply.status == 404 && reply.body.contains("Unrecognized request URL"));
            ensure!(
                !unrouted,
                "{method} {path} is documented but not routed ({}: {})",
                reply.status,
                reply.body
            );
        }
    }
    ensure!(operations >= 40, "only {operations} operations documented");
    Ok(())
}

fn documented(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn keys(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn returned_objects_have_exactly_the_documented_properties(suite: &Suite) -> Result<(), Failed> {
    let doc = fetch(&suite.client, "/v1/openapi.json")?;
    let merchant = suite.merchant();
    let product = product(&merchant, "Documented", 500, "USD")?;
    let price = fetch(
        &merchant,
        &format!(
            "/v1/prices/{}",
            product["default_price"]["id"].as_str().unwrap_or_default()
        ),
    )?;
    let promo = create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "DOCUMENTED", "percent_off": 5}),
    )?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"productId": product["id"]}),
    )?;
    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": product["id"]}),
    )?;
    let products = fetch(&merchant, "/v1/products?limit=1")?;
    let paged = fetch(&merchant, "/v1/payment_links?page=1&page_size=1")?;
    let account = fetch(&merchant, "/v1/account")?;
    let health = fetch(&suite.client, "/healthz")?;
    let clock = create(
        &merchant,
        "/v1/test_clocks",
        json!({"frozen_time": "2027-01-01T00:00:00Z"}),
    )?;
    let customer = create(
        &merchant,
        "/v1/customers",
        json!({"name": "Documented", "test_clock": clock["id"]}),
    )?;
    let method = create(
        &merchant,
        "/v1/payment_methods",
        json!({"customer_id": customer["id"], "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2035, "cvc": "123"}}),
    )?;
    let plan = create(
        &merchant,
        "/v1/products",
        json!({"name": "Documented plan", "txamt": 100, "txcurrcd": "USD", "interval": "monthly"}),
    )?;
    let subscription = create(
        &merchant,
        "/v1/subscriptions",
        json!({"customer_id": customer["id"], "token_id": method["id"], "products": [{"product_id": plan["id"]}]}),
    )?;
    let orders = fetch(
        &merchant,
        &format!(
            "/v1/subscriptions/{}/billing_orders?page=1",
            subscription["id"].as_str().unwrap_or_default()
        ),
    )?;
    ensure_eq!(keys(&orders), documented(&doc, "BillingOrderList"));
    for (schema, object) in [
        ("Customer", &customer),
        ("PaymentMethod", &method),
        ("Subscription", &subscription),
        ("BillingOrder", &orders["data"][0]),
        ("TestClock", &clock),
        ("Product", &product),
        ("Price", &price),
        ("PromotionCode", &promo),
        ("PaymentLink", &link),
        ("CheckoutSession", &session),
        ("Account", &account),
        ("Health", &health),
        ("OpenApiDocument", &doc),
    ] {
        ensure_eq!(keys(object), documented(&doc, schema));
    }
    ensure_eq!(
        keys(&products),
        documented(&doc, "ProductList")
            .into_iter()
            .filter(|k| !["count", "page", "page_size", "list"].contains(&k.as_str()))
            .collect::<BTreeSet<_>>()
    );
    ensure_eq!(keys(&paged), documented(&doc, "PaymentLinkList"));
    Ok(())
}
