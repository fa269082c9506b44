//! Promotion codes at the edges: a code that stops being usable after it was put on a
//! session, a code applied while the same session is being paid, codes guessed on the
//! hosted page, and codes asked about with the public key.

use std::thread;
use std::time::Duration;

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_tests::accounts::create_account;
use till_tests::http::{Client, Reply};

use crate::shopper::{SUCCESS, csrf, form, link, visit};
use crate::support::{change, create, fetch, product};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_code_deactivated_after_it_was_applied_is_refused_at_reservation",
        a_code_deactivated_after_it_was_applied_is_refused_at_reservation,
    ),
    (
        "a_code_expired_after_it_was_applied_is_refused_at_reservation",
        a_code_expired_after_it_was_applied_is_refused_at_reservation,
    ),
    (
        "the_charged_amount_is_the_recorded_amount_under_concurrent_promotion_codes",
        the_charged_amount_is_the_recorded_amount_under_concurrent_promotion_codes,
    ),
    (
        "promotion_codes_tried_on_the_page_are_throttled_per_session_and_address",
        promotion_codes_tried_on_the_page_are_throttled_per_session_and_address,
    ),
    (
        "a_publishable_key_cannot_tell_a_missing_code_from_one_that_does_not_apply",
        a_publishable_key_cannot_tell_a_missing_code_from_one_that_does_not_apply,
    ),
];

/// A code typed on the page of `session`, sent from `address`.
fn apply(
    suite: &Suite,
    session: &str,
    token: &str,
    code: &str,
    address: &str,
) -> Result<Reply, Failed> {
    Ok(suite
        .client
        .post(&format!("/c/{session}/promotion"))
        .header("CF-Connecting-IP", address)
        .body(
            "application/x-www-form-urlencoded",
            form(&[("csrf", token), ("code", code)]),
        )
        .send()?)
}

/// The test card paid on the page of `session`, in `language`, from `address`.
fn pay_in(
    suite: &Suite,
    session: &str,
    token: &str,
    language: &str,
    address: &str,
) -> Result<Reply, Failed> {
    let pairs = [
        ("csrf", token),
        ("email", "shopper@example.com"),
        ("card_number", SUCCESS),
        ("card_expiry", "12 / 34"),
        ("card_cvc", "123"),
    ];
    Ok(suite
        .client
        .post(&format!("/c/{session}"))
        .header("Accept-Language", language)
        .header("CF-Connecting-IP", address)
        .body("application/x-www-form-urlencoded", form(&pairs))
        .send()?)
}

/// A session of `link` with `code` applied on its page: its id and CSRF token.
fn session_with_code(
    suite: &Suite,
    link: &Value,
    code: &str,
    address: &str,
) -> Result<(String, String), Failed> {
    let session = visit(suite, link)?;
    let token = csrf(&suite.client.get(&format!("/c/{session}")).send()?)?;
    ensure_eq!(apply(suite, &session, &token, code, address)?.status, 303);
    Ok((session, token))
}

/// What D1 holds for `session`: its amounts and code, its order's and its payment's.
fn recorded(suite: &Suite, session: &str) -> Result<Value, Failed> {
    let rows = suite.query(&format!(
        "SELECT s.status, s.amount_total, s.promotion_code,
                o.amount_total AS order_total, o.promotion_code AS order_code, p.amount AS paid
         FROM checkout_sessions s LEFT JOIN orders o ON o.checkout_session_id = s.id
              LEFT JOIN payments p ON p.order_id = o.id
         WHERE s.id = '{session}'"
    ))?;
    Ok(rows.into_iter().next().unwrap_or(Value::Null))
}

/// The code's redemptions, counted and held.
fn redemptions(suite: &Suite, code_id: &str) -> Result<Value, Failed> {
    let rows = suite.query(&format!(
        "SELECT times_redeemed, reserved_count FROM promotion_codes WHERE id = '{code_id}'"
    ))?;
    Ok(rows.into_iter().next().unwrap_or(Value::Null))
}

/// Pays `session` after its code stopped being usable: refused in the shopper's language,
/// nothing charged, the code taken off; paying again charges the full NT$590.
fn paying_with_a_withdrawn_code(
    suite: &Suite,
    session: &str,
    token: &str,
    code_id: &str,
) -> Result<(), Failed> {
    let refused = pay_in(suite, session, token, "ja", "198.18.0.1")?;
    ensure!(
        refused.status == 409,
        "the payment answered {}: {}",
        refused.status,
        refused.body
    );
    ensure!(
        refused
            .body
            .contains("このプロモーションコードは使えなくなったため取り消しました"),
        "no localized message: {}",
        refused.body
    );
    ensure!(
        refused.body.contains("NT$590") && !refused.body.contains("NT$472"),
        "the page does not show the full total"
    );
    ensure_eq!(
        recorded(suite, session)?,
        json!({"status": "OPEN", "amount_total": 590, "promotion_code": null,
               "order_total": null, "order_code": null, "paid": null})
    );
    ensure_eq!(
        redemptions(suite, code_id)?,
        json!({"times_redeemed": 0, "reserved_count": 0})
    );
    let paid = pay_in(suite, session, token, "en", "198.18.0.1")?;
    ensure_eq!(paid.status, 303);
    ensure_eq!(
        recorded(suite, session)?,
        json!({"status": "COMPLETE", "amount_total": 590, "promotion_code": null,
               "order_total": 590, "order_code": null, "paid": 590})
    );
    ensure_eq!(
        redemptions(suite, code_id)?,
        json!({"times_redeemed": 0, "reserved_count": 0})
    );
    Ok(())
}

fn a_code_deactivated_after_it_was_applied_is_refused_at_reservation(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Late deactivation")?;
    let code = create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "LATE20", "percent_off": 20}),
    )?;
    let code_id = code["id"].as_str().unwrap_or_default();
    let link = link(&merchant, json!({"allow_promotion_codes": true}))?;
    let (session, token) = session_with_code(suite, &link, "LATE20", "198.18.1.1")?;
    ensure_eq!(recorded(suite, &session)?["amount_total"], json!(472));
    let off = change(
        &merchant,
        "PATCH",
        &format!("/v1/promotion_codes/{code_id}"),
        json!({"active": false}),
    )?;
    ensure_eq!(off["active"], json!(false));
    paying_with_a_withdrawn_code(suite, &session, &token, code_id)
}

fn a_code_expired_after_it_was_applied_is_refused_at_reservation(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Late expiry")?;
    let code = create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "SOON20", "percent_off": 20, "expires_at": "2099-01-01T00:00:00Z"}),
    )?;
    let code_id = code["id"].as_str().unwrap_or_default();
    let link = link(&merchant, json!({"allow_promotion_codes": true}))?;
    let (session, token) = session_with_code(suite, &link, "soon20", "198.18.1.2")?;
    ensure_eq!(recorded(suite, &session)?["amount_total"], json!(472));
    // The code's expiry passes while the shopper is on the page.
    suite.update(&format!(
        "UPDATE promotion_codes SET expires_at = unixepoch() - 1 WHERE id = '{code_id}'"
    ))?;
    paying_with_a_withdrawn_code(suite, &session, &token, code_id)
}

/// Sessions paid at the same moment as codes are applied to them, in waves.
const RACED_SESSIONS: usize = 30;
const WAVE: usize = 10;

fn the_charged_amount_is_the_recorded_amount_under_concurrent_promotion_codes(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Racing codes")?;
    let code = create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "HALF", "percent_off": 50}),
    )?;
    let code_id = code["id"].as_str().unwrap_or_default();
    let link = link(&merchant, json!({"allow_promotion_codes": true}))?;
    let mut sessions = Vec::new();
    for _ in 0..RACED_SESSIONS {
        let session = visit(suite, &link)?;
        let token = csrf(&suite.client.get(&format!("/c/{session}")).send()?)?;
        sessions.push((session, token));
    }
    let (mut retry, mut shed) = (Vec::new(), 0);
    for (wave, group) in sessions.chunks(WAVE).enumerate() {
        let outcomes: Vec<Result<(u16, u16, u16), String>> = thread::scope(|scope| {
            let handles: Vec<_> = group
                .iter()
                .enumerate()
                .map(|(i, (session, token))| {
                    let address = format!("198.18.{}.{}", 10 + wave, i + 1);
                    scope.spawn(move || -> Result<(u16, u16, u16), String> {
                        thread::scope(|inner| {
                            let code = || {
                                apply(suite, session, token, "HALF", &address)
                                    .map(|r| r.status)
                                    .map_err(|e| format!("{e:?}"))
                            };
                            let first = inner.spawn(code);
                            let second = inner.spawn(code);
                            // Staggered by a few milliseconds from session to session, so
                            // that some codes land between the payment's read of the
                            // session and its reservation.
                            thread::sleep(Duration::from_millis(2 * (i % 10) as u64));
                            let paid = inner.spawn(|| {
                                pay_in(suite, session, token, "en", &address)
                                    .map(|r| r.status)
                                    .map_err(|e| format!("{e:?}"))
                            });
                            let join = |h: thread::ScopedJoinHandle<'_, Result<u16, String>>| {
                                h.join().unwrap_or_else(|_| Err("a thread panicked".into()))
                            };
                            Ok((join(paid)?, join(first)?, join(second)?))
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
                .collect()
        });
        for ((session, token), outcome) in group.iter().zip(outcomes) {
            let (paid, first, second) = outcome?;
            // 409: the payment met a total that had changed and charged nothing. 503: the
            // local runtime shed the request under load (not an answer of the Worker's);
            // whatever it did, D1 must agree with itself below.
            ensure!(
                [303, 409, 503].contains(&paid),
                "a payment answered {paid} for {session}"
            );
            for applied in [first, second] {
                ensure!(
                    [303, 503].contains(&applied),
                    "a code answered {applied} for {session}"
                );
            }
            shed += [paid, first, second].iter().filter(|s| **s == 503).count();
            if paid != 303 {
                retry.push((session.clone(), token.clone()));
            }
        }
    }
    eprintln!(
        "racing codes: {} of {RACED_SESSIONS} payments met a changed total, {shed} requests shed (503)",
        retry.len()
    );
    // A payment that met a new total charged nothing and may go again.
    for (session, token) in &retry {
        ensure_eq!(
            pay_in(suite, session, token, "en", "198.18.0.1")?.status,
            303
        );
    }
    let link_id = link["id"].as_str().unwrap_or_default();
    let mismatched = suite.query(&format!(
        "SELECT s.id, s.amount_total, s.promotion_code, o.amount_total AS order_total,
                o.promotion_code AS order_code, p.amount AS paid
         FROM checkout_sessions s JOIN orders o ON o.checkout_session_id = s.id
              JOIN payments p ON p.order_id = o.id
         WHERE s.payment_link_id = '{link_id}'
           AND (p.amount <> s.amount_total OR o.amount_total <> s.amount_total
                OR o.promotion_code IS NOT s.promotion_code)"
    ))?;
    ensure!(
        mismatched.is_empty(),
        "{} of {RACED_SESSIONS} payments differ from what their session records: {mismatched:?}",
        mismatched.len()
    );
    let totals = suite.query(&format!(
        "SELECT count(*) AS complete,
                sum(s.promotion_code IS NOT NULL) AS with_code,
                (SELECT count(*) FROM payments p JOIN orders o ON o.id = p.order_id
                 WHERE o.payment_link_id = '{link_id}') AS payments
         FROM checkout_sessions s WHERE s.payment_link_id = '{link_id}' AND s.status = 'COMPLETE'"
    ))?;
    ensure_eq!(totals[0]["complete"], json!(RACED_SESSIONS));
    ensure_eq!(totals[0]["payments"], json!(RACED_SESSIONS));
    ensure_eq!(
        redemptions(suite, code_id)?,
        json!({"times_redeemed": totals[0]["with_code"], "reserved_count": 0})
    );
    Ok(())
}

fn promotion_codes_tried_on_the_page_are_throttled_per_session_and_address(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Code guessing")?;
    create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "REAL10", "percent_off": 10}),
    )?;
    let link = link(&merchant, json!({"allow_promotion_codes": true}))?;
    let open = || -> Result<(String, String), Failed> {
        let session = visit(suite, &link)?;
        let token = csrf(&suite.client.get(&format!("/c/{session}")).send()?)?;
        Ok((session, token))
    };

    // One session: twenty guesses at once, exactly ten of them looked at.
    let (session, token) = open()?;
    let statuses: Vec<Result<u16, String>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let (session, token) = (&session, &token);
                scope.spawn(move || {
                    apply(suite, session, token, &format!("GUESS{i}"), "198.18.2.1")
                        .map(|r| r.status)
                        .map_err(|e| format!("{e:?}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let statuses = statuses.into_iter().collect::<Result<Vec<u16>, String>>()?;
    let counted = |status: u16| statuses.iter().filter(|s| **s == status).count();
    ensure_eq!((counted(422), counted(429)), (10, 10));
    // The real code too, now: not even looked up, and the total stays.
    let blocked = suite
        .client
        .post(&format!("/c/{session}/promotion"))
        .header("CF-Connecting-IP", "198.18.2.2")
        .header("Accept-Language", "zh-TW")
        .body(
            "application/x-www-form-urlencoded",
            form(&[("csrf", &token), ("code", "REAL10")]),
        )
        .send()?;
    ensure_eq!(blocked.status, 429);
    ensure!(
        blocked.body.contains("嘗試的優惠碼次數過多"),
        "no localized message: {}",
        blocked.body
    );
    ensure!(
        blocked.body.contains("name=\"card_number\""),
        "no payment form"
    );
    let priced = fetch(&merchant, &format!("/v1/checkout/sessions/{session}"))?;
    ensure_eq!(priced["amount_total"], json!(590));
    // The shopper can still pay without a code.
    ensure_eq!(
        pay_in(suite, &session, &token, "en", "198.18.2.3")?.status,
        303
    );

    // One address, session after session: thirty guesses in the hour, then none.
    for _ in 0..3 {
        let (session, token) = open()?;
        for i in 0..10 {
            let reply = apply(suite, &session, &token, &format!("TRY{i}"), "198.18.3.1")?;
            ensure_eq!(reply.status, 422);
        }
    }
    let (session, token) = open()?;
    ensure_eq!(
        apply(suite, &session, &token, "REAL10", "198.18.3.1")?.status,
        429
    );
    // Another address on the same session is not held back.
    ensure_eq!(
        apply(suite, &session, &token, "REAL10", "198.18.3.2")?.status,
        303
    );
    Ok(())
}

fn a_publishable_key_cannot_tell_a_missing_code_from_one_that_does_not_apply(
    suite: &Suite,
) -> Result<(), Failed> {
    let account = create_account(&suite.worker.base_url, &suite.operator_token, "Quiet codes")?;
    let merchant = suite.client.with_bearer(&account.keys.test.secret_key);
    let public = suite.client.with_bearer(&account.keys.test.publishable_key);
    let sold = product(&merchant, "Notebook", 590, "TWD")?;
    let other = product(&merchant, "Pen", 90, "TWD")?;
    let codes = [
        json!({"code": "PENONLY", "percent_off": 10, "products": [other["id"]]}),
        json!({"code": "SWITCHEDOFF", "percent_off": 10, "active": false}),
        json!({"code": "DOLLARS", "amount_off": 100, "currency": "USD"}),
        json!({"code": "ONCE", "percent_off": 10, "max_redemptions": 1}),
        json!({"code": "BYGONE", "percent_off": 10, "expires_at": "2099-01-01T00:00:00Z"}),
    ];
    for body in &codes {
        create(&merchant, "/v1/promotion_codes", body.clone())?;
    }
    // Past its expiry, and redeemed as often as allowed.
    suite.update(&format!(
        "UPDATE promotion_codes SET expires_at = unixepoch() - 1
         WHERE account_id = '{}' AND code_key = 'BYGONE'",
        account.id
    ))?;
    suite.update(&format!(
        "UPDATE promotion_codes SET times_redeemed = 1
         WHERE account_id = '{}' AND code_key = 'ONCE'",
        account.id
    ))?;
    let ask = |client: &Client, code: &str| -> Result<Reply, Failed> {
        Ok(client
            .post("/v1/checkout/sessions")
            .json(&json!({"price_id": sold["default_price"]["id"], "promotion_code": code}))
            .send()?)
    };
    let missing = ask(&public, "NOSUCHCODE")?;
    ensure_eq!(missing.status, 400);
    ensure_eq!(
        missing.json()["error"],
        json!({"type": "invalid_request_error", "code": "invalid_request", "param": "promotion_code",
               "message": "This promotion code cannot be used for this purchase."})
    );
    for code in ["PENONLY", "SWITCHEDOFF", "DOLLARS", "ONCE", "BYGONE"] {
        let reply = ask(&public, code)?;
        ensure!(
            reply.status == missing.status && reply.json() == missing.json(),
            "{code} answered {} {} where a missing code answers {} {}",
            reply.status,
            reply.body,
            missing.status,
            missing.body
        );
    }
    // The merchant's own secret key is told which it is.
    ensure_eq!(ask(&merchant, "NOSUCHCODE")?.status, 409);
    let restricted = ask(&merchant, "PENONLY")?;
    ensure_eq!(restricted.status, 409);
    ensure!(
        restricted.body.contains("does not apply"),
        "{}",
        restricted.body
    );

    // Each code a publishable key asks for counts against the caller's address, as codes
    // typed on the page do: thirty in the hour, then not even a real one is looked up.
    create(
        &merchant,
        "/v1/promotion_codes",
        json!({"code": "REAL10", "percent_off": 10}),
    )?;
    let ask_from = |address: &str, code: Option<&str>| -> Result<Reply, Failed> {
        let mut body = json!({"price_id": sold["default_price"]["id"]});
        if let Some(code) = code {
            body["promotion_code"] = json!(code);
        }
        Ok(public
            .post("/v1/checkout/sessions")
            .header("CF-Connecting-IP", address)
            .json(&body)
            .send()?)
    };
    for i in 0..29 {
        let guess = format!("GUESS{i}");
        ensure_eq!(ask_from("198.18.5.1", Some(&guess))?.status, 400);
    }
    ensure_eq!(ask_from("198.18.5.1", Some("REAL10"))?.status, 201);
    let blocked = ask_from("198.18.5.1", Some("REAL10"))?;
    ensure_eq!(blocked.status, 429);
    ensure_eq!(blocked.json()["error"]["code"], json!("rate_limited"));
    ensure_eq!(blocked.json()["error"]["param"], json!("promotion_code"));
    // The address still gets a session without a code; another address its code.
    ensure_eq!(ask_from("198.18.5.1", None)?.status, 201);
    ensure_eq!(ask_from("198.18.5.2", Some("REAL10"))?.status, 201);
    Ok(())
}
