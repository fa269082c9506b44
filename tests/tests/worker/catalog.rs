//! Products, prices and promotion codes; request handling every endpoint shares (bad input,
//! idempotency, isolation between accounts and environments, key roll).

use libtest_mimic::Failed;
use serde_json::json;

use crate::support::{change, count, create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "products_round_trip_with_a_nested_price",
        products_round_trip_with_a_nested_price,
    ),
    (
        "products_accept_the_subscription_documents_flat_form",
        products_accept_the_subscription_documents_flat_form,
    ),
    (
        "slugs_are_unique_per_account_and_derived_when_missing",
        slugs_are_unique_per_account_and_derived_when_missing,
    ),
    (
        "prices_round_trip_and_refuse_bad_amounts",
        prices_round_trip_and_refuse_bad_amounts,
    ),
    (
        "minute_and_hour_intervals_only_in_sandbox",
        minute_and_hour_intervals_only_in_sandbox,
    ),
    (
        "promotion_codes_round_trip_and_ignore_letter_case",
        promotion_codes_round_trip_and_ignore_letter_case,
    ),
    (
        "bad_bodies_are_refused_in_the_documented_shape",
        bad_bodies_are_refused_in_the_documented_shape,
    ),
    (
        "metadata_limits_are_enforced_with_the_key_named",
        metadata_limits_are_enforced_with_the_key_named,
    ),
    (
        "list_limits_and_cursors_are_checked",
        list_limits_and_cursors_are_checked,
    ),
    (
        "idempotency_keys_replay_and_refuse_a_different_body",
        idempotency_keys_replay_and_refuse_a_different_body,
    ),
    (
        "other_accounts_and_environments_see_nothing",
        other_accounts_and_environments_see_nothing,
    ),
    (
        "rolling_the_secret_key_revokes_the_old_one",
        rolling_the_secret_key_revokes_the_old_one,
    ),
];

fn products_round_trip_with_a_nested_price(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let created = create(
        &merchant,
        "/v1/products",
        json!({
            "name": "Pro Monthly",
            "description": "Everything, every month",
            "images": ["https://cdn.example/pro.png"],
            "metadata": {"tier": "pro"},
            "price": {"amount": 590, "currency": "TWD", "interval": "MONTH"},
        }),
    )?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    ensure!(id.starts_with("prod_"), "id {id}");
    ensure_eq!(created["object"], json!("product"));
    ensure_eq!(created["slug"], json!("pro-monthly"));
    ensure_eq!(created["price"], json!(590));
    ensure_eq!(created["currency"], json!("TWD"));
    ensure_eq!(created["type"], json!("SUBSCRIPTION"));
    ensure_eq!(
        created["default_price"]["recurring"]["interval"],
        json!("MONTH")
    );
    ensure_eq!(created["images"], json!(["https://cdn.example/pro.png"]));
    ensure_eq!(created["metadata"], json!({"tier": "pro"}));
    ensure_eq!(created["livemode"], json!(false));

    ensure_eq!(fetch(&merchant, &format!("/v1/products/{id}"))?, created);
    let listed = fetch(&merchant, "/v1/products?limit=100")?;
    ensure!(
        listed["data"]
            .as_array()
            .is_some_and(|d| d.contains(&created)),
        "not listed"
    );

    let updated = change(
        &merchant,
        "PATCH",
        &format!("/v1/products/{id}"),
        json!({"name": "Pro", "description": null, "metadata": {"tier": "gold"}}),
    )?;
    ensure_eq!(updated["name"], json!("Pro"));
    ensure_eq!(updated["description"], json!(null));
    ensure_eq!(updated["metadata"], json!({"tier": "gold"}));
    ensure_eq!(updated["slug"], json!("pro-monthly"));
    ensure_eq!(
        fetch(&merchant, &format!("/v1/products/{id}"))?["name"],
        json!("Pro")
    );

    let archived = merchant
        .post(&format!("/v1/products/{id}/archive"))
        .send()?;
    ensure_eq!(archived.status, 200);
    ensure_eq!(archived.json()["active"], json!(false));
    let active_only = fetch(&merchant, "/v1/products?active=true&limit=100")?;
    ensure!(
        !active_only["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|p| p["id"] == id.as_str())),
        "an archived product is listed as active"
    );
    Ok(())
}

fn products_accept_the_subscription_documents_flat_form(suite: &Suite) -> Result<(), Failed> {
    let created = create(
        &suite.merchant(),
        "/v1/products",
        json!({
            "name": "Gym membership", "type": "recurring", "description": "Monthly access",
            "txamt": 100, "txcurrcd": "HKD", "interval": "monthly", "interval_count": 1,
            "usage_type": "licensed",
        }),
    )?;
    ensure_eq!(created["price"], json!(100));
    ensure_eq!(created["currency"], json!("HKD"));
    ensure_eq!(created["type"], json!("SUBSCRIPTION"));
    ensure_eq!(
        created["default_price"]["recurring"],
        json!({"interval": "MONTH", "interval_count": 1})
    );
    let price_id = created["default_price"]["id"].as_str().unwrap_or_default();
    let price = fetch(&suite.merchant(), &format!("/v1/prices/{price_id}"))?;
    ensure_eq!(price["recurring"]["usage_type"], json!("licensed"));
    ensure_eq!(price["product_id"], created["id"]);

    let yearly = create(
        &suite.merchant(),
        "/v1/products",
        json!({"name": "Annual", "type": "recurring", "txamt": 1000, "txcurrcd": "HKD", "interval": "yearly", "interval_count": 1, "usage_type": "licensed"}),
    )?;
    ensure_eq!(
        yearly["default_price"]["recurring"]["interval"],
        json!("YEAR")
    );
    Ok(())
}

fn slugs_are_unique_per_account_and_derived_when_missing(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let first = create(
        &merchant,
        "/v1/products",
        json!({"name": "Unique Slug Box", "slug": "unique-box"}),
    )?;
    ensure_eq!(first["slug"], json!("unique-box"));
    let taken = merchant
        .post("/v1/products")
        .json(&json!({"name": "Another", "slug": "unique-box"}))
        .send()?;
    refused(&taken, 409, "conflict", Some("slug"))?;
    // Derived slugs never collide: a suffix is added.
    let a = create(&merchant, "/v1/products", json!({"name": "Same Name"}))?;
    let b = create(&merchant, "/v1/products", json!({"name": "Same Name"}))?;
    ensure_eq!(a["slug"], json!("same-name"));
    ensure!(
        b["slug"]
            .as_str()
            .is_some_and(|s| s.starts_with("same-name-")),
        "slug {}",
        b["slug"]
    );
    // Another account may use the same slug.
    let other = suite.client.with_bearer(&suite.other.keys.test.secret_key);
    let theirs = create(
        &other,
        "/v1/products",
        json!({"name": "Theirs", "slug": "unique-box"}),
    )?;
    ensure_eq!(theirs["slug"], json!("unique-box"));
    let bad = merchant
        .post("/v1/products")
        .json(&json!({"name": "x", "slug": "Not A Slug"}))
        .send()?;
    refused(&bad, 400, "invalid_request", Some("slug"))
}

fn prices_round_trip_and_refuse_bad_amounts(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Prices")?;
    let product = product(&merchant, "Coffee beans", 450, "USD")?;
    let product_id = product["id"].as_str().unwrap_or_default();
    let price = create(
        &merchant,
        "/v1/prices",
        json!({"product": product_id, "amount": 1200, "currency": "usd", "nickname": "Large bag", "metadata": {"size": "L"}}),
    )?;
    ensure_eq!(price["amount"], json!(1200));
    ensure_eq!(price["currency"], json!("USD"));
    ensure_eq!(price["type"], json!("one_time"));
    ensure_eq!(price["recurring"], json!(null));
    let price_id = price["id"].as_str().unwrap_or_default();
    ensure_eq!(fetch(&merchant, &format!("/v1/prices/{price_id}"))?, price);
    let of_product = fetch(&merchant, &format!("/v1/prices?product={product_id}"))?;
    ensure_eq!(of_product["data"].as_array().map(Vec::len), Some(2));
    let updated = change(
        &merchant,
        "PATCH",
        &format!("/v1/prices/{price_id}"),
        json!({"active": false, "nickname": null}),
    )?;
    ensure_eq!(updated["active"], json!(false));
    ensure_eq!(updated["nickname"], json!(null));
    ensure_eq!(updated["amount"], json!(1200));

    let before = count(&merchant, "/v1/prices")?;
    for (body, param) in [
        (
            json!({"product": product_id, "amount": -5, "currency": "USD"}),
            "amount",
        ),
        (
            json!({"product": product_id, "amount": 10.5, "currency": "JPY"}),
            "amount",
        ),
        (
            json!({"product": product_id, "amount": "12", "currency": "XYZ"}),
            "currency",
        ),
        (json!({"product": product_id, "currency": "USD"}), "amount"),
        (
            json!({"product": product_id, "amount": 100, "currency": "USD", "interval": "fortnight"}),
            "interval",
        ),
        (
            json!({"product": product_id, "amount": 100, "currency": "USD", "colour": "red"}),
            "colour",
        ),
    ] {
        let reply = merchant.post("/v1/prices").json(&body).send()?;
        refused(&reply, 400, "invalid_request", Some(param))?;
    }
    let unknown = merchant
        .post("/v1/prices")
        .json(&json!({"product": "prod_nope", "amount": 1, "currency": "USD"}))
        .send()?;
    refused(&unknown, 409, "resource_missing", Some("product"))?;
    let nested = merchant
        .post("/v1/products")
        .json(&json!({"name": "Bad", "price": {"amount": 10.5, "currency": "JPY"}}))
        .send()?;
    refused(&nested, 400, "invalid_request", Some("price.amount"))?;
    ensure_eq!(count(&merchant, "/v1/prices")?, before);
    Ok(())
}

fn minute_and_hour_intervals_only_in_sandbox(suite: &Suite) -> Result<(), Failed> {
    let body = json!({"name": "Fast plan", "price": {"amount": 100, "currency": "THB", "interval": "minutes"}});
    let sandbox = create(&suite.merchant(), "/v1/products", body.clone())?;
    ensure_eq!(
        sandbox["default_price"]["recurring"]["interval"],
        json!("MINUTE")
    );
    let live = suite.live().post("/v1/products").json(&body).send()?;
    refused(&live, 400, "invalid_request", Some("price.interval"))
}

fn promotion_codes_round_trip_and_ignore_letter_case(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let product = product(&merchant, "Promo target", 1000, "USD")?;
    let created = create(
        &merchant,
        "/v1/promotion_codes",
        json!({
            "code": "Launch20", "percent_off": 20, "max_redemptions": 100,
            "expires_at": "2099-01-01T00:00:00Z", "products": [product["id"]], "metadata": {"campaign": "launch"},
        }),
    )?;
    let id = created["id"].as_str().unwrap_or_default();
    ensure!(id.starts_with("promo_"), "id {id}");
    ensure_eq!(created["code"], json!("Launch20"));
    ensure_eq!(created["percent_off"], json!(20));
    ensure_eq!(created["amount_off"], json!(null));
    ensure_eq!(created["times_redeemed"], json!(0));
    ensure_eq!(created["expires_at"], json!("2099-01-01T00:00:00Z"));
    ensure_eq!(created["products"], json!([product["id"]]));
    ensure_eq!(
        fetch(&merchant, &format!("/v1/promotion_codes/{id}"))?,
        created
    );
    let by_code = fetch(&merchant, "/v1/promotion_codes?code=LAUNCH20")?;
    ensure_eq!(by_code["data"][0]["id"], json!(id));

    let duplicate = merchant
        .post("/v1/promotion_codes")
        .json(&json!({"code": "LAUNCH20", "percent_off": 5}))
        .send()?;
    refused(&duplicate, 409, "conflict", Some("code"))?;

    let updated = change(
        &merchant,
        "PATCH",
        &format!("/v1/promotion_codes/{id}"),
        json!({"max_redemptions": 5, "expires_at": null}),
    )?;
    ensure_eq!(updated["max_redemptions"], json!(5));
    ensure_eq!(updated["expires_at"], json!(null));
    let deactivated = merchant
        .request("DELETE", &format!("/v1/promotion_codes/{id}"))
        .send()?;
    ensure_eq!(deactivated.status, 200);
    ensure_eq!(deactivated.json()["active"], json!(false));

    let fixed = create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "TENOFF", "amount_off": 1000, "currency": "TWD"}),
    )?;
    ensure_eq!(fixed["amount_off"], json!(1000));
    ensure_eq!(fixed["currency"], json!("TWD"));
    for (body, param) in [
        (
            json!({"code": "BOTH", "percent_off": 5, "amount_off": 100, "currency": "USD"}),
            "amount_off",
        ),
        (json!({"code": "NEITHER"}), "percent_off"),
        (json!({"code": "NOCUR", "amount_off": 100}), "currency"),
        (
            json!({"code": "TOOMUCH", "percent_off": 101}),
            "percent_off",
        ),
        (json!({"code": "has space", "percent_off": 5}), "code"),
        (
            json!({"code": "PAST", "percent_off": 5, "expires_at": 1000}),
            "expires_at",
        ),
    ] {
        refused(
            &merchant.post("/v1/promotion_codes").json(&body).send()?,
            400,
            "invalid_request",
            Some(param),
        )?;
    }
    let unknown_product = merchant
        .post("/v1/promotion_codes")
        .json(&json!({"code": "NOPROD", "percent_off": 5, "products": ["prod_missing"]}))
        .send()?;
    refused(
        &unknown_product,
        409,
        "resource_missing",
        Some("products[0]"),
    )
}

fn bad_bodies_are_refused_in_the_documented_shape(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Bad bodies")?;
    let before = count(&merchant, "/v1/products")?;
    let malformed = merchant
        .post("/v1/products")
        .body("application/json", "{\"name\": ")
        .send()?;
    refused(&malformed, 400, "invalid_request", Some("body"))?;
    let not_object = merchant
        .post("/v1/products")
        .body("application/json", "[1,2]")
        .send()?;
    refused(&not_object, 400, "invalid_request", Some("body"))?;
    let wrong_type = merchant
        .post("/v1/products")
        .body("text/plain", "name=x")
        .send()?;
    refused(&wrong_type, 415, "unsupported_media_type", None)?;
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    let oversized = merchant
        .post("/v1/products")
        .body("application/json", huge)
        .send()?;
    refused(&oversized, 413, "payload_too_large", None)?;
    let missing = merchant
        .post("/v1/products")
        .json(&json!({"description": "no name"}))
        .send()?;
    refused(&missing, 400, "invalid_request", Some("name"))?;
    let twice = merchant
        .post("/v1/products")
        .json(&json!({"name": "a", "productId": "x", "product_id": "y"}))
        .send()?;
    refused(&twice, 400, "invalid_request", Some("product_id"))?;
    // A form body is read like JSON.
    let form = merchant
        .post("/v1/products")
        .body(
            "application/x-www-form-urlencoded",
            "name=Form+Made&price[amount]=300&price[currency]=thb",
        )
        .send()?;
    ensure_eq!(form.status, 201);
    ensure_eq!(form.json()["price"], json!(300));
    ensure_eq!(count(&merchant, "/v1/products")?, before + 1);
    Ok(())
}

fn metadata_limits_are_enforced_with_the_key_named(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let many: serde_json::Map<String, serde_json::Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let long_key = "k".repeat(41);
    for (metadata, param) in [
        (json!(many), "metadata".to_owned()),
        (
            json!({ long_key.clone(): "v" }),
            format!("metadata[{long_key}]"),
        ),
        (
            json!({"note": "v".repeat(501)}),
            "metadata[note]".to_owned(),
        ),
        (json!({"nested": {"a": 1}}), "metadata[nested]".to_owned()),
        (json!("text"), "metadata".to_owned()),
    ] {
        let reply = merchant
            .post("/v1/products")
            .json(&json!({"name": "Meta", "metadata": metadata}))
            .send()?;
        refused(&reply, 400, "invalid_request", Some(&param))?;
    }
    let fifty: serde_json::Map<String, serde_json::Value> = (0..50)
        .map(|i| (format!("key{i}"), json!("v".repeat(500))))
        .collect();
    let ok = create(
        &merchant,
        "/v1/products",
        json!({"name": "Full metadata", "metadata": fifty}),
    )?;
    ensure_eq!(ok["metadata"].as_object().map(|m| m.len()), Some(50));
    Ok(())
}

fn list_limits_and_cursors_are_checked(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Paging")?;
    for limit in ["0", "101", "ten"] {
        let reply = merchant
            .get(&format!("/v1/products?limit={limit}"))
            .send()?;
        refused(&reply, 400, "invalid_request", Some("limit"))?;
    }
    let unknown = merchant
        .get("/v1/products?starting_after=prod_nothing")
        .send()?;
    refused(&unknown, 409, "resource_missing", Some("starting_after"))?;
    for i in 0..5 {
        product(&merchant, &format!("Paged {i}"), 100 + i, "USD")?;
    }
    let first = fetch(&merchant, "/v1/products?limit=2")?;
    ensure_eq!(first["object"], json!("list"));
    ensure_eq!(first["has_more"], json!(true));
    let first_ids: Vec<String> = first["data"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ensure_eq!(first_ids.len(), 2);
    let second = fetch(
        &merchant,
        &format!("/v1/products?limit=2&starting_after={}", first_ids[1]),
    )?;
    let second_ids: Vec<String> = second["data"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ensure_eq!(second_ids.len(), 2);
    ensure!(
        second_ids.iter().all(|id| !first_ids.contains(id)),
        "pages overlap"
    );
    let back = fetch(
        &merchant,
        &format!("/v1/products?limit=2&ending_before={}", second_ids[0]),
    )?;
    let back_ids: Vec<String> = back["data"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ensure_eq!(back_ids, first_ids);
    Ok(())
}

fn idempotency_keys_replay_and_refuse_a_different_body(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let key = format!("idem-{}", till_shared::ids::random_base62(12));
    let body = json!({"name": "Idempotent tea", "price": {"amount": 300, "currency": "JPY"}});
    let first = merchant
        .post("/v1/products")
        .header("Idempotency-Key", &key)
        .json(&body)
        .send()?;
    ensure_eq!(first.status, 201);
    let again = merchant
        .post("/v1/products")
        .header("Idempotency-Key", &key)
        .json(&body)
        .send()?;
    ensure_eq!(again.status, 201);
    ensure_eq!(again.header("idempotent-replayed"), Some("true"));
    ensure_eq!(again.json()["id"], first.json()["id"]);
    let different = merchant
        .post("/v1/products")
        .header("Idempotency-Key", &key)
        .json(&json!({"name": "Another tea"}))
        .send()?;
    refused(&different, 409, "idempotency_error", None)?;
    let rows = suite.query("SELECT count(*) AS n FROM products WHERE name = 'Idempotent tea'")?;
    ensure_eq!(rows[0]["n"], json!(1));
    // An error is replayed too, and keys are per account: the other merchant's same key is fresh.
    let other = suite.client.with_bearer(&suite.other.keys.test.secret_key);
    let theirs = other
        .post("/v1/products")
        .header("Idempotency-Key", &key)
        .json(&body)
        .send()?;
    ensure_eq!(theirs.status, 201);
    ensure!(
        theirs.json()["id"] != first.json()["id"],
        "the other account got a replay"
    );
    Ok(())
}

fn other_accounts_and_environments_see_nothing(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let product = product(&merchant, "Private product", 990, "THB")?;
    let product_id = product["id"].as_str().unwrap_or_default();
    let price_id = product["default_price"]["id"].as_str().unwrap_or_default();
    let promo = create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "PRIVATE10", "percent_off": 10}),
    )?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"product_id": product_id}),
    )?;
    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"product_id": product_id}),
    )?;
    let paths = [
        format!("/v1/products/{product_id}"),
        format!("/v1/prices/{price_id}"),
        format!(
            "/v1/promotion_codes/{}",
            promo["id"].as_str().unwrap_or_default()
        ),
        format!(
            "/v1/payment_links/{}",
            link["id"].as_str().unwrap_or_default()
        ),
        format!(
            "/v1/checkout/sessions/{}",
            session["id"].as_str().unwrap_or_default()
        ),
    ];
    let strangers = [
        suite.client.with_bearer(&suite.other.keys.test.secret_key),
        suite.client.with_bearer(&suite.other.keys.live.secret_key),
        suite.live(),
    ];
    for stranger in &strangers {
        for path in &paths {
            refused(&stranger.get(path).send()?, 404, "resource_not_found", None)?;
        }
        let listed = fetch(stranger, "/v1/products?limit=100")?;
        ensure!(
            !listed["data"]
                .as_array()
                .is_some_and(|d| d.iter().any(|p| p["id"] == product_id)),
            "a stranger lists the product"
        );
        // Nor can they build on it.
        let reply = stranger
            .post("/v1/payment_links")
            .json(&json!({"product_id": product_id}))
            .send()?;
        refused(&reply, 409, "resource_missing", Some("product_id"))?;
    }
    // And the reverse: a live object is invisible to test keys.
    let live_product = product_live(suite)?;
    refused(
        &merchant
            .get(&format!("/v1/products/{live_product}"))
            .send()?,
        404,
        "resource_not_found",
        None,
    )?;
    Ok(())
}

fn product_live(suite: &Suite) -> Result<String, Failed> {
    let created = product(&suite.live(), "Live product", 500, "USD")?;
    ensure_eq!(created["livemode"], json!(true));
    Ok(created["id"].as_str().unwrap_or_default().to_owned())
}

fn rolling_the_secret_key_revokes_the_old_one(suite: &Suite) -> Result<(), Failed> {
    let account = till_tests::accounts::create_account(
        &suite.worker.base_url,
        &suite.operator_token,
        "Roller",
    )?;
    let old = suite.client.with_bearer(&account.keys.test.secret_key);
    let rolled = old.post("/v1/account/roll_key").send()?;
    ensure_eq!(rolled.status, 200);
    let new_key = rolled.json()["secret_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(
        new_key.starts_with("sk_test_") && new_key != account.keys.test.secret_key,
        "new key {new_key}"
    );
    refused(&old.get("/v1/account").send()?, 401, "unauthorized", None)?;
    ensure_eq!(
        fetch(&suite.client.with_bearer(&new_key), "/v1/account")?["id"],
        json!(account.id)
    );
    // The live key and the publishable key are untouched.
    ensure_eq!(
        fetch(
            &suite.client.with_bearer(&account.keys.live.secret_key),
            "/v1/account"
        )?["environment"],
        json!("PRODUCTION")
    );
    ensure_eq!(
        fetch(
            &suite.client.with_bearer(&account.keys.test.publishable_key),
            "/v1/account"
        )?["key_kind"],
        json!("publishable")
    );
    let publishable_roll = suite
        .client
        .with_bearer(&account.keys.test.publishable_key)
        .post("/v1/account/roll_key")
        .send()?;
    refused(&publishable_roll, 403, "forbidden", None)
}
