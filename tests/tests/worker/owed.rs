//! A card charged while D1 cannot write the order: the shopper is told the payment went
//! through (never asked to pay again), the charge keeps its place against the link's
//! limit, and the order is written as soon as D1 takes it — by the shopper's page coming
//! back, or by the cron when the shopper does not.
//!
//! D1 is made to refuse the completion for real: an order row already names the session,
//! and `orders.checkout_session_id` is UNIQUE, so the completion batch fails as a whole.
//! Pointing that row at another session lets the next completion through.

use libtest_mimic::Failed;
use serde_json::{Value, json};

use crate::shopper::{SUCCESS, csrf, link, pay, visit};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[(
    "a_charge_d1_could_not_complete_keeps_its_place_until_its_order_is_written",
    a_charge_d1_could_not_complete_keeps_its_place_until_its_order_is_written,
)];

/// One value of one row.
fn one(suite: &Suite, sql: &str) -> Result<Value, Failed> {
    let rows = suite.query(sql)?;
    ensure_eq!(rows.len(), 1);
    Ok(rows[0]
        .as_object()
        .and_then(|row| row.values().next().cloned())
        .unwrap_or_default())
}

/// An order row that names `session`, so that the session's completion cannot be stored.
fn block(suite: &Suite, session: &str) -> Result<String, Failed> {
    let blocker = format!("ord_block_{session}");
    suite.update(&format!(
        "INSERT INTO orders (id, account_id, environment, checkout_session_id, currency, amount_subtotal,
             amount_discount, amount_total, customer_email, status, created_at)
         SELECT '{blocker}', account_id, environment, id, currency, 0, 0, 0, 'blocker@example.com', 'PAID', unixepoch()
         FROM checkout_sessions WHERE id = '{session}'"
    ))?;
    Ok(blocker)
}

/// The blocking row moved to `elsewhere` (a session of its own: the column is UNIQUE):
/// the session's completion can be stored again.
fn unblock(suite: &Suite, blocker: &str, elsewhere: &str) -> Result<(), Failed> {
    suite.update(&format!(
        "UPDATE orders SET checkout_session_id = '{elsewhere}' WHERE id = '{blocker}'"
    ))?;
    Ok(())
}

/// What D1 holds of a session's payment: its status, whether it holds a reservation and
/// owes a completion, and its orders.
fn held(suite: &Suite, session: &str) -> Result<Value, Failed> {
    let rows = suite.query(&format!(
        "SELECT status, reservation IS NOT NULL AS reserved,
                json_extract(pending_payment, '$.charged') AS owed,
                (SELECT count(*) FROM orders o WHERE o.checkout_session_id = s.id AND o.id NOT LIKE 'ord_block%') AS orders
         FROM checkout_sessions s WHERE id = '{session}'"
    ))?;
    ensure_eq!(rows.len(), 1);
    Ok(rows[0].clone())
}

fn a_charge_d1_could_not_complete_keeps_its_place_until_its_order_is_written(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Owed orders")?;
    let link = link(&merchant, json!({"maxCompletions": 2}))?;
    let link_id = link["id"].as_str().unwrap_or_default();
    let by_page = visit(suite, &link)?;
    let by_cron = visit(suite, &link)?;
    let spares = [visit(suite, &link)?, visit(suite, &link)?];
    let blockers = [block(suite, &by_page)?, block(suite, &by_cron)?];

    for session in [&by_page, &by_cron] {
        let page = suite.client.get(&format!("/c/{session}")).send()?;
        let token = csrf(&page)?;
        let paid = pay(suite, session, &token, SUCCESS, &[])?;
        // The card was charged: the shopper is told so, and the page comes back.
        ensure_eq!(paid.status, 503);
        ensure_eq!(paid.header("retry-after"), Some("3"));
        ensure!(
            paid.body.contains("Your payment went through")
                && paid.body.contains("Please do not pay again"),
            "the page does not say the payment went through: {}",
            paid.body
        );
        let refresh = format!("content=\"3;url=/c/{session}\"");
        ensure!(paid.body.contains(&refresh), "no reload of the page");
        ensure_eq!(
            held(suite, session)?,
            json!({"status": "OPEN", "reserved": 1, "owed": 1, "orders": 0})
        );
        // Paying again charges nothing more: the same page.
        let again = pay(suite, session, &token, SUCCESS, &[])?;
        ensure_eq!(again.status, 503);
        ensure!(
            again.body.contains("Your payment went through"),
            "{}",
            again.body
        );
    }
    // What is kept of the charge is what a payment keeps: never the card number.
    let kept = one(
        suite,
        &format!("SELECT pending_payment FROM checkout_sessions WHERE id = '{by_page}'"),
    )?;
    let kept = kept.as_str().unwrap_or_default();
    ensure!(
        kept.contains("\"last4\":\"4242\"") && !kept.contains("4242424242424242"),
        "pending payment {kept}"
    );
    // Both charges hold their places: the link is sold out to the next shopper.
    ensure_eq!(
        one(
            suite,
            &format!("SELECT reserved_count FROM payment_links WHERE id = '{link_id}'")
        )?,
        json!(2)
    );
    let visit = suite
        .client
        .get(&crate::shopper::path_of(
            link["url"].as_str().unwrap_or_default(),
            suite,
        ))
        .send()?;
    let (_, next) = crate::shopper::arrive(suite, &visit)?;
    ensure_eq!(next.status, 410);

    // Past the age of an abandoned payment, the cron still does not give a charge's place
    // back; while D1 refuses the order, it stays owed.
    suite.update(&format!(
        "UPDATE checkout_sessions SET reserved_at = unixepoch() - 1200 WHERE id = '{by_cron}'"
    ))?;
    suite.run_cron()?;
    ensure_eq!(
        held(suite, &by_cron)?,
        json!({"status": "OPEN", "reserved": 1, "owed": 1, "orders": 0})
    );

    // D1 takes the order again: the shopper's page, coming back, completes its payment…
    unblock(suite, &blockers[0], &spares[0])?;
    let back = suite.client.get(&format!("/c/{by_page}")).send()?;
    ensure_eq!(back.status, 303);
    let thanks = format!("https://shop.example/thanks?session_id={by_page}");
    ensure_eq!(back.header("location"), Some(thanks.as_str()));
    // …and the cron completes the one whose shopper never came back.
    unblock(suite, &blockers[1], &spares[1])?;
    suite.run_cron()?;

    for session in [&by_page, &by_cron] {
        ensure_eq!(
            held(suite, session)?,
            json!({"status": "COMPLETE", "reserved": 0, "owed": null, "orders": 1})
        );
        let order = suite.query(&format!(
            "SELECT o.amount_total, o.customer_email, p.card_last4, p.amount
             FROM orders o JOIN payments p ON p.order_id = o.id
             WHERE o.checkout_session_id = '{session}'"
        ))?;
        ensure_eq!(
            order,
            vec![
                json!({"amount_total": 590, "customer_email": "shopper@example.com", "card_last4": "4242", "amount": 590})
            ]
        );
        let completed = one(
            suite,
            &format!(
                "SELECT count(*) AS n FROM events WHERE object_id = '{session}' AND type = 'checkout.completed'"
            ),
        )?;
        ensure_eq!(completed, json!(1));
    }
    ensure_eq!(
        suite.query(&format!(
            "SELECT completed_count, reserved_count FROM payment_links WHERE id = '{link_id}'"
        ))?,
        vec![json!({"completed_count": 2, "reserved_count": 0})]
    );
    Ok(())
}
