//! Recurring billing as a merchant sees it: customers, saved cards, subscriptions billed on
//! a test clock (or by the cron trigger), dunning, manual retry, cancel, trials, and
//! exactly one billing order per cycle when two billers run at once.

use std::thread;

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_tests::http::Client;

use crate::support::{change, create, fetch, refused};
use crate::{Check, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_link_to_a_recurring_product_starts_a_subscription_when_paid",
        a_link_to_a_recurring_product_starts_a_subscription_when_paid,
    ),
    (
        "a_monthly_subscription_from_jan_31_bills_twelve_times_in_a_clock_year",
        a_monthly_subscription_from_jan_31_bills_twelve_times_in_a_clock_year,
    ),
    (
        "three_billing_cycles_end_completed",
        three_billing_cycles_end_completed,
    ),
    (
        "a_clock_advance_is_bounded_in_billing_cycles",
        a_clock_advance_is_bounded_in_billing_cycles,
    ),
    (
        "two_crons_at_once_bill_a_thousand_due_subscriptions_exactly_once",
        two_crons_at_once_bill_a_thousand_due_subscriptions_exactly_once,
    ),
    (
        "a_declining_card_goes_past_due_then_unpaid_and_a_manual_retry_recovers",
        a_declining_card_goes_past_due_then_unpaid_and_a_manual_retry_recovers,
    ),
    (
        "cancel_at_period_end_bills_nothing_more",
        cancel_at_period_end_bills_nothing_more,
    ),
    (
        "a_trial_charges_nothing_until_it_ends",
        a_trial_charges_nothing_until_it_ends,
    ),
    (
        "customers_are_created_queried_and_kept_while_subscribed",
        customers_are_created_queried_and_kept_while_subscribed,
    ),
    (
        "saved_cards_keep_no_number_and_production_refuses_raw_cards",
        saved_cards_keep_no_number_and_production_refuses_raw_cards,
    ),
    (
        "a_subscription_checkout_saves_the_card_and_starts_the_subscription",
        a_subscription_checkout_saves_the_card_and_starts_the_subscription,
    ),
    (
        "deleting_a_test_clock_cancels_its_subscriptions_with_events",
        deleting_a_test_clock_cancels_its_subscriptions_with_events,
    ),
    (
        "every_billing_event_carries_the_object_as_the_api_shows_it",
        every_billing_event_carries_the_object_as_the_api_shows_it,
    ),
    (
        "dunning_settings_are_a_list_of_increasing_delays_and_the_job_follows_them",
        dunning_settings_are_a_list_of_increasing_delays_and_the_job_follows_them,
    ),
    (
        "subscription_items_are_refused_naming_the_line_at_fault",
        subscription_items_are_refused_naming_the_line_at_fault,
    ),
    (
        "a_trial_moved_before_it_bills_stays_the_current_period",
        a_trial_moved_before_it_bills_stays_the_current_period,
    ),
];

pub(crate) const GOOD_CARD: &str = "4242424242424242";
pub(crate) const NO_FUNDS_CARD: &str = "4000000000009995";

pub(crate) fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// A test clock frozen at `at`.
pub(crate) fn clock(merchant: &Client, at: &str) -> Result<String, Failed> {
    Ok(text(
        &create(merchant, "/v1/test_clocks", json!({"frozen_time": at}))?["id"],
    ))
}

/// A merchant of its own with a test clock frozen at `at`, a customer on that clock with
/// a good saved card, and a monthly plan of `amount`.
pub(crate) struct OnClock {
    pub merchant: Client,
    pub clock: String,
    pub customer: String,
    pub card: String,
    pub product: String,
}

pub(crate) fn on_clock(
    suite: &Suite,
    name: &str,
    at: &str,
    amount: i64,
) -> Result<OnClock, Failed> {
    let merchant = suite.fresh_merchant(name)?;
    let clock = clock(&merchant, at)?;
    let (customer, card) = customer_with_card(&merchant, Some(&clock), GOOD_CARD)?;
    let product = plan(&merchant, amount, "monthly")?;
    Ok(OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    })
}

pub(crate) fn advance(merchant: &Client, clock: &str, to: &str) -> Result<Value, Failed> {
    let advanced = create(
        merchant,
        &format!("/v1/test_clocks/{clock}/advance"),
        json!({"frozen_time": to}),
    )?;
    ensure_eq!(advanced["status"], json!("READY"));
    Ok(advanced)
}

/// A customer (on `clock`, if any) with a saved card; answers (customer id, card id).
pub(crate) fn customer_with_card(
    merchant: &Client,
    clock: Option<&str>,
    card: &str,
) -> Result<(String, String), Failed> {
    let customer = create(
        merchant,
        "/v1/customers",
        json!({"name": "Subscriber", "email": "subscriber@example.com", "test_clock": clock}),
    )?;
    let id = text(&customer["id"]);
    let method = save_card(merchant, &id, card)?;
    Ok((id, method))
}

pub(crate) fn save_card(merchant: &Client, customer: &str, card: &str) -> Result<String, Failed> {
    let method = create(
        merchant,
        "/v1/payment_methods",
        json!({"customer_id": customer, "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
    )?;
    Ok(text(&method["id"]))
}

/// A recurring product in the subscription document's flat form.
pub(crate) fn plan(merchant: &Client, amount: i64, interval: &str) -> Result<String, Failed> {
    let product = create(
        merchant,
        "/v1/products",
        json!({"name": "Pro plan", "type": "recurring", "txamt": amount, "txcurrcd": "HKD",
               "interval": interval, "interval_count": 1, "usage_type": "licensed"}),
    )?;
    Ok(text(&product["id"]))
}

pub(crate) fn subscribe(
    merchant: &Client,
    customer: &str,
    method: &str,
    product: &str,
    extra: Value,
) -> Result<Value, Failed> {
    let mut body = json!({
        "customer_id": customer,
        "token_id": method,
        "products": [{"product_id": product, "quantity": 1}],
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    create(merchant, "/v1/subscriptions", body)
}

pub(crate) fn orders(merchant: &Client, subscription: &str) -> Result<Vec<Value>, Failed> {
    let list = fetch(
        merchant,
        &format!("/v1/subscriptions/{subscription}/billing_orders?page=1&page_size=100&order=asc"),
    )?;
    Ok(list["data"].as_array().cloned().unwrap_or_default())
}

pub(crate) fn subscription(merchant: &Client, id: &str) -> Result<Value, Failed> {
    fetch(merchant, &format!("/v1/subscriptions/{id}"))
}

/// Events of `kind` about `object_id`.
pub(crate) fn events_about(
    merchant: &Client,
    kind: &str,
    object_id: &str,
) -> Result<Vec<Value>, Failed> {
    let list = fetch(merchant, &format!("/v1/events?type={kind}&limit=100"))?;
    Ok(list["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["data"]["id"] == object_id)
        .collect())
}

fn a_monthly_subscription_from_jan_31_bills_twelve_times_in_a_clock_year(
    suite: &Suite,
) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    } = on_clock(suite, "Yearly clock", "2027-01-31T00:00:00Z", 500)?;
    let sub = subscribe(
        &merchant,
        &customer,
        &card,
        &product,
        json!({"start_time": "2027-01-31T12:00:00Z"}),
    )?;
    let id = text(&sub["id"]);
    // Scheduled: nothing is charged before the start time.
    ensure_eq!(sub["state"], json!("ACTIVE"));
    ensure_eq!(sub["next_billing_time"], json!("2027-01-31T12:00:00Z"));
    ensure!(orders(&merchant, &id)?.is_empty(), "charged before start");

    advance(&merchant, &clock, "2028-01-31T00:00:00Z")?;
    let orders = orders(&merchant, &id)?;
    let seen: Vec<(i64, String, String, String)> = orders
        .iter()
        .map(|o| {
            (
                o["sequence_no"].as_i64().unwrap_or(0),
                text(&o["billing_time"]),
                text(&o["status"]),
                text(&o["subscription_order_id"]),
            )
        })
        .collect();
    let days = [
        "01-31", "02-28", "03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "09-30", "10-31",
        "11-30", "12-31",
    ];
    let expected: Vec<(i64, String, String, String)> = days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            (
                i as i64 + 1,
                format!("2027-{day}T12:00:00Z"),
                "PAID".to_owned(),
                format!("sub_ord_{id}_{:04}", i + 1),
            )
        })
        .collect();
    ensure_eq!(seen, expected);
    ensure!(
        orders
            .iter()
            .all(|o| o["trigger_by"] == "auto" && o["amount"] == 500),
        "orders: {orders:?}"
    );
    let after = subscription(&merchant, &id)?;
    ensure_eq!(after["completed_billing_iteration"], json!(12));
    ensure_eq!(after["last_billing_time"], json!("2027-12-31T12:00:00Z"));
    ensure_eq!(after["next_billing_time"], json!("2028-01-31T12:00:00Z"));
    ensure_eq!(after["current_period_start"], json!("2027-12-31T12:00:00Z"));
    ensure_eq!(
        events_about(&merchant, "subscription.renewed", &id)?.len(),
        12
    );
    // Twelve charges in D1, all succeeded, one per order.
    let charges = suite.query(&format!(
        "SELECT count(*) AS n, count(DISTINCT billing_order_id) AS orders FROM charges
         WHERE status = 'SUCCEEDED' AND billing_order_id LIKE 'sub_ord_{id}_%'"
    ))?;
    ensure_eq!(charges[0]["n"], json!(12));
    ensure_eq!(charges[0]["orders"], json!(12));
    Ok(())
}

fn a_clock_advance_is_bounded_in_billing_cycles(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Every minute")?;
    let clock = clock(&merchant, "2027-01-01T00:00:00Z")?;
    let (customer, card) = customer_with_card(&merchant, Some(&clock), GOOD_CARD)?;
    let product = plan(&merchant, 100, "minute")?;
    let id = text(&subscribe(&merchant, &customer, &card, &product, json!({}))?["id"]);
    ensure_eq!(orders(&merchant, &id)?.len(), 1);
    // Five years of a price billed every minute would be millions of charges: refused,
    // naming how far the clock may go, and nothing moved or billed.
    let refused_advance = merchant
        .post(&format!("/v1/test_clocks/{clock}/advance"))
        .json(&json!({"frozen_time": "2031-12-31T00:00:00Z"}))
        .send()?;
    refused(
        &refused_advance,
        400,
        "invalid_request",
        Some("frozen_time"),
    )?;
    let message = text(&refused_advance.json()["error"]["message"]);
    ensure!(
        message.contains("2027-01-01T16:40:00Z"),
        "the message does not say how far: {message}"
    );
    let unmoved = fetch(&merchant, &format!("/v1/test_clocks/{clock}"))?;
    ensure_eq!(unmoved["frozen_time"], json!("2027-01-01T00:00:00Z"));
    ensure_eq!(unmoved["status"], json!("READY"));
    ensure_eq!(orders(&merchant, &id)?.len(), 1);
    // Within the bound it bills every cycle.
    advance(&merchant, &clock, "2027-01-01T00:05:00Z")?;
    ensure_eq!(orders(&merchant, &id)?.len(), 6);
    Ok(())
}

fn three_billing_cycles_end_completed(suite: &Suite) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    } = on_clock(suite, "Three cycles", "2027-03-01T09:00:00Z", 1200)?;
    let sub = subscribe(
        &merchant,
        &customer,
        &card,
        &product,
        json!({"total_billing_cycles": 3}),
    )?;
    let id = text(&sub["id"]);
    // No start time: the first charge is made at creation.
    ensure_eq!(sub["state"], json!("ACTIVE"));
    ensure_eq!(sub["completed_billing_iteration"], json!(1));
    advance(&merchant, &clock, "2027-09-01T09:00:00Z")?;
    let orders = orders(&merchant, &id)?;
    ensure_eq!(orders.len(), 3);
    let after = subscription(&merchant, &id)?;
    ensure_eq!(after["state"], json!("COMPLETED"));
    ensure_eq!(after["completed_billing_iteration"], json!(3));
    ensure_eq!(after["next_billing_time"], Value::Null);
    ensure_eq!(
        events_about(&merchant, "subscription.completed", &id)?.len(),
        1
    );
    // A completed subscription is over: no retry, no cancel.
    refused(
        &merchant
            .post(&format!("/v1/subscriptions/{id}/retry"))
            .json(&json!({}))
            .send()?,
        400,
        "invalid_request",
        Some("id"),
    )?;
    Ok(())
}

fn two_crons_at_once_bill_a_thousand_due_subscriptions_exactly_once(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("A thousand due")?;
    let (customer, card) = customer_with_card(&merchant, None, GOOD_CARD)?;
    let product = plan(&merchant, 300, "monthly")?;
    let start = chrono_free_now() + 3_600;
    let first = subscribe(
        &merchant,
        &customer,
        &card,
        &product,
        json!({"start_time": start}),
    )?;
    let id = text(&first["id"]);
    // 999 more like it, then all of them due a minute ago (time that has passed).
    suite.update(&format!(
        "INSERT INTO subscriptions (id, account_id, environment, customer_id, payment_method_id, items, currency,
             amount, interval, interval_count, start_time, anchor_time, state, next_billing_time, due_at, created_at,
             updated_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
         SELECT 'sub_' || lower(hex(randomblob(12))), account_id, environment, customer_id, payment_method_id, items,
                currency, amount, interval, interval_count, start_time, anchor_time, state, next_billing_time, due_at,
                created_at, updated_at
         FROM subscriptions, n WHERE id = '{id}'"
    ))?;
    let account = suite.query(&format!(
        "SELECT account_id FROM subscriptions WHERE id = '{id}'"
    ))?[0]["account_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let due = chrono_free_now() - 60;
    suite.update(&format!(
        "UPDATE subscriptions SET start_time = {due}, anchor_time = {due}, next_billing_time = {due}, due_at = {due}
         WHERE account_id = '{account}'"
    ))?;

    thread::scope(|scope| -> Result<(), Failed> {
        let crons: Vec<_> = (0..2).map(|_| scope.spawn(|| suite.run_cron())).collect();
        for cron in crons {
            cron.join().map_err(|_| "a cron thread panicked")??;
        }
        Ok(())
    })?;
    let counts = suite.query(&format!(
        "SELECT (SELECT count(*) FROM billing_orders WHERE account_id = '{account}') AS orders,
                (SELECT count(*) FROM charges WHERE account_id = '{account}') AS charges,
                (SELECT count(*) FROM charges WHERE account_id = '{account}' AND status = 'SUCCEEDED') AS paid,
                (SELECT count(*) FROM subscriptions WHERE account_id = '{account}' AND completed_billing_iteration = 1)
                    AS billed_once,
                (SELECT count(*) FROM (SELECT subscription_id FROM billing_orders WHERE account_id = '{account}'
                                       GROUP BY subscription_id HAVING count(*) > 1)) AS billed_twice"
    ))?;
    ensure_eq!(
        counts[0],
        json!({"orders": 1000, "charges": 1000, "paid": 1000, "billed_once": 1000, "billed_twice": 0})
    );
    Ok(())
}

/// Unix seconds now, from the test machine's clock.
fn chrono_free_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn a_declining_card_goes_past_due_then_unpaid_and_a_manual_retry_recovers(
    suite: &Suite,
) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card: good,
        product,
    } = on_clock(suite, "Dunning", "2027-05-10T00:00:00Z", 900)?;
    let sub = subscribe(&merchant, &customer, &good, &product, json!({}))?;
    let id = text(&sub["id"]);
    ensure_eq!(sub["completed_billing_iteration"], json!(1));

    // The customer's card changes to one that declines every charge.
    let broke = save_card(&merchant, &customer, NO_FUNDS_CARD)?;
    change(
        &merchant,
        "PATCH",
        &format!("/v1/subscriptions/{id}"),
        json!({"token_id": broke}),
    )?;
    advance(&merchant, &clock, "2027-06-10T00:00:00Z")?;
    let past_due = subscription(&merchant, &id)?;
    ensure_eq!(past_due["state"], json!("PAST_DUE"));
    ensure_eq!(past_due["next_retry_time"], json!("2027-06-11T00:00:00Z"));
    // Retries 1, 3 and 5 days after the first failure, each failing.
    for (to, attempts, state) in [
        ("2027-06-11T00:00:00Z", 2, "PAST_DUE"),
        ("2027-06-13T00:00:00Z", 3, "PAST_DUE"),
        ("2027-06-15T00:00:00Z", 4, "UNPAID"),
    ] {
        advance(&merchant, &clock, to)?;
        let order = &orders(&merchant, &id)?[1];
        ensure_eq!(order["attempts"], json!(attempts));
        ensure_eq!(order["status"], json!("FAILED"));
        ensure_eq!(order["failure_code"], json!("insufficient_funds"));
        ensure_eq!(subscription(&merchant, &id)?["state"], json!(state));
    }
    // Unpaid: nothing more is tried on its own.
    advance(&merchant, &clock, "2027-06-20T00:00:00Z")?;
    ensure_eq!(orders(&merchant, &id)?[1]["attempts"], json!(4));

    // A manual retry on the same card fails and changes nothing.
    let order_id = format!("sub_ord_{id}_0002");
    let retried = create(
        &merchant,
        &format!("/v1/subscriptions/{id}/retry"),
        json!({"subscription_order_id": order_id}),
    )?;
    ensure_eq!(retried["status"], json!("FAILED"));
    ensure_eq!(retried["trigger_by"], json!("manual"));
    ensure_eq!(subscription(&merchant, &id)?["state"], json!("UNPAID"));
    // Another order than the open one cannot be retried.
    refused(
        &merchant
            .post(&format!("/v1/subscriptions/{id}/retry"))
            .json(&json!({"subscription_order_id": format!("sub_ord_{id}_0001")}))
            .send()?,
        400,
        "invalid_request",
        Some("subscription_order_id"),
    )?;

    // With a good card again, the retry pays and the plan goes on as scheduled.
    change(
        &merchant,
        "PATCH",
        &format!("/v1/subscriptions/{id}"),
        json!({"payment_method": good}),
    )?;
    let paid = create(
        &merchant,
        &format!("/v1/subscriptions/{id}/retry"),
        json!({}),
    )?;
    ensure_eq!(paid["status"], json!("PAID"));
    ensure_eq!(paid["attempts"], json!(6));
    let recovered = subscription(&merchant, &id)?;
    ensure_eq!(recovered["state"], json!("ACTIVE"));
    ensure_eq!(recovered["completed_billing_iteration"], json!(2));
    ensure_eq!(
        recovered["next_billing_time"],
        json!("2027-07-10T00:00:00Z")
    );
    ensure_eq!(
        events_about(&merchant, "billing_order.failed", &order_id)?.len(),
        5
    );
    // The state changes, in order (updates that kept the state are left out).
    let mut states: Vec<Value> = events_about(&merchant, "subscription.updated", &id)?
        .iter()
        .rev()
        .map(|e| e["data"]["state"].clone())
        .collect();
    states.dedup();
    ensure!(
        states.ends_with(&[json!("PAST_DUE"), json!("UNPAID"), json!("ACTIVE")]),
        "state changes: {states:?}"
    );
    ensure_eq!(
        events_about(&merchant, "subscription.past_due", &id)?.len(),
        1
    );
    ensure_eq!(
        events_about(&merchant, "subscription.unpaid", &id)?.len(),
        1
    );
    // Retrying an ACTIVE subscription is refused.
    refused(
        &merchant
            .post(&format!("/v1/subscriptions/{id}/retry"))
            .json(&json!({}))
            .send()?,
        400,
        "invalid_request",
        Some("id"),
    )?;
    Ok(())
}

fn cancel_at_period_end_bills_nothing_more(suite: &Suite) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    } = on_clock(suite, "Cancel at period end", "2027-02-01T00:00:00Z", 700)?;
    let id = text(&subscribe(&merchant, &customer, &card, &product, json!({}))?["id"]);
    let canceling = create(
        &merchant,
        &format!("/v1/subscriptions/{id}/cancel"),
        json!({"at_period_end": true}),
    )?;
    ensure_eq!(canceling["state"], json!("ACTIVE"));
    ensure_eq!(canceling["cancel_at_period_end"], json!(true));
    advance(&merchant, &clock, "2027-05-01T00:00:00Z")?;
    ensure_eq!(orders(&merchant, &id)?.len(), 1);
    let ended = subscription(&merchant, &id)?;
    ensure_eq!(ended["state"], json!("CANCELED"));
    ensure_eq!(ended["ended_at"], json!("2027-03-01T00:00:00Z"));
    ensure_eq!(ended["next_billing_time"], Value::Null);
    ensure_eq!(
        events_about(&merchant, "subscription.canceled", &id)?.len(),
        1
    );
    // Canceling now, on another subscription: at once, and nothing is billed after.
    let other = text(&subscribe(&merchant, &customer, &card, &product, json!({}))?["id"]);
    let canceled = create(
        &merchant,
        &format!("/v1/subscriptions/{other}/cancel"),
        json!({}),
    )?;
    ensure_eq!(canceled["state"], json!("CANCELED"));
    advance(&merchant, &clock, "2027-08-01T00:00:00Z")?;
    ensure_eq!(orders(&merchant, &other)?.len(), 1);
    Ok(())
}

fn a_trial_charges_nothing_until_it_ends(suite: &Suite) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    } = on_clock(suite, "Trial", "2027-04-01T08:00:00Z", 1500)?;
    let sub = subscribe(
        &merchant,
        &customer,
        &card,
        &product,
        json!({"trial_days": 14}),
    )?;
    let id = text(&sub["id"]);
    ensure_eq!(sub["state"], json!("TRIALING"));
    ensure_eq!(sub["trial_end"], json!("2027-04-15T08:00:00Z"));
    ensure_eq!(sub["next_billing_time"], json!("2027-04-15T08:00:00Z"));
    advance(&merchant, &clock, "2027-04-15T07:59:00Z")?;
    ensure!(
        orders(&merchant, &id)?.is_empty(),
        "charged during the trial"
    );
    ensure_eq!(subscription(&merchant, &id)?["state"], json!("TRIALING"));
    advance(&merchant, &clock, "2027-04-16T00:00:00Z")?;
    let orders = orders(&merchant, &id)?;
    ensure_eq!(orders.len(), 1);
    ensure_eq!(orders[0]["billing_time"], json!("2027-04-15T08:00:00Z"));
    ensure_eq!(orders[0]["amount"], json!(1500));
    let after = subscription(&merchant, &id)?;
    ensure_eq!(after["state"], json!("ACTIVE"));
    ensure_eq!(after["next_billing_time"], json!("2027-05-15T08:00:00Z"));
    Ok(())
}

fn customers_are_created_queried_and_kept_while_subscribed(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Customers")?;
    let created = create(
        &merchant,
        "/v1/customers",
        json!({"customer_id": "member-0042", "name": "Chen Wei", "phone": "+886 912 345 678",
               "email": "wei@example.com", "billing_address": "{\"city\":\"Taipei\",\"country\":\"TW\"}"}),
    )?;
    ensure_eq!(created["id"], json!("member-0042"));
    ensure_eq!(created["customer_id"], json!("member-0042"));
    ensure_eq!(created["billing_address"]["city"], json!("Taipei"));
    refused(
        &merchant
            .post("/v1/customers")
            .json(&json!({"customer_id": "member-0042"}))
            .send()?,
        409,
        "conflict",
        Some("customer_id"),
    )?;
    refused(
        &merchant
            .post("/v1/customers")
            .json(&json!({"customer_id": "has space"}))
            .send()?,
        400,
        "invalid_request",
        Some("customer_id"),
    )?;
    refused(
        &merchant
            .post("/v1/customers")
            .json(&json!({"email": "not-an-email"}))
            .send()?,
        400,
        "invalid_request",
        Some("email"),
    )?;
    let generated = create(&merchant, "/v1/customers", json!({"name": "Chen Wei"}))?;
    ensure!(
        text(&generated["id"]).starts_with("cus_"),
        "generated id {generated}"
    );
    let by_name = fetch(
        &merchant,
        "/v1/customers?name=Chen%20Wei&page=1&page_size=10",
    )?;
    ensure_eq!(by_name["count"], json!(2));
    let by_email = fetch(&merchant, "/v1/customers?email=wei@example.com&page=1")?;
    ensure_eq!(by_email["count"], json!(1));
    let updated = change(
        &merchant,
        "PATCH",
        "/v1/customers/member-0042",
        json!({"phone": "+886 900 000 000", "billing_address": {"city": "Tainan"}}),
    )?;
    ensure_eq!(updated["phone"], json!("+886 900 000 000"));
    ensure_eq!(updated["billing_address"], json!({"city": "Tainan"}));
    ensure_eq!(updated["name"], json!("Chen Wei"));

    // Subscribed: the customer cannot be deleted until the subscription ends.
    let card = save_card(&merchant, "member-0042", GOOD_CARD)?;
    let product = plan(&merchant, 100, "monthly")?;
    let sub = subscribe(&merchant, "member-0042", &card, &product, json!({}))?;
    refused(
        &merchant
            .request("DELETE", "/v1/customers/member-0042")
            .send()?,
        409,
        "conflict",
        Some("customer_id"),
    )?;
    create(
        &merchant,
        &format!("/v1/subscriptions/{}/cancel", text(&sub["id"])),
        json!({}),
    )?;
    let deleted = merchant
        .request("DELETE", "/v1/customers/member-0042")
        .send()?;
    ensure_eq!(deleted.status, 200);
    ensure_eq!(deleted.json()["deleted"], json!(true));
    ensure_eq!(
        merchant.get("/v1/customers/member-0042").send()?.status,
        404
    );
    // The id is free again, and the new customer does not inherit the old card: it is
    // detached, and a subscription on it is refused.
    create(
        &merchant,
        "/v1/customers",
        json!({"customer_id": "member-0042"}),
    )?;
    let cards = fetch(&merchant, "/v1/payment_methods?customer_id=member-0042")?;
    ensure_eq!(cards["data"], json!([]));
    let inherited = merchant
        .post("/v1/subscriptions")
        .json(&json!({"customer_id": "member-0042", "token_id": card,
            "products": [{"product_id": product, "quantity": 1}]}))
        .send()?;
    ensure!(
        (400..500).contains(&inherited.status),
        "a subscription on the old card: {} {}",
        inherited.status,
        inherited.body
    );
    Ok(())
}

fn saved_cards_keep_no_number_and_production_refuses_raw_cards(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Saved cards")?;
    let (customer, card) = customer_with_card(&merchant, None, GOOD_CARD)?;
    let method = fetch(&merchant, &format!("/v1/payment_methods/{card}"))?;
    ensure_eq!(
        method["card"],
        json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034})
    );
    let row = suite.query(&format!(
        "SELECT * FROM payment_methods WHERE id = '{card}'"
    ))?;
    ensure!(
        !row[0].to_string().contains(GOOD_CARD) && !row[0].to_string().contains("\"123\""),
        "stored {row:?}"
    );
    let declined = merchant
        .post("/v1/payment_methods")
        .json(&json!({"customer_id": customer, "card": {"number": "4000000000000002", "exp_month": 1, "exp_year": 2035, "cvc": "123"}}))
        .send()?;
    refused(&declined, 402, "card_declined", Some("card"))?;
    // A card past its expiry is well formed and declined, like one the processor refuses.
    let expired = merchant
        .post("/v1/payment_methods")
        .json(&json!({"customer_id": customer, "card": {"number": GOOD_CARD, "exp_month": 1, "exp_year": 2001, "cvc": "123"}}))
        .send()?;
    refused(&expired, 402, "card_declined", Some("card.exp_year"))?;
    refused(
        &merchant
            .post("/v1/payment_methods")
            .json(&json!({"customer_id": customer, "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": 2035, "cvc": "123"}}))
            .send()?,
        400,
        "invalid_request",
        Some("card.number"),
    )?;
    let listed = fetch(
        &merchant,
        &format!("/v1/payment_methods?customer_id={customer}"),
    )?;
    ensure_eq!(listed["data"].as_array().map(Vec::len), Some(1));

    // A live subscription's card cannot be detached; an unused one can.
    let product = plan(&merchant, 100, "monthly")?;
    subscribe(&merchant, &customer, &card, &product, json!({}))?;
    refused(
        &merchant
            .post(&format!("/v1/payment_methods/{card}/detach"))
            .send()?,
        409,
        "conflict",
        None,
    )?;
    let spare = save_card(&merchant, &customer, "5555555555554444")?;
    let detached = create(
        &merchant,
        &format!("/v1/payment_methods/{spare}/detach"),
        json!({}),
    )?;
    ensure_eq!(detached["detached"], json!(true));

    // PRODUCTION never takes a card number over the API, and has no test clocks.
    let live_customer = create(&suite.live(), "/v1/customers", json!({"name": "Live"}))?;
    refused(
        &suite
            .live()
            .post("/v1/payment_methods")
            .json(&json!({"customer_id": live_customer["id"], "card": {"number": GOOD_CARD, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}))
            .send()?,
        403,
        "forbidden",
        None,
    )?;
    refused(
        &suite
            .live()
            .post("/v1/test_clocks")
            .json(&json!({"frozen_time": "2027-01-01T00:00:00Z"}))
            .send()?,
        403,
        "forbidden",
        None,
    )?;
    Ok(())
}

fn a_subscription_checkout_saves_the_card_and_starts_the_subscription(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Subscription checkout")?;
    let product = plan(&merchant, 2500, "monthly")?;
    let session = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": product, "mode": "SUBSCRIPTION", "successUrl": "https://shop.example/ok?cs={CHECKOUT_SESSION_ID}"}),
    )?;
    let id = text(&session["id"]);
    let page = suite.client.get(&format!("/c/{id}")).send()?;
    let token = crate::shopper::csrf(&page)?;
    ensure_eq!(
        crate::shopper::pay(suite, &id, &token, "4242 4242 4242 4242", &[])?.status,
        303
    );
    let done = fetch(&merchant, &format!("/v1/checkout/sessions/{id}"))?;
    ensure_eq!(done["status"], json!("COMPLETE"));
    let sub_id = text(&done["subscription_id"]);
    ensure_eq!(done["subscriptionId"], json!(sub_id));
    let sub = subscription(&merchant, &sub_id)?;
    ensure_eq!(sub["state"], json!("ACTIVE"));
    ensure_eq!(sub["completed_billing_iteration"], json!(1));
    ensure_eq!(sub["amount"], json!(2500));
    ensure_eq!(sub["checkout_session_id"], json!(id));
    let orders = orders(&merchant, &sub_id)?;
    ensure_eq!(orders.len(), 1);
    ensure_eq!(orders[0]["status"], json!("PAID"));
    let customer = text(&sub["customer_id"]);
    let methods = fetch(
        &merchant,
        &format!("/v1/payment_methods?customer_id={customer}"),
    )?;
    ensure_eq!(methods["data"][0]["card"]["last4"], json!("4242"));
    ensure_eq!(sub["payment_method"], methods["data"][0]["id"]);
    ensure_eq!(
        fetch(&merchant, &format!("/v1/customers/{customer}"))?["email"],
        json!("shopper@example.com")
    );

    // SETUP saves a card and charges nothing.
    let setup = create(
        &merchant,
        "/v1/checkout/sessions",
        json!({"productId": product, "mode": "SETUP"}),
    )?;
    let setup_id = text(&setup["id"]);
    let page = suite.client.get(&format!("/c/{setup_id}")).send()?;
    let token = crate::shopper::csrf(&page)?;
    crate::shopper::pay(suite, &setup_id, &token, "5555 5555 5555 4444", &[])?;
    let saved = fetch(&merchant, &format!("/v1/checkout/sessions/{setup_id}"))?;
    ensure_eq!(saved["status"], json!("COMPLETE"));
    ensure_eq!(saved["order_id"], Value::Null);
    let customer = text(&saved["customer"]);
    let methods = fetch(
        &merchant,
        &format!("/v1/payment_methods?customer_id={customer}"),
    )?;
    ensure_eq!(methods["data"][0]["card"]["last4"], json!("4444"));
    ensure_eq!(methods["data"][0]["checkout_session_id"], json!(setup_id));
    Ok(())
}

fn deleting_a_test_clock_cancels_its_subscriptions_with_events(
    suite: &Suite,
) -> Result<(), Failed> {
    let on = on_clock(suite, "Clock deletion shop", "2027-03-01T00:00:00Z", 1500)?;
    let live = subscribe(&on.merchant, &on.customer, &on.card, &on.product, json!({}))?;
    let ended = subscribe(&on.merchant, &on.customer, &on.card, &on.product, json!({}))?;
    let (live, ended) = (text(&live["id"]), text(&ended["id"]));
    create(
        &on.merchant,
        &format!("/v1/subscriptions/{ended}/cancel"),
        json!({}),
    )?;
    let deleted = on
        .merchant
        .request("DELETE", &format!("/v1/test_clocks/{}", on.clock))
        .send()?;
    ensure_eq!(deleted.status, 200);
    ensure_eq!(deleted.json()["deleted"], json!(true));
    let now = fetch(&on.merchant, &format!("/v1/subscriptions/{live}"))?;
    ensure_eq!(now["state"], json!("CANCELED"));
    ensure_eq!(now["next_billing_time"], json!(null));
    // One subscription.canceled for each: the one the deletion ended, and the earlier cancel.
    let events = suite.query(&format!(
        "SELECT object_id, json_extract(data, '$.state') AS state FROM events
         WHERE type = 'subscription.canceled' AND object_id IN ('{live}', '{ended}') ORDER BY object_id"
    ))?;
    let mut expected = vec![
        json!({"object_id": live, "state": "CANCELED"}),
        json!({"object_id": ended, "state": "CANCELED"}),
    ];
    expected.sort_by_key(|e| e["object_id"].as_str().unwrap_or_default().to_owned());
    ensure_eq!(events, expected);
    Ok(())
}

/// A payment link by a recurring product sells that product's price with its interval:
/// the session is a SUBSCRIPTION and paying it starts the subscription.
fn a_link_to_a_recurring_product_starts_a_subscription_when_paid(
    suite: &Suite,
) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Recurring link")?;
    let product = plan(&merchant, 1800, "monthly")?;
    let link = create(
        &merchant,
        "/v1/payment_links",
        json!({"productId": product, "successUrl": "https://shop.example/ok"}),
    )?;
    ensure_eq!(link["line_items"][0]["type"], json!("recurring"));
    ensure_eq!(link["line_items"][0]["interval"], json!("MONTH"));
    let id = crate::shopper::visit(suite, &link)?;
    let session = fetch(&merchant, &format!("/v1/checkout/sessions/{id}"))?;
    ensure_eq!(session["mode"], json!("SUBSCRIPTION"));
    let page = suite.client.get(&format!("/c/{id}")).send()?;
    let token = crate::shopper::csrf(&page)?;
    ensure_eq!(
        crate::shopper::pay(suite, &id, &token, "4242 4242 4242 4242", &[])?.status,
        303
    );
    let done = fetch(&merchant, &format!("/v1/checkout/sessions/{id}"))?;
    let sub = subscription(&merchant, &text(&done["subscription_id"]))?;
    ensure_eq!(sub["state"], json!("ACTIVE"));
    ensure_eq!(sub["amount"], json!(1800));
    ensure_eq!(sub["interval"], json!("MONTH"));
    Ok(())
}

/// The newest event of `kind` (a prefix such as `subscription`) about `object_id`: its
/// `data`, without the paid order a renewal also carries.
fn latest_event(merchant: &Client, kind: &str, object_id: &str) -> Result<Value, Failed> {
    let list = fetch(merchant, &format!("/v1/events?type={kind}.*&limit=100"))?;
    let mut data = list["data"]
        .as_array()
        .and_then(|events| events.iter().find(|e| e["data"]["id"] == object_id))
        .map(|e| e["data"].clone())
        .ok_or_else(|| Failed::from(format!("no {kind}.* event about {object_id}")))?;
    if let Some(object) = data.as_object_mut() {
        object.remove("billing_order");
    }
    Ok(data)
}

/// The newest subscription event equals `GET /v1/subscriptions/{id}`, and the newest
/// billing order events equal the orders in the subscription's billing orders.
fn events_match_the_api(merchant: &Client, id: &str) -> Result<(), Failed> {
    ensure_eq!(
        latest_event(merchant, "subscription", id)?,
        subscription(merchant, id)?
    );
    order_events_match_the_api(merchant, id)
}

/// The newest event of each of the subscription's billing orders equals the order as its
/// billing orders list shows it.
fn order_events_match_the_api(merchant: &Client, id: &str) -> Result<(), Failed> {
    for order in orders(merchant, id)? {
        ensure_eq!(
            latest_event(merchant, "billing_order", &text(&order["id"]))?,
            order
        );
    }
    Ok(())
}

fn every_billing_event_carries_the_object_as_the_api_shows_it(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Events as the API shows them")?;
    let clock = clock(&merchant, "2027-05-10T00:00:00Z")?;
    let (customer, good) = customer_with_card(&merchant, Some(&clock), GOOD_CARD)?;
    let customer_path = format!("/v1/customers/{customer}");
    ensure_eq!(
        latest_event(&merchant, "customer", &customer)?,
        fetch(&merchant, &customer_path)?
    );
    change(
        &merchant,
        "PATCH",
        &customer_path,
        json!({"phone": "+852 5555 0101", "metadata": {"tier": "gold"}}),
    )?;
    ensure_eq!(
        latest_event(&merchant, "customer", &customer)?,
        fetch(&merchant, &customer_path)?
    );
    ensure_eq!(
        latest_event(&merchant, "payment_method", &good)?,
        fetch(&merchant, &format!("/v1/payment_methods/{good}"))?
    );

    // Created and charged at once; then changed by the merchant.
    let product = plan(&merchant, 900, "monthly")?;
    let id = text(&subscribe(&merchant, &customer, &good, &product, json!({}))?["id"]);
    events_match_the_api(&merchant, &id)?;
    let path = format!("/v1/subscriptions/{id}");
    change(
        &merchant,
        "PATCH",
        &path,
        json!({"metadata": {"seat": "12"}}),
    )?;
    events_match_the_api(&merchant, &id)?;

    // A renewal fails, and fails again a day later: the order keeps its first attempt's
    // creation time (set an hour back, as if the first attempt was long ago).
    let broke = save_card(&merchant, &customer, NO_FUNDS_CARD)?;
    change(&merchant, "PATCH", &path, json!({"token_id": broke}))?;
    advance(&merchant, &clock, "2027-06-10T00:00:00Z")?;
    ensure_eq!(subscription(&merchant, &id)?["state"], json!("PAST_DUE"));
    events_match_the_api(&merchant, &id)?;
    suite.update(&format!(
        "UPDATE billing_orders SET created_at = created_at - 3600 WHERE id = 'sub_ord_{id}_0002'"
    ))?;
    advance(&merchant, &clock, "2027-06-11T00:00:00Z")?;
    ensure_eq!(orders(&merchant, &id)?[1]["attempts"], json!(2));
    // Still PAST_DUE: only the order's event is written.
    order_events_match_the_api(&merchant, &id)?;

    // Paid by hand with the good card; set to cancel at the period's end, which comes.
    change(&merchant, "PATCH", &path, json!({"payment_method": good}))?;
    let paid = create(&merchant, &format!("{path}/retry"), json!({}))?;
    ensure_eq!(paid["status"], json!("PAID"));
    events_match_the_api(&merchant, &id)?;
    create(
        &merchant,
        &format!("{path}/cancel"),
        json!({"at_period_end": true}),
    )?;
    events_match_the_api(&merchant, &id)?;
    advance(&merchant, &clock, "2027-07-11T00:00:00Z")?;
    ensure_eq!(subscription(&merchant, &id)?["state"], json!("CANCELED"));
    events_match_the_api(&merchant, &id)?;

    // Nothing charges the declining card any more: it can be detached.
    create(
        &merchant,
        &format!("/v1/payment_methods/{broke}/detach"),
        json!({}),
    )?;
    ensure_eq!(
        latest_event(&merchant, "payment_method", &broke)?,
        fetch(&merchant, &format!("/v1/payment_methods/{broke}"))?
    );

    // Canceled now, and canceled with its clock.
    let now = text(&subscribe(&merchant, &customer, &good, &product, json!({}))?["id"]);
    create(
        &merchant,
        &format!("/v1/subscriptions/{now}/cancel"),
        json!({}),
    )?;
    events_match_the_api(&merchant, &now)?;
    let with_clock = text(&subscribe(&merchant, &customer, &good, &product, json!({}))?["id"]);
    let deleted = merchant
        .request("DELETE", &format!("/v1/test_clocks/{clock}"))
        .send()?;
    ensure_eq!(deleted.status, 200);
    events_match_the_api(&merchant, &with_clock)?;
    Ok(())
}

fn dunning_settings_are_a_list_of_increasing_delays_and_the_job_follows_them(
    suite: &Suite,
) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card: _,
        product,
    } = on_clock(suite, "Own dunning", "2027-01-05T00:00:00Z", 400)?;
    let defaults = fetch(&merchant, "/v1/account")?;
    ensure_eq!(
        defaults["subscription_retry_schedule"],
        json!([86_400, 259_200, 432_000])
    );
    ensure_eq!(defaults["subscription_final_state"], json!("UNPAID"));
    for schedule in [
        json!("3600,7200"),
        json!([3600, 3600]),
        json!([30]),
        json!([]),
        json!([3600, "7200"]),
    ] {
        refused(
            &merchant
                .request("PATCH", "/v1/account")
                .json(&json!({"subscription_retry_schedule": schedule}))
                .send()?,
            400,
            "invalid_request",
            Some("subscription_retry_schedule"),
        )?;
    }
    // Delays are times after the first failure: sent in any order, kept in order.
    let sorted = change(
        &merchant,
        "PATCH",
        "/v1/account",
        json!({"subscription_retry_schedule": [7200, 3600]}),
    )?;
    ensure_eq!(sorted["subscription_retry_schedule"], json!([3600, 7200]));
    let set = change(
        &merchant,
        "PATCH",
        "/v1/account",
        json!({"subscription_retry_schedule": [3600], "subscription_final_state": "canceled"}),
    )?;
    ensure_eq!(set["subscription_retry_schedule"], json!([3600]));
    ensure_eq!(set["subscription_final_state"], json!("CANCELED"));

    // A renewal that fails is retried an hour later, once; then the subscription ends.
    let broke = save_card(&merchant, &customer, NO_FUNDS_CARD)?;
    let id = text(
        &subscribe(
            &merchant,
            &customer,
            &broke,
            &product,
            json!({"start_time": "2027-01-06T00:00:00Z"}),
        )?["id"],
    );
    advance(&merchant, &clock, "2027-01-06T00:00:00Z")?;
    let failed = subscription(&merchant, &id)?;
    ensure_eq!(failed["state"], json!("PAST_DUE"));
    ensure_eq!(failed["next_retry_time"], json!("2027-01-06T01:00:00Z"));
    advance(&merchant, &clock, "2027-01-06T01:00:00Z")?;
    let ended = subscription(&merchant, &id)?;
    ensure_eq!(ended["state"], json!("CANCELED"));
    ensure_eq!(ended["ended_at"], json!("2027-01-06T01:00:00Z"));
    Ok(())
}

fn subscription_items_are_refused_naming_the_line_at_fault(suite: &Suite) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock: _,
        customer,
        card,
        product,
    } = on_clock(suite, "Refused items", "2027-02-01T00:00:00Z", 300)?;
    let one_time = text(&crate::support::product(&merchant, "Sticker", 50, "HKD")?["id"]);
    let yearly = plan(&merchant, 3000, "yearly")?;
    let attempt = |body: Value| merchant.post("/v1/subscriptions").json(&body).send();
    let base =
        |products: Value| json!({"customer_id": customer, "token_id": card, "products": products});
    refused(
        &attempt(base(
            json!([{"product_id": product}, {"product_id": one_time}]),
        ))?,
        409,
        "conflict",
        Some("products[1]"),
    )?;
    refused(
        &attempt(base(
            json!([{"product_id": product}, {"product_id": yearly}]),
        ))?,
        409,
        "conflict",
        Some("products[1]"),
    )?;
    refused(
        &attempt(base(json!([])))?,
        400,
        "invalid_request",
        Some("products"),
    )?;

    // A change keeps the interval, and a quantity needs one item: what the subscription is
    // refuses them (409), not their shape.
    let id = text(&subscribe(&merchant, &customer, &card, &product, json!({}))?["id"]);
    let path = format!("/v1/subscriptions/{id}");
    let patch = |body: Value| merchant.request("PATCH", &path).json(&body).send();
    refused(
        &patch(json!({"products": [{"product_id": yearly}]}))?,
        409,
        "conflict",
        Some("products"),
    )?;
    refused(
        &patch(json!({"products": [{"product_id": product}], "quantity": 2}))?,
        400,
        "invalid_request",
        Some("quantity"),
    )?;
    let three = change(&merchant, "PATCH", &path, json!({"quantity": 3}))?;
    ensure_eq!(three["amount"], json!(900));
    ensure_eq!(three["products"][0]["quantity"], json!(3));
    let two = change(
        &merchant,
        "PATCH",
        &path,
        json!({"products": [{"product_id": product}, {"product_id": product, "quantity": 2}]}),
    )?;
    ensure_eq!(two["amount"], json!(900));
    refused(
        &patch(json!({"quantity": 2}))?,
        409,
        "conflict",
        Some("quantity"),
    )?;
    refused(
        &patch(json!({"total_billing_cycles": 0}))?,
        400,
        "invalid_request",
        Some("total_billing_cycles"),
    )?;
    Ok(())
}

fn a_trial_moved_before_it_bills_stays_the_current_period(suite: &Suite) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock: _,
        customer,
        card,
        product,
    } = on_clock(suite, "Moved trial", "2027-04-01T08:00:00Z", 1500)?;
    let sub = subscribe(
        &merchant,
        &customer,
        &card,
        &product,
        json!({"trial_days": 14}),
    )?;
    let id = text(&sub["id"]);
    let moved = change(
        &merchant,
        "PATCH",
        &format!("/v1/subscriptions/{id}"),
        json!({"start_time": "2027-04-03T08:00:00Z"}),
    )?;
    ensure_eq!(moved["state"], json!("TRIALING"));
    ensure_eq!(moved["trial_end"], json!("2027-04-17T08:00:00Z"));
    ensure_eq!(moved["next_billing_time"], json!("2027-04-17T08:00:00Z"));
    ensure_eq!(moved["current_period_start"], json!("2027-04-03T08:00:00Z"));
    ensure_eq!(moved["current_period_end"], json!("2027-04-17T08:00:00Z"));
    ensure_eq!(latest_event(&merchant, "subscription", &id)?, moved);
    Ok(())
}
