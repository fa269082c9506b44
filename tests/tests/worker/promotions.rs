//! Promotion codes restricted to products: a code for one product takes its discount off
//! that product's lines only, whether the session comes from the API, from a link that
//! carries the code, or from the code typed on the hosted page.

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_tests::http::Client;

use crate::shopper::{SUCCESS, csrf, form, pay, visit};
use crate::support::{create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_code_for_one_product_discounts_only_that_product_through_the_api",
        a_code_for_one_product_discounts_only_that_product_through_the_api,
    ),
    (
        "a_code_for_one_product_discounts_only_that_product_on_a_link",
        a_code_for_one_product_discounts_only_that_product_on_a_link,
    ),
    (
        "a_code_for_one_product_discounts_only_that_product_on_the_page",
        a_code_for_one_product_discounts_only_that_product_on_the_page,
    ),
];

/// A NT$10,000 sticker and a NT$300,000 laptop, and `code`: 50 % off the sticker only.
/// Answers the cart's line items.
fn sticker_and_laptop(merchant: &Client, code: &str) -> Result<Value, Failed> {
    let sticker = product(merchant, "Sticker", 10_000, "TWD")?;
    let laptop = product(merchant, "Laptop", 300_000, "TWD")?;
    create(
        merchant,
        "/v1/promotion_codes",
        json!({"code": code, "percent_off": 50, "products": [sticker["id"]]}),
    )?;
    Ok(json!([
        {"price_id": sticker["default_price"]["id"], "quantity": 1},
        {"price_id": laptop["default_price"]["id"], "quantity": 1},
    ]))
}

fn amounts(session: &Value) -> (Value, Value, Value) {
    (
        session["amount_subtotal"].clone(),
        session["amount_discount"].clone(),
        session["amount_total"].clone(),
    )
}

fn a_code_for_one_product_discounts_only_that_product_through_the_api(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Sticker shop (API)")?;
    let lines = sticker_and_laptop(&merchant, "STICKER50")?;
    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"line_items": lines, "promotion_code": "sticker50", "mode": "PAYMENT",
               "success_url": "https://shop.example/thanks"}),
    )?;
    ensure_eq!(
        amounts(&session),
        (json!(310_000), json!(5_000), json!(305_000))
    );
    // The laptop alone: the code applies to nothing in the cart.
    let laptop_only = json!([lines[1].clone()]);
    refused(
        &merchant
            .post("/v1/checkout/sessions")
            .json(
                &json!({"line_items": laptop_only, "promotion_code": "STICKER50",
                          "success_url": "https://shop.example/thanks"}),
            )
            .send()?,
        409,
        "conflict",
        Some("promotion_code"),
    )?;
    Ok(())
}

fn a_code_for_one_product_discounts_only_that_product_on_a_link(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Sticker shop (link)")?;
    let lines = sticker_and_laptop(&merchant, "LINKSTICKER")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"line_items": lines, "promotion_code": "LINKSTICKER",
               "success_url": "https://shop.example/thanks"}),
    )?;
    let session = visit(suite, &link)?;
    let priced = fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?;
    ensure_eq!(
        amounts(&priced),
        (json!(310_000), json!(5_000), json!(305_000))
    );
    let page = suite.client.get(&format!("/c/{session}")).send()?;
    ensure!(
        page.body.contains("NT$305,000"),
        "the page does not show NT$305,000"
    );
    ensure_eq!(
        pay(suite, &session, &csrf(&page)?, SUCCESS, &[])?.status,
        303
    );
    let order = suite.query(&format!(
        "SELECT amount_subtotal, amount_discount, amount_total FROM orders WHERE checkout_session_id = '{session}'"
    ))?;
    ensure_eq!(
        order,
        vec![
            json!({"amount_subtotal": 310_000, "amount_discount": 5_000, "amount_total": 305_000})
        ]
    );
    Ok(())
}

fn a_code_for_one_product_discounts_only_that_product_on_the_page(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Sticker shop (page)")?;
    let lines = sticker_and_laptop(&merchant, "PAGESTICKER")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"line_items": lines, "allow_promotion_codes": true}),
    )?;
    let session = visit(suite, &link)?;
    let page = suite.client.get(&format!("/c/{session}")).send()?;
    let applied = suite
        .client
        .post(&format!("/c/{session}/promotion"))
        .body(
            "application/x-www-form-urlencoded",
            form(&[("csrf", &csrf(&page)?), ("code", "pagesticker")]),
        )
        .send()?;
    ensure_eq!(applied.status, 303);
    let priced = fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?;
    ensure_eq!(
        amounts(&priced),
        (json!(310_000), json!(5_000), json!(305_000))
    );
    let page = suite.client.get(&format!("/c/{session}")).send()?;
    ensure!(
        page.body.contains("−NT$5,000") && page.body.contains("NT$305,000"),
        "the page does not show NT$5,000 off and NT$305,000"
    );
    Ok(())
}
