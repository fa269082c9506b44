//! What the Worker does with its operator secret: checkout tickets are sealed with a key of
//! their own, derived by HKDF-SHA256 under the label the README documents (sealed here
//! independently of the Worker's code), and the operator token is taken only exactly.

use std::time::{SystemTime, UNIX_EPOCH};

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use libtest_mimic::Failed;
use serde_json::json;
use sha2::Sha256;
use till_shared::ids::CheckoutSessionId;

use crate::shopper::link;
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_checkout_ticket_is_sealed_with_its_own_hkdf_derived_key",
        a_checkout_ticket_is_sealed_with_its_own_hkdf_derived_key,
    ),
    (
        "the_operator_token_is_taken_only_exactly",
        the_operator_token_is_taken_only_exactly,
    ),
];

/// A ticket for a visit to `link_id` now, for `session`, MACed with `key`: the payload is
/// the hex of `l={link}&a={unix seconds}`, the signature HMAC-SHA256 over
/// `{session}.{payload}`.
fn ticket(key: &[u8], session: &str, link_id: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let payload = hex::encode(format!("l={link_id}&a={now}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(format!("{session}.{payload}").as_bytes());
    format!("{payload}.{}", hex::encode(mac.finalize().into_bytes()))
}

fn a_checkout_ticket_is_sealed_with_its_own_hkdf_derived_key(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Sealed tickets")?;
    let link = link(&merchant, json!({}))?;
    let link_id = link["id"].as_str().unwrap_or_default();
    let token = suite.operator_token.as_bytes();
    let mut hkdf_key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b"till operator secret"), token)
        .expand(b"till/checkout-ticket/v2", &mut hkdf_key)
        .map_err(|e| format!("{e}"))?;
    let mut earlier = Hmac::<Sha256>::new_from_slice(token).expect("any key length");
    earlier.update(b"till checkout ticket v1");
    let earlier_key = earlier.finalize().into_bytes();
    let session_count = |id: &str| -> Result<i64, Failed> {
        let rows = suite.query(&format!(
            "SELECT count(*) AS n FROM checkout_sessions WHERE id = '{id}'"
        ))?;
        Ok(rows[0]["n"].as_i64().unwrap_or(-1))
    };
    // Sealed with the key derived for tickets: the page opens the session.
    let good = CheckoutSessionId::generate().to_string();
    let page = suite
        .client
        .get(&format!(
            "/c/{good}?t={}",
            ticket(&hkdf_key, &good, link_id)
        ))
        .send()?;
    ensure!(
        page.status == 200 && page.body.contains("name=\"card_number\""),
        "a ticket sealed with the HKDF key answered {}",
        page.status
    );
    ensure_eq!(session_count(&good)?, 1);
    // Sealed with the earlier derivation, or with the token itself: nothing is created.
    for key in [&earlier_key[..], token] {
        let id = CheckoutSessionId::generate().to_string();
        let page = suite
            .client
            .get(&format!("/c/{id}?t={}", ticket(key, &id, link_id)))
            .send()?;
        ensure_eq!(page.status, 404);
        ensure_eq!(session_count(&id)?, 0);
    }
    Ok(())
}

fn the_operator_token_is_taken_only_exactly(suite: &Suite) -> Result<(), Failed> {
    let token = suite.operator_token.as_str();
    let shortened = &token[..token.len() - 1];
    let longer = format!("{token}0");
    let changed_last = format!(
        "{shortened}{}",
        if token.ends_with('x') { 'y' } else { 'x' }
    );
    let prefix = &token[..3];
    for wrong in [shortened, longer.as_str(), changed_last.as_str(), prefix] {
        let reply = suite
            .client
            .with_bearer(wrong)
            .post("/v1/accounts")
            .json(&json!({"name": "Near miss"}))
            .send()?;
        ensure_eq!(reply.status, 401);
        ensure_eq!(reply.json()["error"]["code"], json!("unauthorized"));
    }
    let rows = suite.query("SELECT count(*) AS n FROM accounts WHERE name = 'Near miss'")?;
    ensure_eq!(rows[0]["n"], json!(0));
    let exact = suite
        .client
        .with_bearer(token)
        .post("/v1/accounts")
        .json(&json!({"name": "Exact token"}))
        .send()?;
    ensure_eq!(exact.status, 201);
    Ok(())
}
