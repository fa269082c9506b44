//! What can be sold: an active price of an active product, and nothing else, whichever
//! way a shopper or a merchant asks (a session by price, by product or by line items, a
//! link when it is made and when it is visited, a buy button); and what a publishable
//! key, which every page carries, may see of the catalogue.

use libtest_mimic::Failed;
use serde_json::{Value, json};

use crate::support::{change, create, fetch, product, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "archived_prices_and_products_are_sold_by_no_path",
        archived_prices_and_products_are_sold_by_no_path,
    ),
    (
        "a_publishable_key_sees_only_what_is_for_sale_without_metadata",
        a_publishable_key_sees_only_what_is_for_sale_without_metadata,
    ),
];

fn id(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_owned()
}

/// A product whose default price is on sale, a second price of it that is archived, and
/// a product that is archived (its price still active).
struct Catalogue {
    on_sale: Value,
    archived_price: String,
    archived_product: Value,
}

fn catalogue(suite: &Suite, name: &str) -> Result<Catalogue, Failed> {
    let merchant = suite.merchant();
    let on_sale = product(&merchant, &format!("{name} on sale"), 900, "USD")?;
    let second = create(
        &merchant,
        "/v1/prices",
        json!({"product": on_sale["id"], "amount": 700, "currency": "USD", "metadata": {"cost": "3"}}),
    )?;
    change(
        &merchant,
        "PATCH",
        &format!("/v1/prices/{}", id(&second)),
        json!({"active": false}),
    )?;
    let gone = product(&merchant, &format!("{name} discontinued"), 500, "USD")?;
    change(
        &merchant,
        "POST",
        &format!("/v1/products/{}/archive", id(&gone)),
        json!({}),
    )?;
    Ok(Catalogue {
        on_sale,
        archived_price: id(&second),
        archived_product: gone,
    })
}

fn archived_prices_and_products_are_sold_by_no_path(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.merchant();
    let shop = suite.publishable();
    let c = catalogue(suite, "Sold")?;
    let gone_price = c.archived_product["default_price"]["id"].clone();
    let session = |body: Value| shop.post("/v1/checkout/sessions").json(&body).send();
    // A session by price: the archived price, and the active price of an archived product.
    let by_price = session(json!({"price_id": c.archived_price}))?;
    refused(&by_price, 409, "conflict", Some("price_id"))?;
    ensure!(by_price.body.contains("archived"), "{}", by_price.body);
    refused(
        &session(json!({"price_id": gone_price}))?,
        409,
        "conflict",
        Some("price_id"),
    )?;
    // By product, and by line items.
    refused(
        &session(json!({"product_id": c.archived_product["id"]}))?,
        409,
        "conflict",
        Some("product_id"),
    )?;
    refused(
        &session(json!({"line_items": [{"price_id": gone_price, "quantity": 1}]}))?,
        409,
        "conflict",
        Some("line_items[0].price_id"),
    )?;
    refused(
        &session(json!({"line_items": [{"price_id": c.archived_price}]}))?,
        409,
        "conflict",
        Some("line_items[0].price_id"),
    )?;
    // A product whose default price was archived sells nothing by product either.
    let lapsed = product(&merchant, "Sold lapsed default", 300, "USD")?;
    change(
        &merchant,
        "PATCH",
        &format!(
            "/v1/prices/{}",
            lapsed["default_price"]["id"].as_str().unwrap_or_default()
        ),
        json!({"active": false}),
    )?;
    refused(
        &session(json!({"product_id": lapsed["id"]}))?,
        409,
        "conflict",
        Some("product_id"),
    )?;
    // What is on sale still sells.
    let sold = session(json!({"product_id": c.on_sale["id"]}))?;
    ensure!(sold.status == 201, "{}", sold.body);
    // A link is not made of them, even with the secret key.
    let link = merchant
        .post("/v1/payment_links")
        .json(&json!({"line_items": [{"price_id": gone_price}]}))
        .send()?;
    refused(&link, 409, "conflict", Some("line_items[0].price_id"))?;
    // A link made while its product was on sale stops selling when the product is archived.
    let later = product(&merchant, "Sold until archived", 400, "USD")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"productId": later["id"], "multiple": true}),
    )?;
    let path = format!("/{}", link["url_id"].as_str().unwrap_or_default());
    let (_, page) = crate::shopper::arrive(suite, &suite.client.get(&path).send()?)?;
    ensure_eq!(page.status, 200);
    change(
        &merchant,
        "POST",
        &format!("/v1/products/{}/archive", id(&later)),
        json!({}),
    )?;
    let visit = suite.client.get(&path).send()?;
    let status = match visit.status {
        302 => crate::shopper::arrive(suite, &visit)?.1.status,
        other => other,
    };
    ensure_eq!(status, 410);
    let sessions = suite.query(&format!(
        "SELECT count(*) AS n FROM checkout_sessions WHERE payment_link_id = '{}'",
        id(&link)
    ))?;
    ensure_eq!(sessions[0]["n"], json!(1));
    // The buy button of an archived product reads like a missing link.
    let key = &suite.account.keys.test.publishable_key;
    let button = suite
        .client
        .get(&format!("/b/{}?key={key}", id(&c.archived_product)))
        .send()?;
    ensure_eq!(button.status, 404);
    Ok(())
}

fn a_publishable_key_sees_only_what_is_for_sale_without_metadata(
    suite: &Suite,
) -> Result<(), Failed> {
    let shop = suite.publishable();
    let merchant = suite.merchant();
    let c = catalogue(suite, "Shown")?;
    let gone_price = c.archived_product["default_price"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ids = |list: &Value| -> Vec<String> {
        list["data"]
            .as_array()
            .map(|items| items.iter().map(id).collect())
            .unwrap_or_default()
    };
    let prices = fetch(
        &shop,
        &format!("/v1/prices?product={}&limit=100", id(&c.on_sale)),
    )?;
    ensure_eq!(
        ids(&prices),
        vec![
            c.on_sale["default_price"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        ]
    );
    let all_prices = fetch(&shop, "/v1/prices?limit=100")?;
    ensure!(!ids(&all_prices).contains(&gone_price), "{all_prices}");
    let products = fetch(&shop, "/v1/products?page=1&page_size=100")?;
    ensure!(
        !ids(&products).contains(&id(&c.archived_product)),
        "{products}"
    );
    ensure!(ids(&products).contains(&id(&c.on_sale)), "{products}");
    for object in all_prices["data"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(products["data"].as_array().into_iter().flatten())
    {
        ensure!(object.get("metadata").is_none(), "{object}");
    }
    let one = |path: String| shop.get(&path).send();
    ensure_eq!(one(format!("/v1/prices/{}", c.archived_price))?.status, 404);
    ensure_eq!(one(format!("/v1/prices/{gone_price}"))?.status, 404);
    ensure_eq!(
        one(format!("/v1/products/{}", id(&c.archived_product)))?.status,
        404
    );
    let shown = one(format!("/v1/products/{}", id(&c.on_sale)))?;
    ensure_eq!(shown.status, 200);
    ensure!(shown.json().get("metadata").is_none(), "{}", shown.body);
    // The secret key sees everything, archived or not, metadata included.
    let full = fetch(&merchant, &format!("/v1/prices/{}", c.archived_price))?;
    ensure_eq!(full["active"], json!(false));
    ensure_eq!(full["metadata"], json!({"cost": "3"}));
    ensure_eq!(
        ids(&fetch(
            &merchant,
            &format!("/v1/prices?product={}&limit=100", id(&c.on_sale))
        )?)
        .len(),
        2
    );
    Ok(())
}
