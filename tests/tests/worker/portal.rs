//! The customer portal and entitlements, as a merchant's server and a subscriber's browser
//! use them: portal sessions that open once within their hour for one customer, pages and
//! forms that refuse another customer's ids, cancel at period end and resume on a test
//! clock, plan switches billed from the next renewal, a new card that pays an overdue
//! renewal at once, receipts that open, deep links, a second language, and entitlements
//! through a subscription's life. Also Recur's checkout element: its publishable-key
//! header and the CORS preflight of a page on the merchant's site.

use libtest_mimic::Failed;
use serde_json::{Value, json};
use till_tests::http::{Client, Reply};

use crate::subscriptions::{
    GOOD_CARD, NO_FUNDS_CARD, OnClock, advance, customer_with_card, events_about, on_clock, orders,
    save_card, subscribe, subscription, text,
};
use crate::support::{change, create, fetch, refused};
use crate::{Check, SHOP_HOST, Suite, ensure, ensure_eq};

pub const CHECKS: &[(&str, Check)] = &[
    (
        "a_portal_url_opens_once_within_its_hour_for_one_customer",
        a_portal_url_opens_once_within_its_hour_for_one_customer,
    ),
    (
        "a_portal_session_cannot_read_or_change_another_customers_subscriptions",
        a_portal_session_cannot_read_or_change_another_customers_subscriptions,
    ),
    (
        "cancel_at_period_end_then_resume_neither_loses_nor_doubles_a_charge",
        cancel_at_period_end_then_resume_neither_loses_nor_doubles_a_charge,
    ),
    (
        "a_plan_switch_bills_the_new_price_from_the_next_renewal",
        a_plan_switch_bills_the_new_price_from_the_next_renewal,
    ),
    (
        "a_new_card_pays_an_overdue_renewal_at_once",
        a_new_card_pays_an_overdue_renewal_at_once,
    ),
    (
        "the_billing_history_lists_receipts_that_open_and_details_reach_the_customer",
        the_billing_history_lists_receipts_that_open_and_details_reach_the_customer,
    ),
    (
        "deep_links_land_on_their_flow_in_the_sessions_language",
        deep_links_land_on_their_flow_in_the_sessions_language,
    ),
    (
        "entitlements_follow_a_subscription_from_trial_to_canceled",
        entitlements_follow_a_subscription_from_trial_to_canceled,
    ),
    (
        "recurs_checkout_element_posts_with_its_header_from_an_allowed_site",
        recurs_checkout_element_posts_with_its_header_from_an_allowed_site,
    ),
];

/// A subscriber's browser in the portal: its cookie and its forms' CSRF token.
struct Browser {
    client: Client,
    cookie: String,
    csrf: String,
}

impl Browser {
    fn get(&self, path: &str) -> Result<Reply, Failed> {
        Ok(self
            .client
            .get(path)
            .header("Cookie", &self.cookie)
            .send()?)
    }

    /// A form POST from a portal page (same origin), with the CSRF token unless `fields`
    /// sets its own.
    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Result<Reply, Failed> {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.retain(|(k, _)| !fields.iter().any(|(f, _)| f == k));
        form.extend_from_slice(fields);
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        Ok(self
            .client
            .post(path)
            .header("Cookie", &self.cookie)
            .header("Sec-Fetch-Site", "same-origin")
            .body("application/x-www-form-urlencoded", body)
            .send()?)
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A portal session for `body`'s customer.
fn portal_session(merchant: &Client, body: Value) -> Result<Value, Failed> {
    let reply = merchant.post("/v1/portal/sessions").json(&body).send()?;
    ensure_eq!(reply.status, 201, "{}", reply.body);
    Ok(reply.json())
}

/// The path of a URL on the Worker.
fn path_of(url: &str) -> String {
    let after = url.split_once("://").map_or(url, |(_, rest)| rest);
    after
        .find('/')
        .map_or("/".to_owned(), |i| after[i..].to_owned())
}

/// Opens a portal URL: the 303 to its landing page, and the browser signed in.
fn open(suite: &Suite, session: &Value) -> Result<(Browser, String), Failed> {
    let reply = suite.client.get(&path_of(&text(&session["url"]))).send()?;
    ensure_eq!(reply.status, 303, "{}", reply.body);
    let cookie = reply
        .header("Set-Cookie")
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    ensure!(
        cookie.starts_with("__Host-till_portal="),
        "cookie: {cookie}"
    );
    let set = reply.header("Set-Cookie").unwrap_or_default();
    ensure!(
        set.contains("HttpOnly")
            && set.contains("Secure")
            && set.contains("SameSite=Lax")
            && set.contains("Path=/;"),
        "cookie attributes: {set}"
    );
    let landing = reply.header("Location").unwrap_or_default().to_owned();
    let mut browser = Browser {
        client: suite.client.clone(),
        cookie,
        csrf: String::new(),
    };
    let page = browser.get("/portal")?;
    ensure_eq!(page.status, 200, "{}", page.body);
    browser.csrf = page
        .quoted_after("name=\"csrf\" value=\"")
        .unwrap_or_default();
    ensure!(!browser.csrf.is_empty(), "no CSRF token on the overview");
    Ok((browser, landing))
}

fn portal_for(suite: &Suite, merchant: &Client, customer: &str) -> Result<Browser, Failed> {
    let session = portal_session(
        merchant,
        json!({"customerId": customer, "returnUrl": "https://shop.example/account"}),
    )?;
    Ok(open(suite, &session)?.0)
}

fn a_portal_url_opens_once_within_its_hour_for_one_customer(suite: &Suite) -> Result<(), Failed> {
    let merchant = suite.fresh_merchant("Portal sessions")?;
    let (customer, _) = customer_with_card(&merchant, None, GOOD_CARD)?;
    let session = portal_session(
        &merchant,
        json!({"externalId": customer, "returnUrl": "https://shop.example/account", "locale": "en"}),
    )?;
    ensure_eq!(session["object"], json!("portal.session"));
    ensure_eq!(session["customer_id"], json!(customer));
    ensure_eq!(session["customerId"], json!(customer));
    ensure_eq!(session["status"], json!("active"));
    ensure_eq!(session["returnUrl"], json!("https://shop.example/account"));
    ensure_eq!(session["accessed_at"], json!(null));
    let created = till_tests_time(&session["created_at"])?;
    ensure_eq!(till_tests_time(&session["expiresAt"])? - created, 3600);
    // The token is kept only as its hash.
    let url = text(&session["url"]);
    let token = url.rsplit('/').next().unwrap_or_default().to_owned();
    let id = text(&session["id"]);
    let rows = suite.query(&format!(
        "SELECT token_hash FROM portal_sessions WHERE id = '{id}'"
    ))?;
    ensure!(
        rows.len() == 1
            && !rows[0]["token_hash"]
                .as_str()
                .unwrap_or_default()
                .contains(&token),
        "stored: {rows:?}"
    );

    let (browser, landing) = open(suite, &session)?;
    ensure_eq!(landing, "/portal");
    let page = browser.get("/portal")?;
    ensure!(
        page.body.contains("href=\"https://shop.example/account\""),
        "no way back"
    );
    ensure_eq!(
        page.header("Content-Security-Policy")
            .is_some_and(|c| c.contains("default-src 'none'")),
        true
    );
    ensure!(
        page.body.contains("subscriber@example.com"),
        "the page does not say whose it is"
    );
    // Used once: the same URL again is refused, and opens nothing.
    let again = suite.client.get(&path_of(&url)).send()?;
    ensure_eq!(again.status, 410);
    ensure!(
        again.header("Set-Cookie").is_none(),
        "a spent URL signed a browser in"
    );
    // An hour later, an unused URL is refused too; a cookie past its hour is signed out.
    let late = portal_session(&merchant, json!({"customer_id": customer}))?;
    let late_id = text(&late["id"]);
    suite.update(&format!(
        "UPDATE portal_sessions SET expires_at = expires_at - 3601 WHERE id = '{late_id}'"
    ))?;
    ensure_eq!(
        suite
            .client
            .get(&path_of(&text(&late["url"])))
            .send()?
            .status,
        410
    );
    suite.update(&format!(
        "UPDATE portal_sessions SET browse_until = browse_until - 3601 WHERE id = '{id}'"
    ))?;
    ensure_eq!(browser.get("/portal")?.status, 401);
    ensure_eq!(suite.client.get("/portal").send()?.status, 401);
    // Signing out ends a session at once and goes back to the merchant's site.
    let again = portal_session(
        &merchant,
        json!({"customer_id": customer, "returnUrl": "https://shop.example/account"}),
    )?;
    let (browser, _) = open(suite, &again)?;
    let out = browser.post("/portal/signout", &[])?;
    ensure_eq!(out.status, 303);
    ensure_eq!(out.header("Location"), Some("https://shop.example/account"));
    ensure!(
        out.header("Set-Cookie")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "cookie kept"
    );
    ensure_eq!(browser.get("/portal")?.status, 401);
    // What a customer's name holds is text on the page, never markup.
    change(
        &merchant,
        "PATCH",
        &format!("/v1/customers/{customer}"),
        json!({"name": "<img src=x onerror=alert(1)>"}),
    )?;
    let named = portal_session(&merchant, json!({"customer_id": customer}))?;
    let (browser, _) = open(suite, &named)?;
    let page = browser.get("/portal")?;
    ensure!(
        page.body.contains("&lt;img src=x onerror=alert(1)&gt;")
            && !page.body.contains("<img src=x"),
        "{}",
        page.body
    );

    // Naming the customer: by email, unless two customers share it; never without a name.
    let (_, _) = customer_with_card(&merchant, None, GOOD_CARD)?;
    let shared = merchant
        .post("/v1/portal/sessions")
        .json(&json!({"email": "subscriber@example.com"}))
        .send()?;
    refused(&shared, 409, "conflict", Some("email"))?;
    refused(
        &merchant
            .post("/v1/portal_sessions")
            .json(&json!({"returnUrl": "https://shop.example/"}))
            .send()?,
        400,
        "invalid_request",
        Some("customer_id"),
    )?;
    refused(
        &merchant
            .post("/v1/portal/sessions")
            .json(&json!({"customerId": "nobody"}))
            .send()?,
        409,
        "resource_missing",
        Some("customer_id"),
    )?;
    let publishable = suite.publishable();
    let reply = publishable
        .post("/v1/portal/sessions")
        .json(&json!({"customerId": customer}))
        .send()?;
    ensure_eq!(reply.status, 403, "{}", reply.body);
    ensure_eq!(reply.json()["error"]["type"], json!("authentication_error"));
    let other = suite.fresh_merchant("Portal sessions, elsewhere")?;
    refused(
        &other
            .post("/v1/portal/sessions")
            .json(&json!({"customerId": customer}))
            .send()?,
        409,
        "resource_missing",
        Some("customer_id"),
    )?;
    Ok(())
}

/// Seconds of an ISO 8601 UTC time the API answered.
fn till_tests_time(value: &Value) -> Result<i64, Failed> {
    till_shared::time::parse_request_time(value)
        .map_err(|e| Failed::from(format!("{value}: {e:?}")))
}

fn a_portal_session_cannot_read_or_change_another_customers_subscriptions(
    suite: &Suite,
) -> Result<(), Failed> {
    let OnClock {
        merchant,
        customer: a,
        card: a_card,
        product,
        ..
    } = on_clock(suite, "Portal isolation", "2027-03-01T00:00:00Z", 500)?;
    let mine = text(&subscribe(&merchant, &a, &a_card, &product, json!({}))?["id"]);
    let (b, b_card) = customer_with_card(&merchant, None, GOOD_CARD)?;
    let theirs = text(&subscribe(&merchant, &b, &b_card, &product, json!({}))?["id"]);
    let before = subscription(&merchant, &theirs)?;
    let browser = portal_for(suite, &merchant, &a)?;

    let page = browser.get("/portal")?;
    ensure!(
        page.body.contains(&mine),
        "the overview lacks the customer's subscription"
    );
    ensure!(
        !page.body.contains(&theirs),
        "the overview shows another customer's subscription"
    );
    for path in [
        format!("/portal/subscriptions/{theirs}/cancel"),
        format!("/portal/subscriptions/{theirs}/switch"),
        format!("/portal/card?subscription={theirs}"),
    ] {
        ensure_eq!(browser.get(&path)?.status, 404, "GET {path}");
    }
    for (path, fields) in [
        (format!("/portal/subscriptions/{theirs}/cancel"), vec![]),
        (format!("/portal/subscriptions/{theirs}/resume"), vec![]),
        (
            format!("/portal/subscriptions/{theirs}/resubscribe"),
            vec![],
        ),
        (
            format!("/portal/subscriptions/{theirs}/switch"),
            vec![("price", "price_x")],
        ),
        (
            "/portal/card".to_owned(),
            vec![
                ("subscription", theirs.as_str()),
                ("card_number", NO_FUNDS_CARD),
                ("card_expiry", "12 / 34"),
                ("card_cvc", "123"),
            ],
        ),
    ] {
        let reply = browser.post(&path, &fields)?;
        ensure!(
            reply.status == 404 || reply.status == 409,
            "POST {path}: {}",
            reply.status
        );
    }
    ensure_eq!(subscription(&merchant, &theirs)?, before);
    let cards = fetch(&merchant, &format!("/v1/payment_methods?customer_id={b}"))?;
    ensure_eq!(cards["data"].as_array().map(Vec::len), Some(1));

    // A form without the session's token, or from another site, changes nothing.
    let cancel = format!("/portal/subscriptions/{mine}/cancel");
    ensure_eq!(browser.post(&cancel, &[("csrf", "forged")])?.status, 403);
    let cross = browser
        .client
        .post(&cancel)
        .header("Cookie", &browser.cookie)
        .header("Sec-Fetch-Site", "cross-site")
        .body(
            "application/x-www-form-urlencoded",
            format!("csrf={}", browser.csrf),
        )
        .send()?;
    ensure_eq!(cross.status, 403);
    ensure_eq!(
        subscription(&merchant, &mine)?["cancel_at_period_end"],
        json!(false)
    );

    // A customer id deleted and given to someone new: none of the old customer's rows.
    let old = create(
        &merchant,
        "/v1/customers",
        json!({"customer_id": "reused-42", "email": "first@example.com"}),
    )?;
    let old_card = save_card(&merchant, &text(&old["id"]), GOOD_CARD)?;
    let old_sub = text(&subscribe(&merchant, "reused-42", &old_card, &product, json!({}))?["id"]);
    create(
        &merchant,
        &format!("/v1/subscriptions/{old_sub}/cancel"),
        json!({}),
    )?;
    let gone = merchant
        .request("DELETE", "/v1/customers/reused-42")
        .send()?;
    ensure_eq!(gone.status, 200, "{}", gone.body);
    create(
        &merchant,
        "/v1/customers",
        json!({"customer_id": "reused-42", "email": "second@example.com"}),
    )?;
    let newcomer = portal_for(suite, &merchant, "reused-42")?;
    let page = newcomer.get("/portal")?;
    ensure!(
        !page.body.contains(&old_sub)
            && !page.body.contains("/receipts/")
            && !page.body.contains("4242"),
        "the new customer sees the old one's rows: {}",
        page.body
    );
    ensure_eq!(
        newcomer
            .post(&format!("/portal/subscriptions/{old_sub}/resubscribe"), &[])?
            .status,
        404
    );
    ensure_eq!(
        entitlement_of(&merchant, "reused-42")?["entitlements"],
        json!([])
    );
    Ok(())
}

fn entitlement_of(merchant: &Client, customer: &str) -> Result<Value, Failed> {
    fetch(
        merchant,
        &format!("/v1/customers/entitlements?customer_id={customer}"),
    )
}

fn cancel_at_period_end_then_resume_neither_loses_nor_doubles_a_charge(
    suite: &Suite,
) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    } = on_clock(suite, "Portal cancel", "2027-01-15T00:00:00Z", 700)?;
    let id = text(&subscribe(&merchant, &customer, &card, &product, json!({}))?["id"]);
    let browser = portal_for(suite, &merchant, &customer)?;
    let cancel = format!("/portal/subscriptions/{id}/cancel");
    let confirm = browser.get(&cancel)?;
    ensure!(
        confirm.body.contains("until the end of the current period"),
        "{}",
        confirm.body
    );

    let done = browser.post(&cancel, &[])?;
    ensure_eq!(done.status, 303, "{}", done.body);
    ensure_eq!(done.header("Location"), Some("/portal?saved=1"));
    ensure_eq!(
        subscription(&merchant, &id)?["cancel_at_period_end"],
        json!(true)
    );
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"][0]["status"],
        json!("active")
    );
    let page = browser.get("/portal?saved=1")?;
    ensure!(page.body.contains("Ends on 2027-02-15"), "{}", page.body);
    ensure!(
        page.body.contains(&format!("{id}/resume")),
        "no resume button"
    );

    ensure_eq!(
        browser
            .post(&format!("/portal/subscriptions/{id}/resume"), &[])?
            .status,
        303
    );
    ensure_eq!(
        subscription(&merchant, &id)?["cancel_at_period_end"],
        json!(false)
    );
    let updated = events_about(&merchant, "subscription.updated", &id)?;
    ensure!(updated.len() >= 2, "events: {updated:?}");

    // Resumed, the renewal comes once; canceled again, the period ends it with nothing more.
    advance(&merchant, &clock, "2027-02-15T00:00:00Z")?;
    let paid = orders(&merchant, &id)?;
    ensure_eq!(paid.len(), 2);
    ensure!(paid.iter().all(|o| o["status"] == "PAID"), "{paid:?}");
    ensure_eq!(browser.post(&cancel, &[])?.status, 303);
    advance(&merchant, &clock, "2027-04-01T00:00:00Z")?;
    let ended = subscription(&merchant, &id)?;
    ensure_eq!(ended["state"], json!("CANCELED"));
    ensure_eq!(ended["ended_at"], json!("2027-03-15T00:00:00Z"));
    ensure_eq!(orders(&merchant, &id)?.len(), 2);
    ensure_eq!(
        events_about(&merchant, "subscription.canceled", &id)?.len(),
        1
    );
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"][0]["status"],
        json!("canceled")
    );

    // Subscribing again: a new subscription on the same price and card, its first period paid.
    ensure_eq!(
        browser
            .post(&format!("/portal/subscriptions/{id}/resubscribe"), &[])?
            .status,
        303
    );
    let list = fetch(
        &merchant,
        &format!("/v1/subscriptions?customer_id={customer}"),
    )?;
    let subs = list["data"].as_array().cloned().unwrap_or_default();
    let fresh = subs
        .iter()
        .find(|s| s["id"] != json!(id))
        .cloned()
        .unwrap_or_default();
    ensure_eq!(fresh["state"], json!("ACTIVE"));
    ensure_eq!(fresh["token_id"], json!(card));
    ensure_eq!(fresh["amount"], json!(700));
    let first = orders(&merchant, &text(&fresh["id"]))?;
    ensure_eq!(first.len(), 1);
    ensure_eq!(first[0]["status"], json!("PAID"));
    // Once only: the same form again (a double click, a replay) starts nothing more.
    let twice = browser.post(&format!("/portal/subscriptions/{id}/resubscribe"), &[])?;
    ensure_eq!(twice.status, 409, "{}", twice.body);
    let list = fetch(
        &merchant,
        &format!("/v1/subscriptions?customer_id={customer}"),
    )?;
    ensure_eq!(list["data"].as_array().map(Vec::len), Some(2));
    let entitled = entitlement_of(&merchant, &customer)?;
    ensure_eq!(entitled["entitlements"][0]["status"], json!("active"));
    ensure_eq!(entitled["entitlements"][0]["subscription_id"], fresh["id"]);
    Ok(())
}

fn a_plan_switch_bills_the_new_price_from_the_next_renewal(suite: &Suite) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    } = on_clock(suite, "Portal switch", "2027-05-01T00:00:00Z", 1000)?;
    let id = text(&subscribe(&merchant, &customer, &card, &product, json!({}))?["id"]);
    let first_price =
        text(&fetch(&merchant, &format!("/v1/products/{product}"))?["default_price"]["id"]);
    let yearly = create(
        &merchant,
        "/v1/prices",
        json!({"product": product, "amount": 2500, "currency": "HKD", "type": "recurring",
               "interval": "month", "interval_count": 1, "nickname": "Team"}),
    )?;
    let team = text(&yearly["id"]);
    let browser = portal_for(suite, &merchant, &customer)?;
    // Nothing is switchable until the merchant says which prices are.
    ensure!(
        !browser
            .get("/portal")?
            .body
            .contains(&format!("{id}/switch")),
        "switch offered"
    );
    let updated = change(
        &merchant,
        "PATCH",
        &format!("/v1/products/{product}"),
        json!({"portal_prices": [first_price, team]}),
    )?;
    ensure_eq!(updated["portal_prices"], json!([first_price, team]));
    refused(
        &merchant
            .request("PATCH", &format!("/v1/products/{product}"))
            .json(&json!({"portal_prices": ["price_elsewhere"]}))
            .send()?,
        409,
        "resource_missing",
        Some("portal_prices"),
    )?;
    let page = browser.get(&format!("/portal/subscriptions/{id}/switch"))?;
    ensure!(
        page.body.contains(&team) && page.body.contains("Team"),
        "{}",
        page.body
    );
    let switched = browser.post(
        &format!("/portal/subscriptions/{id}/switch"),
        &[("price", &team)],
    )?;
    ensure_eq!(switched.status, 303, "{}", switched.body);
    let after = subscription(&merchant, &id)?;
    ensure_eq!(after["amount"], json!(2500));
    ensure_eq!(after["items"][0]["price_id"], json!(team));
    // A price the merchant did not allow is refused, and changes nothing.
    let other = browser.post(
        &format!("/portal/subscriptions/{id}/switch"),
        &[("price", "price_nope")],
    )?;
    ensure_eq!(other.status, 409);
    advance(&merchant, &clock, "2027-06-01T00:00:00Z")?;
    let billed = orders(&merchant, &id)?;
    ensure_eq!(billed.len(), 2);
    ensure_eq!(billed[0]["amount"], json!(1000));
    ensure_eq!(billed[1]["amount"], json!(2500));
    Ok(())
}

fn a_new_card_pays_an_overdue_renewal_at_once(suite: &Suite) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    } = on_clock(suite, "Portal card", "2027-07-01T00:00:00Z", 900)?;
    let id = text(&subscribe(&merchant, &customer, &card, &product, json!({}))?["id"]);
    let broke = save_card(&merchant, &customer, NO_FUNDS_CARD)?;
    change(
        &merchant,
        "PATCH",
        &format!("/v1/subscriptions/{id}"),
        json!({"token_id": broke}),
    )?;
    advance(&merchant, &clock, "2027-08-01T00:00:00Z")?;
    ensure_eq!(subscription(&merchant, &id)?["state"], json!("PAST_DUE"));
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"][0]["status"],
        json!("past_due")
    );

    let browser = portal_for(suite, &merchant, &customer)?;
    let page = browser.get("/portal")?;
    ensure!(
        page.body.contains("Payment failed"),
        "the failed renewal is not in the history"
    );
    ensure!(
        page.body
            .contains(&format!("/portal/card?subscription={id}")),
        "no card link on the overdue subscription"
    );
    // A declining card is saved but pays nothing: the page says so.
    let declined = browser.post(
        "/portal/card",
        &[
            ("card_number", NO_FUNDS_CARD),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
        ],
    )?;
    ensure_eq!(declined.status, 409);
    ensure!(
        declined.body.contains("role=\"alert\""),
        "{}",
        declined.body
    );
    ensure_eq!(subscription(&merchant, &id)?["state"], json!("PAST_DUE"));
    let paid = browser.post(
        "/portal/card",
        &[
            ("card_number", "4242 4242 4242 4242"),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
        ],
    )?;
    ensure_eq!(paid.status, 303, "{}", paid.body);
    let after = subscription(&merchant, &id)?;
    ensure_eq!(after["state"], json!("ACTIVE"));
    ensure!(
        after["token_id"] != json!(broke) && after["token_id"] != json!(card),
        "card not replaced"
    );
    let billed = orders(&merchant, &id)?;
    ensure_eq!(billed.len(), 2);
    ensure_eq!(billed[1]["status"], json!("PAID"));
    ensure_eq!(
        events_about(
            &merchant,
            "payment_method.attached",
            &text(&after["token_id"])
        )?
        .len(),
        1
    );
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"][0]["status"],
        json!("active")
    );
    // A card number that is not one is refused on the page, with nothing saved.
    let before = fetch(
        &merchant,
        &format!("/v1/payment_methods?customer_id={customer}"),
    )?;
    let bad = browser.post(
        "/portal/card",
        &[
            ("card_number", "1234"),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
        ],
    )?;
    ensure_eq!(bad.status, 409);
    ensure!(bad.body.contains("role=\"alert\""), "no error shown");
    let methods = || {
        fetch(
            &merchant,
            &format!("/v1/payment_methods?customer_id={customer}"),
        )
    };
    ensure_eq!(methods()?, before);
    // A session tries ten cards at most: then even a good one is refused, and not saved.
    for _ in 0..7 {
        let tried = browser.post(
            "/portal/card",
            &[
                ("card_number", "1234"),
                ("card_expiry", "12 / 34"),
                ("card_cvc", "123"),
            ],
        )?;
        ensure_eq!(tried.status, 409);
    }
    let eleventh = browser.post(
        "/portal/card",
        &[
            ("card_number", GOOD_CARD),
            ("card_expiry", "12 / 34"),
            ("card_cvc", "123"),
        ],
    )?;
    ensure_eq!(eleventh.status, 409);
    ensure!(
        eleventh.body.contains("Too many cards"),
        "{}",
        eleventh.body
    );
    ensure_eq!(methods()?, before);
    Ok(())
}

fn the_billing_history_lists_receipts_that_open_and_details_reach_the_customer(
    suite: &Suite,
) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    } = on_clock(suite, "Portal history", "2027-09-01T00:00:00Z", 1200)?;
    let id = text(&subscribe(&merchant, &customer, &card, &product, json!({}))?["id"]);
    advance(&merchant, &clock, "2027-10-01T00:00:00Z")?;
    ensure_eq!(orders(&merchant, &id)?.len(), 2);
    let browser = portal_for(suite, &merchant, &customer)?;
    let page = browser.get("/portal")?.body;
    let receipts: Vec<String> = page
        .match_indices("/receipts/")
        .map(|(i, _)| page[i..].chars().take_while(|c| *c != '"').collect())
        .collect();
    ensure_eq!(receipts.len(), 2, "{page}");
    for receipt in &receipts {
        let shown = suite.client.get(receipt).send()?;
        ensure_eq!(shown.status, 200);
        ensure!(shown.body.contains("HK$12.00"), "{}", shown.body);
    }

    let saved = browser.post(
        "/portal/details",
        &[
            ("name", "Mei Lin"),
            ("email", "mei@example.com"),
            ("line1", "1 Harbour Rd"),
            ("city", "Hong Kong"),
            ("postal_code", "000"),
            ("country", "HK"),
        ],
    )?;
    ensure_eq!(saved.status, 303, "{}", saved.body);
    let stored = fetch(&merchant, &format!("/v1/customers/{customer}"))?;
    ensure_eq!(stored["name"], json!("Mei Lin"));
    ensure_eq!(stored["email"], json!("mei@example.com"));
    ensure_eq!(stored["billing_address"]["city"], json!("Hong Kong"));
    ensure_eq!(
        events_about(&merchant, "customer.updated", &customer)?.len(),
        1
    );
    // Receipts show the details as they now stand.
    let receipt = suite.client.get(&receipts[0]).send()?;
    ensure!(
        receipt
            .body
            .contains("Mei Lin, 1 Harbour Rd, 000 Hong Kong, HK")
            && receipt.body.contains("mei@example.com"),
        "{}",
        receipt.body
    );
    // An email another customer of the shop has is refused: lookups by email stay exact.
    create(
        &merchant,
        "/v1/customers",
        json!({"name": "Someone else", "email": "taken@example.com"}),
    )?;
    let taken = browser.post(
        "/portal/details",
        &[("name", "Mei Lin"), ("email", "Taken@example.com")],
    )?;
    ensure_eq!(taken.status, 409);
    ensure_eq!(
        fetch(&merchant, &format!("/v1/customers/{customer}"))?["email"],
        json!("mei@example.com")
    );
    let bad = browser.post(
        "/portal/details",
        &[("name", "Mei"), ("email", "not an email")],
    )?;
    ensure_eq!(bad.status, 409);
    ensure_eq!(
        fetch(&merchant, &format!("/v1/customers/{customer}"))?["email"],
        json!("mei@example.com")
    );
    Ok(())
}

fn deep_links_land_on_their_flow_in_the_sessions_language(suite: &Suite) -> Result<(), Failed> {
    let OnClock {
        merchant,
        customer,
        card,
        product,
        ..
    } = on_clock(suite, "Portal flows", "2027-11-01T00:00:00Z", 300)?;
    let id = text(&subscribe(&merchant, &customer, &card, &product, json!({}))?["id"]);
    for (flow, landing) in [
        ("cancel", format!("/portal/subscriptions/{id}/cancel")),
        ("switch_plan", format!("/portal/subscriptions/{id}/switch")),
        (
            "update_payment_method",
            format!("/portal/card?subscription={id}"),
        ),
    ] {
        let session = portal_session(
            &merchant,
            json!({"customer_id": customer, "flow": flow, "subscription_id": id, "locale": "zh-TW"}),
        )?;
        ensure_eq!(session["flow"]["type"], json!(flow));
        let (browser, at) = open(suite, &session)?;
        ensure_eq!(at, landing);
        let page = browser.get(&at)?;
        ensure_eq!(page.status, 200, "{at}: {}", page.body);
        ensure!(page.body.contains("lang=\"zh-TW\""), "{}", page.body);
    }
    let session = portal_session(
        &merchant,
        json!({"customer_id": customer, "locale": "zh-TW"}),
    )?;
    let (browser, _) = open(suite, &session)?;
    let page = browser.get(&format!("/portal/subscriptions/{id}/cancel"))?;
    ensure!(page.body.contains("取消訂閱"), "{}", page.body);
    refused(
        &merchant
            .post("/v1/portal/sessions")
            .json(&json!({"customer_id": customer, "flow": "cancel"}))
            .send()?,
        400,
        "invalid_request",
        Some("subscription_id"),
    )?;
    let (other, _) = customer_with_card(&merchant, None, GOOD_CARD)?;
    refused(
        &merchant
            .post("/v1/portal/sessions")
            .json(&json!({"customer_id": other, "flow": "cancel", "subscription_id": id}))
            .send()?,
        409,
        "resource_missing",
        Some("subscription_id"),
    )?;
    Ok(())
}

fn entitlements_follow_a_subscription_from_trial_to_canceled(suite: &Suite) -> Result<(), Failed> {
    let OnClock {
        merchant,
        clock,
        customer,
        card,
        product,
    } = on_clock(suite, "Entitlements", "2028-01-01T00:00:00Z", 400)?;
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"],
        json!([])
    );
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["subscription"],
        json!(null)
    );
    let id = text(
        &subscribe(
            &merchant,
            &customer,
            &card,
            &product,
            json!({"trial_days": 7}),
        )?["id"],
    );
    let slug = text(&fetch(&merchant, &format!("/v1/products/{product}"))?["slug"]);
    let trial = entitlement_of(&merchant, &customer)?;
    ensure_eq!(
        trial["entitlements"],
        json!([{"product": slug, "product_id": product, "status": "trialing", "subscription_id": id}])
    );
    ensure_eq!(trial["subscription"]["id"], json!(id));
    ensure_eq!(trial["subscription"]["product"]["id"], json!(product));
    advance(&merchant, &clock, "2028-01-08T00:00:00Z")?;
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"][0]["status"],
        json!("active")
    );
    let broke = save_card(&merchant, &customer, NO_FUNDS_CARD)?;
    change(
        &merchant,
        "PATCH",
        &format!("/v1/subscriptions/{id}"),
        json!({"token_id": broke}),
    )?;
    advance(&merchant, &clock, "2028-02-08T00:00:00Z")?;
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"][0]["status"],
        json!("past_due")
    );
    // Every retry failed: UNPAID is not an entitlement.
    advance(&merchant, &clock, "2028-02-20T00:00:00Z")?;
    ensure_eq!(subscription(&merchant, &id)?["state"], json!("UNPAID"));
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"],
        json!([])
    );
    create(
        &merchant,
        &format!("/v1/subscriptions/{id}/cancel"),
        json!({}),
    )?;
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"][0]["status"],
        json!("canceled")
    );
    // The clock deleted, its subscriptions' entitlements are read on the platform's time.
    let deleted = merchant
        .request("DELETE", &format!("/v1/test_clocks/{clock}"))
        .send()?;
    ensure_eq!(deleted.status, 200, "{}", deleted.body);
    ensure_eq!(
        entitlement_of(&merchant, &customer)?["entitlements"][0]["status"],
        json!("canceled")
    );
    // By email and by the merchant's name for the id; an unknown customer is a 404.
    let email = fetch(
        &merchant,
        "/v1/customers/entitlements?email=subscriber%40example.com",
    )?;
    ensure_eq!(email["customer_id"], json!(customer));
    let external = fetch(
        &merchant,
        &format!("/v1/customers/entitlements?external_id={customer}"),
    )?;
    ensure_eq!(external["entitlements"][0]["subscription_id"], json!(id));
    refused(
        &merchant
            .get("/v1/customers/entitlements?customer_id=nobody")
            .send()?,
        409,
        "resource_missing",
        Some("customer_id"),
    )?;
    refused(
        &merchant.get("/v1/customers/entitlements").send()?,
        400,
        "invalid_request",
        Some("customer_id"),
    )?;
    Ok(())
}

fn recurs_checkout_element_posts_with_its_header_from_an_allowed_site(
    suite: &Suite,
) -> Result<(), Failed> {
    let key = &suite.account.keys.test.publishable_key;
    let product = crate::support::product(&suite.merchant(), "Element tee", 1500, "TWD")?;
    let origin = format!("https://{SHOP_HOST}");
    let preflight = suite
        .client
        .request("OPTIONS", "/v1/checkout/sessions")
        .header("Origin", &origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,x-recur-publishable-key",
        )
        .send()?;
    ensure_eq!(preflight.status, 200);
    ensure_eq!(
        preflight.header("Access-Control-Allow-Origin"),
        Some(origin.as_str())
    );
    ensure!(
        preflight
            .header("Access-Control-Allow-Headers")
            .is_some_and(|h| h.contains("X-Recur-Publishable-Key")),
        "{:?}",
        preflight.headers
    );
    ensure!(
        preflight
            .header("Access-Control-Allow-Credentials")
            .is_none(),
        "credentials allowed"
    );
    // Secret-key routes answer no preflight.
    let secret = suite
        .client
        .request("OPTIONS", "/v1/customers")
        .header("Origin", &origin)
        .send()?;
    ensure!(
        secret.header("Access-Control-Allow-Origin").is_none(),
        "a secret route allows CORS"
    );

    let body = json!({"productId": product["id"], "successUrl": format!("{origin}/thanks"),
                      "cancelUrl": format!("{origin}/cart"), "mode": "PAYMENT",
                      "customerEmail": "element@example.com"});
    let created = suite
        .client
        .post("/v1/checkout/sessions")
        .header("X-Recur-Publishable-Key", key)
        .header("Origin", &origin)
        .json(&body)
        .send()?;
    ensure_eq!(created.status, 201, "{}", created.body);
    ensure_eq!(
        created.header("Access-Control-Allow-Origin"),
        Some(origin.as_str())
    );
    let session = created.json();
    ensure!(text(&session["url"]).contains("/c/cs_"), "{session}");
    ensure_eq!(session["customer_email"], json!("element@example.com"));
    // The shopper sees what they buy by the product's name.
    ensure_eq!(session["line_items"][0]["name"], json!("Element tee"));
    // From a site the account does not list, and with a secret key in the header: refused.
    let foreign = suite
        .client
        .post("/v1/checkout/sessions")
        .header("X-Recur-Publishable-Key", key)
        .header("Origin", "https://elsewhere.example")
        .json(&body)
        .send()?;
    refused(&foreign, 403, "forbidden", None)?;
    // A secret key's answer is never readable from a page.
    let with_secret = suite
        .merchant()
        .post("/v1/checkout/sessions")
        .header("Origin", &origin)
        .json(&body)
        .send()?;
    ensure_eq!(with_secret.status, 201, "{}", with_secret.body);
    ensure!(
        with_secret.header("Access-Control-Allow-Origin").is_none(),
        "a secret key's answer is readable cross-origin"
    );
    let secret = suite
        .client
        .post("/v1/checkout/sessions")
        .header(
            "X-Recur-Publishable-Key",
            &suite.account.keys.test.secret_key,
        )
        .json(&body)
        .send()?;
    ensure_eq!(secret.status, 401, "{}", secret.body);
    Ok(())
}
