//! The Omise Links dialect: `/links` with HTTP Basic auth and form bodies, answering in
//! Omise's shapes, as code written for Omise sends and reads them.

use libtest_mimic::Failed;
use serde_json::json;
use till_tests::http::Client;

use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "omise_clients_create_retrieve_list_and_destroy_links",
        omise_clients_create_retrieve_list_and_destroy_links,
    ),
    (
        "omise_errors_come_in_omise_shape",
        omise_errors_come_in_omise_shape,
    ),
];

/// `curl -u $OMISE_SECRET_KEY:` — the key as the Basic user name, no password.
fn basic(secret_key: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{secret_key}:"))
    )
}

fn omise(suite: &Suite, key: &str) -> (Client, String) {
    (suite.client.clone(), basic(key))
}

fn omise_clients_create_retrieve_list_and_destroy_links(suite: &Suite) -> Result<(), Failed> {
    let account = till_tests::accounts::create_account(
        &suite.worker.base_url,
        &suite.operator_token,
        "Omise shop",
    )?;
    let (client, auth) = omise(suite, &account.keys.test.secret_key);
    let created = client
        .post("/links")
        .header("Authorization", &auth)
        .body(
            "application/x-www-form-urlencoded",
            "amount=10000&currency=thb&title=Hot+Latte&description=A+warm+cup+of+coffee&multiple=true",
        )
        .send()?;
    ensure_eq!(created.status, 200);
    let link = created.json();
    let id = link["id"].as_str().unwrap_or_default().to_owned();
    ensure_eq!(link["object"], json!("link"));
    ensure_eq!(link["location"], json!(format!("/links/{id}")));
    ensure_eq!(link["amount"], json!(10000));
    ensure_eq!(link["currency"], json!("thb"));
    ensure_eq!(link["title"], json!("Hot Latte"));
    ensure_eq!(link["description"], json!("A warm cup of coffee"));
    ensure_eq!(link["multiple"], json!(true));
    ensure_eq!(link["used"], json!(false));
    ensure_eq!(link["deleted"], json!(false));
    ensure_eq!(link["livemode"], json!(false));
    ensure_eq!(link["charges"]["object"], json!("list"));
    ensure_eq!(link["charges"]["total"], json!(0));
    ensure!(
        link["payment_uri"]
            .as_str()
            .is_some_and(|u| u.starts_with(&suite.worker.base_url)),
        "payment_uri {}",
        link["payment_uri"]
    );

    // The Node sample sends JSON; a single-use link by default.
    let single = client
        .post("/links")
        .header("Authorization", &auth)
        .json(
            &json!({"amount": 7440, "currency": "thb", "title": "Latte", "description": "Single"}),
        )
        .send()?;
    ensure_eq!(single.status, 200);
    ensure_eq!(single.json()["multiple"], json!(false));

    let fetched = client
        .get(&format!("/links/{id}"))
        .header("Authorization", &auth)
        .send()?;
    ensure_eq!(fetched.status, 200);
    ensure_eq!(fetched.json()["id"], json!(id));

    let listed = client
        .get("/links?limit=1&offset=0&order=chronological")
        .header("Authorization", &auth)
        .send()?
        .json();
    ensure_eq!(listed["object"], json!("list"));
    ensure_eq!(listed["total"], json!(2));
    ensure_eq!(listed["limit"], json!(1));
    ensure_eq!(listed["offset"], json!(0));
    ensure_eq!(listed["order"], json!("chronological"));
    ensure_eq!(listed["location"], json!("/links"));
    ensure_eq!(listed["data"][0]["id"], json!(id));
    let reverse = client
        .get("/links?order=reverse_chronological")
        .header("Authorization", &auth)
        .send()?
        .json();
    ensure_eq!(reverse["data"][1]["id"], json!(id));

    let destroyed = client
        .request("DELETE", &format!("/links/{id}"))
        .header("Authorization", &auth)
        .send()?;
    ensure_eq!(destroyed.status, 200);
    ensure_eq!(destroyed.json()["deleted"], json!(true));
    let after = client
        .get("/links")
        .header("Authorization", &auth)
        .send()?
        .json();
    ensure_eq!(after["total"], json!(1));
    // The same link through Till's own API.
    let native = suite
        .client
        .with_bearer(&account.keys.test.secret_key)
        .get(&format!("/v1/payment_links/{id}"))
        .send()?;
    ensure_eq!(native.json()["deleted"], json!(true));
    Ok(())
}

fn omise_errors_come_in_omise_shape(suite: &Suite) -> Result<(), Failed> {
    let bad_key = suite
        .client
        .get("/links")
        .header("Authorization", &basic("sk_test_wrong"))
        .send()?;
    ensure_eq!(bad_key.status, 401);
    ensure_eq!(bad_key.json()["object"], json!("error"));
    ensure_eq!(bad_key.json()["code"], json!("authentication_failure"));
    let (client, auth) = omise(suite, &suite.account.keys.test.secret_key);
    let missing = client
        .post("/links")
        .header("Authorization", &auth)
        .body(
            "application/x-www-form-urlencoded",
            "amount=100&currency=thb&description=no+title",
        )
        .send()?;
    ensure_eq!(missing.status, 400);
    let body = missing.json();
    ensure_eq!(body["object"], json!("error"));
    ensure_eq!(body["code"], json!("bad_request"));
    ensure!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message"
    );
    let unknown = client
        .get("/links/plink_nothing")
        .header("Authorization", &auth)
        .send()?;
    ensure_eq!(unknown.status, 404);
    ensure_eq!(unknown.json()["code"], json!("not_found"));
    Ok(())
}
