//! Payment links in the three documents' forms: by product (camelCase, `/v1/payment-links`),
//! by line items (page / page_size listing with a total count), and by amount.

use libtest_mimic::Failed;
use serde_json::{Value, json};

use crate::support::{change, create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "product_links_round_trip_every_documented_field",
        product_links_round_trip_every_documented_field,
    ),
    (
        "line_item_links_round_trip_and_list_by_page",
        line_item_links_round_trip_and_list_by_page,
    ),
    (
        "amount_links_are_single_use_unless_multiple",
        amount_links_are_single_use_unless_multiple,
    ),
    (
        "bad_payment_links_are_refused_and_nothing_is_stored",
        bad_payment_links_are_refused_and_nothing_is_stored,
    ),
    (
        "cursor_lists_filter_by_active",
        cursor_lists_filter_by_active,
    ),
];

fn is_short_code(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 15 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn product_links_round_trip_every_documented_field(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let product = create(
        &merchant,
        "/v1/products",
        json!({"name": "Pro Monthly Link", "slug": "pro-monthly-link", "price": {"amount": 590, "currency": "TWD", "interval": "month"}}),
    )?;
    let product_id = product["id"].as_str().unwrap_or_default();
    create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "LINK20", "percent_off": 20}),
    )?;
    // The payment-links document's own request, camelCase, on its own path spelling.
    let link = create(
        &merchant,
        "/v1/payment-links",
        json!({
            "productId": product_id, "promotionCode": "LINK20", "maxCompletions": 100,
            "successUrl": "https://your-site.com/thanks", "collectPaymentMethod": "if_required",
            "metadata": {"campaign": "spring"},
        }),
    )?;
    let id = link["id"].as_str().unwrap_or_default();
    ensure!(id.starts_with("plink_"), "id {id}");
    ensure!(is_short_code(&link["url_id"]), "url_id {}", link["url_id"]);
    ensure_eq!(
        link["url"],
        json!(format!(
            "{}/{}",
            suite.worker.base_url,
            link["url_id"].as_str().unwrap_or_default()
        ))
    );
    ensure_eq!(link["active"], json!(true));
    ensure_eq!(link["product_id"], json!(product_id));
    ensure_eq!(
        link["product"],
        json!({"id": product_id, "name": "Pro Monthly Link", "slug": "pro-monthly-link", "price": 590, "currency": "TWD", "type": "SUBSCRIPTION"})
    );
    ensure_eq!(link["promotion_code"], json!("LINK20"));
    ensure_eq!(link["collect_payment_method"], json!("if_required"));
    ensure_eq!(link["success_url"], json!("https://your-site.com/thanks"));
    ensure_eq!(link["max_completions"], json!(100));
    ensure_eq!(link["metadata"], json!({"campaign": "spring"}));
    ensure_eq!(link["environment"], json!("SANDBOX"));
    for counter in ["view_count", "session_count", "completed_count"] {
        ensure_eq!(link[counter], json!(0));
    }
    ensure!(
        link["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 20),
        "created_at {}",
        link["created_at"]
    );

    ensure_eq!(fetch(&merchant, &format!("/v1/payment-links/{id}"))?, link);
    ensure_eq!(fetch(&merchant, &format!("/v1/payment_links/{id}"))?, link);

    let updated = change(
        &merchant,
        "PATCH",
        &format!("/v1/payment-links/{id}"),
        json!({"active": false, "promotionCode": null, "maxCompletions": null, "successUrl": null, "metadata": null, "collectPaymentMethod": "always"}),
    )?;
    ensure_eq!(updated["active"], json!(false));
    ensure_eq!(updated["promotion_code"], json!(null));
    ensure_eq!(updated["max_completions"], json!(null));
    ensure_eq!(updated["success_url"], json!(null));
    ensure_eq!(updated["metadata"], json!(null));
    ensure_eq!(updated["collect_payment_method"], json!("always"));
    ensure_eq!(updated["url_id"], link["url_id"]);
    ensure_eq!(
        fetch(&merchant, &format!("/v1/payment-links/{id}"))?,
        updated
    );

    let immutable = merchant
        .request("PATCH", &format!("/v1/payment_links/{id}"))
        .json(&json!({"productId": "prod_x"}))
        .send()?;
    refused(&immutable, 400, "invalid_request", Some("product_id"))?;

    let deleted = merchant
        .request("DELETE", &format!("/v1/payment-links/{id}"))
        .send()?;
    ensure_eq!(deleted.status, 200);
    ensure_eq!(deleted.json()["id"], json!(id));
    ensure_eq!(deleted.json()["deleted"], json!(true));
    let after = fetch(&merchant, &format!("/v1/payment_links/{id}"))?;
    ensure_eq!(after["active"], json!(false));
    ensure_eq!(after["deleted"], json!(true));

    // By slug works the same.
    let by_slug = create(
        &merchant,
        "/v1/payment_links",
        json!({"productSlug": "pro-monthly-link"}),
    )?;
    ensure_eq!(by_slug["product_id"], json!(product_id));
    Ok(())
}

fn line_item_links_round_trip_and_list_by_page(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Line items")?;
    let box_product = product(&merchant, "Subscription box", 2500, "USD")?;
    let extra = product(&merchant, "Gift wrap", 300, "USD")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({
            "name": "Monthly Subscription Box",
            "currency_id": "usd",
            "line_items": [
                {"price_id": box_product["default_price"]["id"], "quantity": 2},
                {"price_id": extra["default_price"]["id"], "quantity": 1},
            ],
            "after_completion": {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "Thanks! It ships Monday."}},
            "allow_promotion_codes": true,
            "custom_fields": [
                {"key": "engraving", "label": {"type": "custom", "custom": "Engraving"}, "type": "text", "optional": true},
                {"key": "age", "label": "Age", "type": "numeric"},
                {"key": "size", "label": "Size", "type": "dropdown", "dropdown": {"options": [{"label": "Small", "value": "s"}, {"label": "Large", "value": "l"}]}},
            ],
            "billing_address_collection": "required",
            "customer_creation": "always",
            "submit_type": "pay",
            "metadata": {"order_id": "6735"},
        }),
    )?;
    let id = link["id"].as_str().unwrap_or_default();
    ensure_eq!(link["name"], json!("Monthly Subscription Box"));
    ensure_eq!(link["currency_id"], json!("usd"));
    ensure_eq!(link["currency"], json!("USD"));
    ensure_eq!(link["amount"], json!(2 * 2500 + 300));
    ensure_eq!(link["product"], json!(null));
    let lines = link["line_items"].as_array().cloned().unwrap_or_default();
    ensure_eq!(lines.len(), 2);
    ensure_eq!(lines[0]["price_id"], box_product["default_price"]["id"]);
    ensure_eq!(lines[0]["quantity"], json!(2));
    ensure_eq!(lines[0]["amount"], json!(2500));
    ensure_eq!(lines[0]["product_id"], box_product["id"]);
    ensure_eq!(
        link["after_completion"]["type"],
        json!("hosted_confirmation")
    );
    ensure_eq!(
        link["after_completion"]["hosted_confirmation"]["custom_message"],
        json!("Thanks! It ships Monday.")
    );
    ensure_eq!(link["allow_promotion_codes"], json!(true));
    ensure_eq!(link["custom_fields"].as_array().map(Vec::len), Some(3));
    ensure_eq!(
        link["custom_fields"][1]["label"],
        json!({"type": "custom", "custom": "Age"})
    );
    ensure_eq!(
        link["custom_fields"][2]["dropdown"]["options"][1]["value"],
        json!("l")
    );
    ensure_eq!(link["billing_address_collection"], json!("required"));
    ensure_eq!(link["customer_creation"], json!("always"));
    ensure_eq!(link["submit_type"], json!("pay"));
    ensure_eq!(link["multiple"], json!(true));
    ensure_eq!(fetch(&merchant, &format!("/v1/payment_links/{id}"))?, link);

    let updated = change(
        &merchant,
        "PATCH",
        &format!("/v1/payment_links/{id}"),
        json!({
            "name": "Box, renamed",
            "after_completion": {"type": "redirect", "redirect": {"url": "https://example.com/thanks"}},
            "custom_fields": [{"key": "note", "label": "Note", "type": "text", "optional": true}],
            "billing_address_collection": "auto", "customer_creation": "if_required", "submit_type": "book",
            "allow_promotion_codes": false, "metadata": {"order_id": "6735-updated"},
        }),
    )?;
    ensure_eq!(updated["name"], json!("Box, renamed"));
    ensure_eq!(
        updated["after_completion"],
        json!({"type": "redirect", "redirect": {"url": "https://example.com/thanks"}})
    );
    ensure_eq!(updated["success_url"], json!("https://example.com/thanks"));
    ensure_eq!(updated["custom_fields"].as_array().map(Vec::len), Some(1));
    ensure_eq!(updated["submit_type"], json!("book"));
    ensure_eq!(updated["metadata"], json!({"order_id": "6735-updated"}));
    ensure_eq!(updated["line_items"], link["line_items"]);

    // A rejected update changes nothing.
    for (body, param) in [
        (
            json!({"name": "Never stored", "submit_type": "sell"}),
            "submit_type",
        ),
        (
            json!({"name": "Never stored", "max_completions": -1}),
            "max_completions",
        ),
        (
            json!({"name": "Never stored", "success_url": "http://insecure.example"}),
            "success_url",
        ),
        (
            json!({"name": "Never stored", "metadata": {"k": "v".repeat(501)}}),
            "metadata[k]",
        ),
    ] {
        let reply = merchant
            .request("PATCH", &format!("/v1/payment_links/{id}"))
            .json(&body)
            .send()?;
        refused(&reply, 400, "invalid_request", Some(param))?;
    }
    ensure_eq!(
        fetch(&merchant, &format!("/v1/payment_links/{id}"))?,
        updated
    );

    let archived = merchant
        .post(&format!("/v1/payment_links/{id}/archive"))
        .send()?;
    ensure_eq!(archived.status, 200);
    ensure_eq!(archived.json()["active"], json!(false));

    for i in 0..4 {
        create(
            &merchant,
            "/v1/payment_links",
            json!({"amount": 100 + i, "currency": "USD", "title": format!("Tip {i}")}),
        )?;
    }
    let page = fetch(&merchant, "/v1/payment_links?page=2&page_size=2&order=asc")?;
    ensure_eq!(page["count"], json!(5));
    ensure_eq!(page["page"], json!(2));
    ensure_eq!(page["list"], page["data"]);
    ensure_eq!(page["data"].as_array().map(Vec::len), Some(2));
    ensure_eq!(page["data"][0]["title"], json!("Tip 1"));
    ensure_eq!(page["has_more"], json!(true));
    let last = fetch(&merchant, "/v1/payment_links?page=3&pageSize=2&order=asc")?;
    ensure_eq!(last["data"].as_array().map(Vec::len), Some(1));
    ensure_eq!(last["has_more"], json!(false));
    Ok(())
}

fn amount_links_are_single_use_unless_multiple(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let single = create(
        &merchant,
        "/v1/payment_links",
        json!({"amount": 7440, "currency": "thb", "title": "Hot Latte", "description": "A warm cup of coffee"}),
    )?;
    ensure_eq!(single["amount"], json!(7440));
    ensure_eq!(single["currency"], json!("THB"));
    ensure_eq!(single["title"], json!("Hot Latte"));
    ensure_eq!(single["description"], json!("A warm cup of coffee"));
    ensure_eq!(single["multiple"], json!(false));
    ensure_eq!(single["used"], json!(false));
    ensure_eq!(single["deleted"], json!(false));
    ensure_eq!(single["payment_uri"], single["url"]);
    let multiple = create(
        &merchant,
        "/v1/payment_links",
        json!({"amount": 10000, "currency": "THB", "title": "Latte", "multiple": true}),
    )?;
    ensure_eq!(multiple["multiple"], json!(true));
    let missing_currency = merchant
        .post("/v1/payment_links")
        .json(&json!({"amount": 100, "title": "x"}))
        .send()?;
    refused(&missing_currency, 400, "invalid_request", Some("currency"))
}

fn bad_payment_links_are_refused_and_nothing_is_stored(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Bad links")?;
    let product = product(&merchant, "Real product", 1000, "JPY")?;
    let product_id = product["id"].as_str().unwrap_or_default();
    let live_product = crate::support::product(
        &suite
            .client
            .with_bearer(&suite.account.keys.live.secret_key),
        "Live thing",
        1000,
        "USD",
    )?;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"productId": "prod_unknown"}),
            409,
            "resource_missing",
            "product_id",
        ),
        (
            json!({"productSlug": "no-such-slug"}),
            409,
            "resource_missing",
            "product_slug",
        ),
        (
            json!({"productId": product_id, "productSlug": "real-product"}),
            400,
            "invalid_request",
            "product_slug",
        ),
        (
            json!({"successUrl": "https://x.example"}),
            400,
            "invalid_request",
            "product_id",
        ),
        (
            json!({"productId": product_id, "successUrl": "http://shop.example/thanks"}),
            400,
            "invalid_request",
            "success_url",
        ),
        (
            json!({"productId": product_id, "maxCompletions": 0}),
            400,
            "invalid_request",
            "max_completions",
        ),
        (
            json!({"productId": product_id, "promotionCode": "NOSUCHCODE"}),
            409,
            "resource_missing",
            "promotion_code",
        ),
        (
            json!({"productId": product_id, "collectPaymentMethod": "sometimes"}),
            400,
            "invalid_request",
            "collect_payment_method",
        ),
        (
            json!({"amount": -100, "currency": "USD", "title": "neg"}),
            400,
            "invalid_request",
            "amount",
        ),
        (
            json!({"amount": 10.5, "currency": "JPY", "title": "frac"}),
            400,
            "invalid_request",
            "amount",
        ),
        (
            json!({"amount": 100, "currency": "ZZZ", "title": "x"}),
            400,
            "invalid_request",
            "currency",
        ),
        (
            json!({"productId": product_id, "currency": "USD"}),
            409,
            "conflict",
            "currency",
        ),
        (
            json!({"line_items": [{"price_id": "price_nope", "quantity": 1}]}),
            409,
            "resource_missing",
            "line_items[0].price_id",
        ),
        (
            json!({"line_items": [{"price_id": product["default_price"]["id"], "quantity": 0}]}),
            400,
            "invalid_request",
            "line_items[0].quantity",
        ),
        (
            json!({"productId": product_id, "custom_fields": [{"key": "a", "label": "A", "type": "text"}, {"key": "b", "label": "B", "type": "text"}, {"key": "c", "label": "C", "type": "text"}, {"key": "d", "label": "D", "type": "text"}]}),
            400,
            "invalid_request",
            "custom_fields",
        ),
        (
            json!({"productId": product_id, "custom_fields": [{"key": "size", "label": "Size", "type": "dropdown"}]}),
            400,
            "invalid_request",
            "custom_fields[0].dropdown",
        ),
        (
            json!({"productId": product_id, "surprise": true}),
            400,
            "invalid_request",
            "surprise",
        ),
    ];
    for (body, status, code, param) in cases {
        let reply = merchant.post("/v1/payment_links").json(&body).send()?;
        refused(&reply, status, code, Some(param))
            .map_err(|e| Failed::from(format!("{body}: {}", e.message().unwrap_or_default())))?;
    }
    // https is required in PRODUCTION even for localhost.
    let live = suite
        .live()
        .post("/v1/payment_links")
        .json(&json!({"productId": live_product["id"], "successUrl": "http://localhost:3000/ok"}))
        .send()?;
    refused(&live, 400, "invalid_request", Some("success_url"))?;
    // In SANDBOX, http://localhost is allowed for development.
    create(
        &merchant,
        "/v1/payment_links",
        json!({"productId": product_id, "successUrl": "http://localhost:3000/ok"}),
    )?;
    // A publishable key can neither create nor list links.
    let publishable = suite.publishable();
    refused(
        &publishable.get("/v1/payment_links").send()?,
        403,
        "forbidden",
        None,
    )?;
    refused(
        &publishable
            .post("/v1/payment_links")
            .json(&json!({"productId": product_id}))
            .send()?,
        403,
        "forbidden",
        None,
    )?;
    // Only the one good link exists.
    ensure_eq!(crate::support::count(&merchant, "/v1/payment_links")?, 1);
    Ok(())
}

fn cursor_lists_filter_by_active(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Active filter")?;
    let product = product(&merchant, "Filter me", 100, "USD")?;
    let on = create(
        &merchant,
        "/v1/payment_links",
        json!({"productId": product["id"]}),
    )?;
    let off = create(
        &merchant,
        "/v1/payment_links",
        json!({"productId": product["id"], "active": false}),
    )?;
    let active = fetch(&merchant, "/v1/payment_links?active=true")?;
    ensure_eq!(
        active["data"]
            .as_array()
            .map(|d| d.iter().map(|l| l["id"].clone()).collect::<Vec<_>>()),
        Some(vec![on["id"].clone()])
    );
    let inactive = fetch(&merchant, "/v1/payment_links?active=false&limit=1")?;
    ensure_eq!(inactive["data"][0]["id"], off["id"]);
    ensure_eq!(inactive["has_more"], json!(false));
    Ok(())
}
