//! A merchant's own Stripe, tested against localstripe (a stateful fake Stripe server,
//! from the tools cache: `TILL_LOCALSTRIPE`) on a loopback port, with the Worker in local
//! workerd pointed at it (`STRIPE_API_BASE`). What Stripe.js does in a shopper's browser —
//! turn the card into a PaymentMethod, show the bank's 3-D Secure check — each test does
//! against localstripe itself, as Stripe.js would; what localstripe does not send (charge
//! and dispute events) a test signs with the connection's webhook secret as Stripe signs.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};
use till_tests::accounts::create_account;
use till_tests::http::{Client, Reply};
use till_tests::local::{Front, LocalWorker, Output, WorkerConfig, free_port, workspace_root};

const SECRET_KEY: &str = "sk_test_till0localstripe0key0000";
const PUBLISHABLE_KEY: &str = "pk_test_till0localstripe0key0000";
const WEBHOOK_SECRET: &str = "whsec_till0localstripe0secret000";

struct Suite {
    worker: LocalWorker,
    stripe: Client,
    stripe_base: String,
    operator: String,
    _localstripe: Fake,
}

/// localstripe, stopped with the suite.
struct Fake(Child);

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+).into());
        }
    };
}

/// GETs `path` and answers the JSON.
fn get(client: &Client, path: &str) -> Result<Value, Failed> {
    Ok(client.get(path).send()?.json())
}

/// How many items a list answered.
fn listed(list: &Value) -> usize {
    list["data"].as_array().map_or(0, Vec::len)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn form(pairs: &[(&str, &str)]) -> String {
    till_shared::stripe::form_body(
        &pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    )
}

impl Suite {
    /// A merchant of its own with Stripe connected for SANDBOX.
    fn merchant(&self, name: &str) -> Result<(Client, String), Failed> {
        let account = create_account(&self.worker.base_url, &self.operator, name)?;
        let merchant =
            Client::new(&self.worker.base_url).with_bearer(&account.keys.test.secret_key);
        let connected = merchant
            .request("PATCH", "/v1/account")
            .json(
                &json!({"processor": {"kind": "stripe", "secret_key": SECRET_KEY,
                "publishable_key": PUBLISHABLE_KEY, "webhook_secret": WEBHOOK_SECRET}}),
            )
            .send()?;
        ensure!(
            connected.status == 200,
            "connecting answered {}: {}",
            connected.status,
            connected.body
        );
        Ok((merchant, account.id))
    }

    /// A POST to localstripe; answers its JSON.
    fn stripe_post(&self, path: &str, pairs: &[(&str, &str)]) -> Result<Value, Failed> {
        let reply = self
            .stripe
            .post(path)
            .body("application/x-www-form-urlencoded", form(pairs))
            .send()?;
        ensure!(
            reply.status == 200,
            "localstripe {path} answered {}: {}",
            reply.status,
            reply.body
        );
        // Its configuration endpoints answer with an empty body.
        Ok(serde_json::from_str(&reply.body).unwrap_or(Value::Null))
    }

    /// What Stripe.js makes of a card typed into Stripe's fields: a PaymentMethod.
    fn payment_method(&self, number: &str) -> Result<String, Failed> {
        let method = self.stripe_post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
            ],
        )?;
        Ok(text(&method["id"]))
    }

    fn intent(&self, id: &str) -> Result<Value, Failed> {
        Ok(self
            .stripe
            .get(&format!("/v1/payment_intents/{id}"))
            .send()?
            .json())
    }

    fn shopper(&self) -> Client {
        Client::new(&self.worker.base_url)
    }
}

/// A session of `merchant` for a product of `amount` TWD; answers (id, page).
fn session(suite: &Suite, merchant: &Client, amount: i64) -> Result<(String, Reply), Failed> {
    let product = merchant
        .post("/v1/products")
        .json(&json!({"name": "Field notes", "price": {"amount": amount, "currency": "TWD"}}))
        .send()?
        .json();
    let session = merchant
        .post("/v1/checkout/sessions")
        .json(&json!({"productId": product["id"], "successUrl": "https://shop.example/thanks"}))
        .send()?
        .json();
    let id = text(&session["id"]);
    let page = suite.shopper().get(&format!("/c/{id}")).send()?;
    ensure!(page.status == 200, "the page answered {}", page.status);
    Ok((id, page))
}

fn csrf(page: &Reply) -> Result<String, Failed> {
    page.quoted_after("name=\"csrf\" value=\"")
        .ok_or_else(|| Failed::from("no csrf field"))
}

/// The page's form posted with the PaymentMethod Stripe's fields made.
fn pay(suite: &Suite, id: &str, page: &Reply, method: &str) -> Result<Reply, Failed> {
    let body = form(&[
        ("csrf", &csrf(page)?),
        ("email", "shopper@example.com"),
        ("name", "Mei Lin"),
        ("payment_method", method),
    ]);
    Ok(suite
        .shopper()
        .post(&format!("/c/{id}"))
        .body("application/x-www-form-urlencoded", body)
        .send()?)
}

/// The form posted with a card typed into Stripe's fields (its PaymentMethod).
fn pay_card(suite: &Suite, id: &str, page: &Reply, number: &str) -> Result<Reply, Failed> {
    pay(suite, id, page, &suite.payment_method(number)?)
}

fn payment_of(merchant: &Client, session: &str) -> Result<Value, Failed> {
    let list = get(
        merchant,
        &format!("/v1/payments?checkout_session={session}"),
    )?;
    ensure!(listed(&list) == 1, "payments: {list}");
    Ok(list["data"][0].clone())
}

/// A Stripe event as Stripe signs it, posted to the account's processor webhook.
fn signed_event(
    suite: &Suite,
    account: &str,
    event: &Value,
    secret: &str,
) -> Result<Reply, Failed> {
    let body = event.to_string();
    let signature = till_shared::webhooks::header(now(), &[secret], body.as_bytes());
    Ok(suite
        .shopper()
        .post(&format!("/v1/processor_webhooks/stripe/{account}"))
        .header("Stripe-Signature", &signature)
        .body("application/json", body)
        .send()?)
}

fn connecting_seals_the_keys_and_shows_only_their_last_four(suite: &Suite) -> Result<(), Failed> {
    let (merchant, account) = suite.merchant("Sealed")?;
    let shown = get(&merchant, "/v1/account")?;
    let processor = &shown["processor"];
    ensure!(
        processor["kind"] == "stripe"
            && processor["secret_key_last4"] == "0000"
            && processor["publishable_key"] == PUBLISHABLE_KEY
            && processor["webhook_secret_set"] == true,
        "account shows {processor}"
    );
    ensure!(
        !shown.to_string().contains(SECRET_KEY) && !shown.to_string().contains(WEBHOOK_SECRET),
        "a secret is shown: {shown}"
    );
    let rows = Client::new(&suite.worker.base_url).query_d1(&suite.operator, &format!(
        "SELECT secret_key_sealed, webhook_secret_sealed FROM processor_connections WHERE account_id = '{account}'"))?;
    let stored = rows[0].to_string();
    ensure!(
        text(&rows[0]["secret_key_sealed"]).starts_with("v1:")
            && !stored.contains("till0localstripe"),
        "stored {stored}"
    );
    // A live key is refused for SANDBOX, naming the field; nothing changes.
    let live = merchant
        .request("PATCH", "/v1/account")
        .json(&json!({"processor": {"kind": "stripe",
        "secret_key": "sk_live_till0localstripe0key0000", "publishable_key": PUBLISHABLE_KEY}}))
        .send()?;
    ensure!(
        live.status == 409 && live.json()["error"]["param"] == "processor[secret_key]",
        "live key: {}",
        live.body
    );
    ensure!(
        get(&merchant, "/v1/account")?["processor"]["secret_key_last4"] == "0000",
        "changed"
    );
    // Removed with null: the sandbox processor takes payments again.
    let removed = merchant
        .request("PATCH", "/v1/account")
        .json(&json!({"processor": null}))
        .send()?;
    ensure!(
        removed.status == 200 && removed.json()["processor"].is_null(),
        "removing: {}",
        removed.body
    );
    let (_, page) = session(suite, &merchant, 100)?;
    ensure!(
        page.body.contains("name=\"card_number\""),
        "the sandbox form is not back"
    );
    Ok(())
}

fn a_card_in_stripe_s_fields_pays_and_never_reaches_till(suite: &Suite) -> Result<(), Failed> {
    let (merchant, _) = suite.merchant("Stripe Shop")?;
    let (id, page) = session(suite, &merchant, 590)?;
    ensure!(
        !page.body.contains("name=\"card_number\"") && page.body.contains(PUBLISHABLE_KEY),
        "the page has no Stripe fields"
    );
    ensure!(
        page.body
            .contains(&format!("src=\"{}/js.stripe.com/v3/\"", suite.stripe_base)),
        "no Stripe.js"
    );
    ensure!(
        page.body.contains("<noscript>"),
        "nothing said without JavaScript"
    );
    let csp = page
        .header("content-security-policy")
        .unwrap_or_default()
        .to_owned();
    ensure!(
        csp.contains("script-src 'nonce-") && csp.contains(&suite.stripe_base),
        "csp {csp}"
    );
    let method = suite.payment_method("4242424242424242")?;
    let paid = pay(suite, &id, &page, &method)?;
    ensure!(
        paid.status == 303,
        "paying answered {}: {}",
        paid.status,
        paid.body
    );
    let payment = payment_of(&merchant, &id)?;
    ensure!(
        payment["processor"] == "stripe"
            && payment["amount"] == 590
            && payment["card"]["last4"] == "4242",
        "payment {payment}"
    );
    let intent = suite.intent(&text(&payment["processor_reference"]))?;
    ensure!(
        intent["status"] == "succeeded"
            // Stripe counts the Taiwan dollar in cents.
            && intent["amount"] == 59_000
            && intent["currency"] == "twd"
            && intent["metadata"]["till_session"] == id.as_str(),
        "intent {intent}"
    );
    // The card number never reached Till: no row holds it.
    let rows = Client::new(&suite.worker.base_url).query_d1(
        &suite.operator,
        &format!("SELECT * FROM checkout_sessions WHERE id = '{id}'"),
    )?;
    ensure!(
        !rows[0].to_string().contains("4242424242424242"),
        "the number is stored"
    );

    // Refunds go through Stripe: a part, then the rest.
    let pay_id = text(&payment["id"]);
    let part = merchant
        .post("/v1/refunds")
        .json(&json!({"payment_id": pay_id, "amount": 90}))
        .send()?;
    ensure!(
        part.status == 201
            && part.json()["status"] == "SUCCEEDED"
            && text(&part.json()["processor_reference"]).starts_with("re_"),
        "refund {}",
        part.body
    );
    let rest = merchant
        .post("/v1/refunds")
        .json(&json!({"payment_id": pay_id}))
        .send()?;
    ensure!(
        rest.status == 201 && rest.json()["amount"] == 500,
        "rest {}",
        rest.body
    );
    let charge = &suite.intent(&text(&payment["processor_reference"]))?["latest_charge"];
    ensure!(
        charge["amount_refunded"] == 59_000,
        "Stripe's charge {charge}"
    );
    Ok(())
}

fn a_declined_card_charges_nothing_and_the_shopper_may_retry(suite: &Suite) -> Result<(), Failed> {
    let (merchant, _) = suite.merchant("Declines")?;
    let (id, page) = session(suite, &merchant, 300)?;
    // The card localstripe declines when charged.
    let declined = pay_card(suite, &id, &page, "4000000000000341")?;
    ensure!(
        declined.status == 402 && declined.body.contains("declined"),
        "decline answered {}",
        declined.status
    );
    let open = get(&merchant, &format!("/v1/checkout/sessions/{id}"))?;
    ensure!(open["status"] == "OPEN", "session {open}");
    ensure!(
        get(&merchant, "/v1/orders")?["data"]
            .as_array()
            .map(Vec::len)
            == Some(0),
        "an order"
    );
    let page = suite.shopper().get(&format!("/c/{id}")).send()?;
    let retried = pay_card(suite, &id, &page, "4242424242424242")?;
    ensure!(retried.status == 303, "retry answered {}", retried.status);
    // Not a PaymentMethod id (a page without JavaScript posts none): refused, nothing asked.
    let (other, page) = session(suite, &merchant, 300)?;
    let none = pay(suite, &other, &page, "")?;
    ensure!(
        none.status == 422 && none.body.contains("JavaScript"),
        "no method answered {}",
        none.status
    );
    Ok(())
}

fn three_d_secure_through_stripe_completes_or_fails(suite: &Suite) -> Result<(), Failed> {
    let (merchant, _) = suite.merchant("Secure")?;
    for success in [true, false] {
        let (id, page) = session(suite, &merchant, 700)?;
        let asked = pay_card(suite, &id, &page, "4000002760003184")?;
        ensure!(
            asked.status == 200,
            "3-D Secure answered {}: {}",
            asked.status,
            asked.body
        );
        let secret = asked
            .quoted_after("data-secret=\"")
            .ok_or_else(|| Failed::from("no client secret"))?;
        let intent = secret
            .split("_secret_")
            .next()
            .unwrap_or_default()
            .to_owned();
        // What Stripe.js does with the bank's answer.
        let answer = if success { "true" } else { "false" };
        suite.stripe_post(
            &format!("/v1/payment_intents/{intent}/_authenticate?success={answer}"),
            &[("client_secret", &secret)],
        )?;
        let body = form(&[("csrf", &csrf(&page)?), ("outcome", "processor")]);
        let back = suite
            .shopper()
            .post(&format!("/c/{id}/challenge"))
            .body("application/x-www-form-urlencoded", body)
            .send()?;
        let session = get(&merchant, &format!("/v1/checkout/sessions/{id}"))?;
        if success {
            ensure!(
                back.status == 303 && session["status"] == "COMPLETE",
                "completed: {} {session}",
                back.status
            );
        } else {
            ensure!(
                back.status == 402 && session["status"] == "OPEN",
                "failed: {} {session}",
                back.status
            );
        }
    }
    Ok(())
}

fn stripe_s_webhook_completes_a_payment_whose_shopper_left(suite: &Suite) -> Result<(), Failed> {
    let (merchant, account) = suite.merchant("Left Early")?;
    // localstripe sends its events to the account's processor webhook.
    let url = format!(
        "{}/v1/processor_webhooks/stripe/{account}",
        suite.worker.base_url
    );
    suite.stripe_post(
        &format!("/_config/webhooks/{account}"),
        &[("url", &url), ("secret", WEBHOOK_SECRET)],
    )?;
    let (id, page) = session(suite, &merchant, 800)?;
    let asked = pay_card(suite, &id, &page, "4000002760003184")?;
    let secret = asked
        .quoted_after("data-secret=\"")
        .ok_or_else(|| Failed::from("no client secret"))?;
    let intent = secret
        .split("_secret_")
        .next()
        .unwrap_or_default()
        .to_owned();
    // The bank says yes, and the shopper closes the tab before the page posts back.
    suite.stripe_post(
        &format!("/v1/payment_intents/{intent}/_authenticate?success=true"),
        &[("client_secret", &secret)],
    )?;
    let started = Instant::now();
    loop {
        let session = get(&merchant, &format!("/v1/checkout/sessions/{id}"))?;
        if session["status"] == "COMPLETE" {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(15),
            "not completed by the webhook: {session}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let orders = get(&merchant, &format!("/v1/orders?checkout_session={id}"))?;
    ensure!(listed(&orders) == 1, "orders {orders}");
    // The same event again changes nothing.
    let event = json!({"id": "evt_again", "type": "payment_intent.succeeded", "livemode": false,
        "data": {"object": suite.intent(&intent)?}});
    let again = signed_event(suite, &account, &event, WEBHOOK_SECRET)?;
    ensure!(again.status == 200, "again answered {}", again.status);
    let orders = get(&merchant, &format!("/v1/orders?checkout_session={id}"))?;
    ensure!(listed(&orders) == 1, "orders after replay {orders}");
    Ok(())
}

fn refunds_and_disputes_made_at_stripe_are_reconciled(suite: &Suite) -> Result<(), Failed> {
    let (merchant, account) = suite.merchant("Reconciled")?;
    let (id, page) = session(suite, &merchant, 1000)?;
    ensure!(
        pay_card(suite, &id, &page, "4242424242424242")?.status == 303,
        "not paid"
    );
    let payment = payment_of(&merchant, &id)?;
    let intent = text(&payment["processor_reference"]);
    // A refund made in Stripe's dashboard.
    let made = suite.stripe_post(
        "/v1/refunds",
        // NT$250, in Stripe's cents.
        &[("payment_intent", &intent), ("amount", "25000")],
    )?;
    let event = json!({"id": "evt_refunded", "type": "charge.refunded", "livemode": false, "data": {"object": {
        "object": "charge", "payment_intent": intent, "currency": "twd", "amount_refunded": 25_000,
        "refunds": {"data": [{"id": made["id"], "amount": 25_000, "status": "succeeded"}]}}}});
    // Forged (another secret): refused, nothing recorded.
    let forged = signed_event(
        suite,
        &account,
        &event,
        "whsec_not0the0secret0of0this0account",
    )?;
    ensure!(
        forged.status == 400,
        "a forged event answered {}",
        forged.status
    );
    let unsigned = suite
        .shopper()
        .post(&format!("/v1/processor_webhooks/stripe/{account}"))
        .body("application/json", event.to_string())
        .send()?;
    ensure!(
        unsigned.status == 400,
        "an unsigned event answered {}",
        unsigned.status
    );
    let after = get(&merchant, &format!("/v1/payments/{}", text(&payment["id"])))?;
    ensure!(
        after["amount_refunded"] == 0,
        "a forged event changed {after}"
    );
    for _ in 0..2 {
        let answered = signed_event(suite, &account, &event, WEBHOOK_SECRET)?;
        ensure!(
            answered.status == 200,
            "the event answered {}: {}",
            answered.status,
            answered.body
        );
    }
    let after = get(&merchant, &format!("/v1/payments/{}", text(&payment["id"])))?;
    ensure!(
        after["amount_refunded"] == 250 && after["status"] == "PARTIALLY_REFUNDED",
        "payment {after}"
    );
    let refunds = get(
        &merchant,
        &format!("/v1/refunds?payment_id={}", text(&payment["id"])),
    )?;
    ensure!(
        listed(&refunds) == 1 && refunds["data"][0]["source"] == "processor",
        "refunds {refunds}"
    );
    let dispute = json!({"id": "evt_dispute", "type": "charge.dispute.created", "livemode": false,
        "data": {"object": {"object": "dispute", "payment_intent": intent, "amount": 1000}}});
    ensure!(
        signed_event(suite, &account, &dispute, WEBHOOK_SECRET)?.status == 200,
        "dispute refused"
    );
    let after = get(&merchant, &format!("/v1/payments/{}", text(&payment["id"])))?;
    ensure!(after["disputed"] == true, "not disputed: {after}");
    let events = get(&merchant, "/v1/events?type=payment.disputed")?;
    ensure!(
        events["data"][0]["data"]["id"] == payment["id"],
        "no payment.disputed: {events}"
    );
    // Events Till does not act on are accepted.
    let other = json!({"id": "evt_other", "type": "customer.created", "livemode": false, "data": {"object": {}}});
    ensure!(
        signed_event(suite, &account, &other, WEBHOOK_SECRET)?.status == 200,
        "other event refused"
    );
    Ok(())
}

/// A recurring product of `amount` HKD a month.
fn monthly(merchant: &Client, amount: i64) -> Result<String, Failed> {
    let product = merchant
        .post("/v1/products")
        .json(
            &json!({"name": "Pro plan", "type": "recurring", "txamt": amount, "txcurrcd": "HKD",
            "interval": "monthly", "interval_count": 1}),
        )
        .send()?
        .json();
    Ok(text(&product["id"]))
}

fn subscription_and_setup_checkouts_keep_the_card_at_stripe(suite: &Suite) -> Result<(), Failed> {
    let (merchant, _) = suite.merchant("Stripe Subscriptions")?;
    let plan = monthly(&merchant, 2500)?;
    let mut kept = Vec::new();
    for mode in ["SUBSCRIPTION", "SETUP"] {
        let session = merchant
            .post("/v1/checkout/sessions")
            .json(
                &json!({"productId": plan, "mode": mode, "successUrl": "https://shop.example/ok"}),
            )
            .send()?
            .json();
        let id = text(&session["id"]);
        let page = suite.shopper().get(&format!("/c/{id}")).send()?;
        let paid = pay_card(suite, &id, &page, "4242424242424242")?;
        ensure!(
            paid.status == 303,
            "{mode} answered {}: {}",
            paid.status,
            paid.body
        );
        let done = get(&merchant, &format!("/v1/checkout/sessions/{id}"))?;
        ensure!(done["status"] == "COMPLETE", "{mode} session {done}");
        let customer = text(&done["customer"]);
        let methods = get(
            &merchant,
            &format!("/v1/payment_methods?customer_id={customer}"),
        )?;
        // Kept at Stripe: a Stripe customer with the PaymentMethod attached.
        let stored = Client::new(&suite.worker.base_url).query_d1(
            &suite.operator,
            &format!(
                "SELECT processor_token FROM payment_methods WHERE checkout_session_id = '{id}'"
            ),
        )?;
        ensure!(
            methods["data"][0]["card"]["last4"] == "4242"
                && text(&stored[0]["processor_token"]).starts_with("cus_"),
            "{mode} methods {methods} {stored:?}"
        );
        kept.push((mode, done));
    }
    // The subscription's first period was charged through Stripe; SETUP charged nothing.
    let subscription = text(&kept[0].1["subscription_id"]);
    let payments = get(
        &merchant,
        &format!("/v1/payments?subscription_id={subscription}"),
    )?;
    ensure!(
        payments["data"][0]["processor"] == "stripe" && payments["data"][0]["amount"] == 2500,
        "subscription payments {payments}"
    );
    let setup = text(&kept[1].1["id"]);
    let none = get(&merchant, &format!("/v1/payments?checkout_session={setup}"))?;
    ensure!(listed(&none) == 0, "SETUP charged: {none}");
    Ok(())
}

fn renewals_charge_off_session_through_stripe_a_decline_goes_past_due_and_the_portal_recovers_it(
    suite: &Suite,
) -> Result<(), Failed> {
    let (merchant, _) = suite.merchant("Stripe Renewals")?;
    let clock = merchant
        .post("/v1/test_clocks")
        .json(&json!({"frozen_time": "2031-01-01T00:00:00Z"}))
        .send()?
        .json();
    let clock = text(&clock["id"]);
    let customer = merchant
        .post("/v1/customers")
        .json(
            &json!({"name": "Subscriber", "email": "subscriber@example.com", "test_clock": clock}),
        )
        .send()?
        .json();
    let customer = text(&customer["id"]);
    // Card numbers are refused once Stripe is connected; a Stripe PaymentMethod is kept.
    let number = merchant
        .post("/v1/payment_methods")
        .json(
            &json!({"customer_id": customer, "card": {"number": "4242424242424242", "exp_month": 12,
            "exp_year": 2034, "cvc": "123"}}),
        )
        .send()?;
    ensure!(
        number.status == 400 && number.json()["error"]["param"] == "card",
        "a number answered {}",
        number.body
    );
    let save = |card: &str| -> Result<String, Failed> {
        let method = merchant
            .post("/v1/payment_methods")
            .json(&json!({"customer_id": customer, "payment_method": suite.payment_method(card)?}))
            .send()?;
        ensure!(
            method.status == 201,
            "saving answered {}: {}",
            method.status,
            method.body
        );
        Ok(text(&method.json()["id"]))
    };
    let good = save("4242424242424242")?;
    let plan = monthly(&merchant, 900)?;
    let subscription = merchant
        .post("/v1/subscriptions")
        .json(&json!({"customer_id": customer, "token_id": good, "products": [{"product_id": plan, "quantity": 1}]}))
        .send()?
        .json();
    let id = text(&subscription["id"]);
    let advance = |to: &str| -> Result<Value, Failed> {
        let advanced = merchant
            .post(&format!("/v1/test_clocks/{clock}/advance"))
            .json(&json!({"frozen_time": to}))
            .send()?;
        ensure!(advanced.status == 200, "advance answered {}", advanced.body);
        get(&merchant, &format!("/v1/subscriptions/{id}"))
    };
    let renewed = advance("2031-02-01T00:00:30Z")?;
    ensure!(
        renewed["state"] == "ACTIVE" && renewed["completed_billing_iteration"] == 2,
        "renewed {renewed}"
    );
    let payments = get(&merchant, &format!("/v1/payments?subscription_id={id}"))?;
    let list = payments["data"].as_array().cloned().unwrap_or_default();
    ensure!(list.len() == 2, "payments {payments}");
    for payment in &list {
        let intent = suite.intent(&text(&payment["processor_reference"]))?;
        ensure!(
            payment["processor"] == "stripe"
                && intent["status"] == "succeeded"
                && intent["amount"] == 900,
            "payment {payment} intent {intent}"
        );
    }
    // A card that Stripe keeps and then declines off-session: the renewal fails into PAST_DUE.
    let bad = save("4000000000000341")?;
    let changed = merchant
        .request("PATCH", &format!("/v1/subscriptions/{id}"))
        .json(&json!({"token_id": bad}))
        .send()?;
    ensure!(
        changed.status == 200,
        "changing the card answered {}",
        changed.body
    );
    let late = advance("2031-03-01T00:00:30Z")?;
    ensure!(
        late["state"] == "PAST_DUE",
        "after a declined renewal {late}"
    );
    let payments = get(&merchant, &format!("/v1/payments?subscription_id={id}"))?;
    ensure!(listed(&payments) == 2, "a declined renewal made a payment");

    // In the customer portal, Stripe's own fields take the new card (the page gets only
    // the PaymentMethod id), and the overdue renewal is charged on it at once.
    let session = merchant
        .post("/v1/portal/sessions")
        .json(&json!({"customerId": customer}))
        .send()?
        .json();
    let url = text(&session["url"]);
    let path = &url[url.find("/portal/").unwrap_or(0)..];
    let opened = suite.shopper().get(path).send()?;
    let cookie = opened
        .header("Set-Cookie")
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    ensure!(
        opened.status == 303 && cookie.starts_with("__Host-till_portal="),
        "opening answered {}",
        opened.status
    );
    let page = suite
        .shopper()
        .get(&format!("/portal/card?subscription={id}"))
        .header("Cookie", &cookie)
        .send()?;
    ensure!(
        page.body.contains("id=\"stripe-form\"")
            && page.body.contains("data-key=\"pk_test_")
            && !page.body.contains("name=\"card_number\""),
        "the portal's card page on the Stripe path: {}",
        page.body
    );
    let csrf = page
        .quoted_after("name=\"csrf\" value=\"")
        .unwrap_or_default();
    let method = suite.payment_method("4242424242424242")?;
    let saved = suite
        .shopper()
        .post("/portal/card")
        .header("Cookie", &cookie)
        .header("Sec-Fetch-Site", "same-origin")
        .body(
            "application/x-www-form-urlencoded",
            form(&[
                ("csrf", &csrf),
                ("subscription", &id),
                ("payment_method", &method),
            ]),
        )
        .send()?;
    ensure!(
        saved.status == 303,
        "the portal's card answered {}: {}",
        saved.status,
        saved.body
    );
    let recovered = get(&merchant, &format!("/v1/subscriptions/{id}"))?;
    ensure!(
        recovered["state"] == "ACTIVE" && recovered["completed_billing_iteration"] == 3,
        "after the portal's card {recovered}"
    );
    let payments = get(&merchant, &format!("/v1/payments?subscription_id={id}"))?;
    ensure!(
        listed(&payments) == 3 && payments["data"][0]["processor"] == "stripe",
        "payments after the portal's card {payments}"
    );
    Ok(())
}

/// Between the Worker and localstripe: relays every call, except that a PaymentIntent of
/// [`UNREACHABLE_AMOUNT`] is answered 500 without reaching Stripe, and the confirmation of
/// one of [`LOST_AMOUNT`] reaches Stripe (which charges) while its answer is lost (502).
struct Proxy {
    port: u16,
}

const UNREACHABLE_AMOUNT: &str = "amount=4321";
/// A PaymentIntent of HK$7.77 finds Stripe unreachable the first time only.
const FLAKY_AMOUNT: &str = "amount=777&";
const LOST_AMOUNT: &str = "amount=4322";

fn start_proxy(target: u16) -> till_tests::Result<Proxy> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    let lost: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let flaked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (lost, flaked) = (Arc::clone(&lost), Arc::clone(&flaked));
            std::thread::spawn(move || {
                let _ = relay(stream, target, &lost, &flaked);
            });
        }
    });
    Ok(Proxy { port })
}

fn relay(
    mut stream: TcpStream,
    target: u16,
    lost: &std::sync::Mutex<Vec<String>>,
    flaked: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut head = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            if name.eq_ignore_ascii_case("connection") {
                continue;
            }
        }
        head.push(line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let answer = |stream: &mut TcpStream, status: &str| {
        let json = r#"{"error":{"type":"api_error","message":"upstream trouble"}}"#;
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        )
    };
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let creating = request_line.starts_with("POST /v1/payment_intents ");
    if creating && body_text.contains(UNREACHABLE_AMOUNT) {
        return answer(&mut stream, "500 Internal Server Error");
    }
    if creating
        && body_text.starts_with(FLAKY_AMOUNT)
        && !flaked.swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        return answer(&mut stream, "503 Service Unavailable");
    }
    let mut upstream = TcpStream::connect(("127.0.0.1", target))?;
    write!(upstream, "{request_line}")?;
    for line in &head {
        write!(upstream, "{line}")?;
    }
    write!(upstream, "Connection: close\r\n\r\n")?;
    upstream.write_all(&body)?;
    let mut response = Vec::new();
    upstream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    if creating
        && body_text.contains(LOST_AMOUNT)
        && let Some(json) = text.split("\r\n\r\n").nth(1)
        && let Ok(intent) = serde_json::from_str::<Value>(json)
        && let Ok(mut lost) = lost.lock()
    {
        lost.push(text_of(&intent["id"]));
    }
    let confirmed = path
        .strip_prefix("/v1/payment_intents/")
        .and_then(|rest| rest.strip_suffix("/confirm"));
    if let Some(intent) = confirmed
        && lost
            .lock()
            .is_ok_and(|lost| lost.iter().any(|l| l == intent))
    {
        return answer(&mut stream, "502 Bad Gateway");
    }
    stream.write_all(&response)
}

fn text_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn stripe_trouble_never_records_an_order_without_a_charge_or_a_charge_twice(
    suite: &Suite,
) -> Result<(), Failed> {
    let (merchant, _) = suite.merchant("Troubled")?;
    // Stripe unreachable when the PaymentIntent is made: nothing charged, try again.
    let (id, page) = session(suite, &merchant, 4321)?;
    let failed = pay_card(suite, &id, &page, "4242424242424242")?;
    ensure!(
        failed.status == 503
            && failed.header("retry-after").is_some()
            && failed.body.contains("nothing was charged"),
        "an unreachable Stripe answered {}: {}",
        failed.status,
        failed.body
    );
    let orders = get(&merchant, &format!("/v1/orders?checkout_session={id}"))?;
    ensure!(listed(&orders) == 0, "an order without a charge: {orders}");
    let open = get(&merchant, &format!("/v1/checkout/sessions/{id}"))?;
    ensure!(open["status"] == "OPEN", "session {open}");
    // The confirmation charged, and its answer was lost: Till reads the PaymentIntent.
    let (id, page) = session(suite, &merchant, 4322)?;
    let paid = pay_card(suite, &id, &page, "4242424242424242")?;
    ensure!(
        paid.status == 303,
        "a lost answer ended {}: {}",
        paid.status,
        paid.body
    );
    let payment = payment_of(&merchant, &id)?;
    let intent = suite.intent(&text(&payment["processor_reference"]))?;
    ensure!(
        intent["status"] == "succeeded" && intent["amount"] == 432_200,
        "intent {intent}"
    );
    // One charge at Stripe for this session, one order at Till.
    let charges = &intent["charges"]["data"];
    ensure!(
        charges.as_array().map(Vec::len) == Some(1),
        "charges {charges}"
    );
    let orders = get(&merchant, &format!("/v1/orders?checkout_session={id}"))?;
    ensure!(listed(&orders) == 1, "orders {orders}");
    Ok(())
}

fn a_stripe_payment_left_mid_way_is_settled_by_the_cron(suite: &Suite) -> Result<(), Failed> {
    let (merchant, _) = suite.merchant("Abandoned")?;
    let mut left = Vec::new();
    for _ in 0..2 {
        let (id, page) = session(suite, &merchant, 650)?;
        let asked = pay_card(suite, &id, &page, "4000002760003184")?;
        let secret = asked
            .quoted_after("data-secret=\"")
            .ok_or_else(|| Failed::from("no client secret"))?;
        left.push((id, secret));
    }
    // The first shopper's bank said yes before the tab closed; the second never answered.
    let (paid, paid_secret) = &left[0];
    let paid_intent = paid_secret.split("_secret_").next().unwrap_or_default();
    suite.stripe_post(
        &format!("/v1/payment_intents/{paid_intent}/_authenticate?success=true"),
        &[("client_secret", paid_secret)],
    )?;
    let operator = Client::new(&suite.worker.base_url);
    operator.update_d1(
        &suite.operator,
        &format!(
            "UPDATE checkout_sessions SET reserved_at = reserved_at - 3600 WHERE id IN ('{}', '{}')",
            left[0].0, left[1].0
        ),
    )?;
    suite.worker.run_scheduled()?;
    let done = get(&merchant, &format!("/v1/checkout/sessions/{paid}"))?;
    ensure!(done["status"] == "COMPLETE", "the charged one is {done}");
    let (open, open_secret) = &left[1];
    let rows = operator.query_d1(
        &suite.operator,
        &format!("SELECT status, reservation FROM checkout_sessions WHERE id = '{open}'"),
    )?;
    ensure!(
        rows[0]["status"] == "OPEN" && rows[0]["reservation"].is_null(),
        "the other is {:?}",
        rows[0]
    );
    let open_intent = open_secret.split("_secret_").next().unwrap_or_default();
    ensure!(
        suite.intent(open_intent)?["status"] == "canceled",
        "its PaymentIntent was not canceled"
    );
    Ok(())
}

fn an_unanswered_renewal_is_asked_again_with_the_same_attempt(suite: &Suite) -> Result<(), Failed> {
    let (merchant, _) = suite.merchant("Flaky Renewals")?;
    let clock = text(
        &merchant
            .post("/v1/test_clocks")
            .json(&json!({"frozen_time": "2032-01-01T00:00:00Z"}))
            .send()?
            .json()["id"],
    );
    let customer = text(
        &merchant
            .post("/v1/customers")
            .json(&json!({"email": "flaky@example.com", "test_clock": clock}))
            .send()?
            .json()["id"],
    );
    let method = merchant
        .post("/v1/payment_methods")
        .json(&json!({"customer_id": customer, "payment_method": suite.payment_method("4242424242424242")?}))
        .send()?
        .json();
    let plan = monthly(&merchant, 777)?;
    let created = merchant
        .post("/v1/subscriptions")
        .json(&json!({"customer_id": customer, "token_id": method["id"], "products": [{"product_id": plan, "quantity": 1}]}))
        .send()?;
    ensure!(
        created.status < 300,
        "subscribing answered {}: {}",
        created.status,
        created.body
    );
    let id = text(&created.json()["id"]);
    ensure!(
        created.json()["completed_billing_iteration"] == 0,
        "the first charge was not held up: {}",
        created.body
    );
    // Stripe did not answer the first charge: nothing was recorded as failed.
    let operator = Client::new(&suite.worker.base_url);
    let failed = operator.query_d1(
        &suite.operator,
        &format!(
            "SELECT count(*) AS n FROM charges c JOIN billing_orders b ON b.id = c.billing_order_id
             WHERE b.subscription_id = '{id}' AND c.status = 'FAILED'"
        ),
    )?;
    ensure!(
        failed[0]["n"] == 0,
        "an unanswered charge was recorded as failed: {failed:?}"
    );
    // A few minutes later (clock time) the same attempt is made again, and pays.
    let advanced = merchant
        .post(&format!("/v1/test_clocks/{clock}/advance"))
        .json(&json!({"frozen_time": "2032-01-01T00:05:00Z"}))
        .send()?;
    ensure!(advanced.status == 200, "advance answered {}", advanced.body);
    let subscription = get(&merchant, &format!("/v1/subscriptions/{id}"))?;
    ensure!(
        subscription["state"] == "ACTIVE" && subscription["completed_billing_iteration"] == 1,
        "after the retry {subscription}"
    );
    let orders = get(&merchant, &format!("/v1/subscriptions/{id}/billing_orders"))?;
    ensure!(
        orders["data"][0]["attempts"] == 1,
        "billing orders {orders}"
    );
    let payments = get(&merchant, &format!("/v1/payments?subscription_id={id}"))?;
    ensure!(listed(&payments) == 1, "payments {payments}");
    Ok(())
}

fn a_stripe_payment_is_never_completed_by_the_sandbox_bank(suite: &Suite) -> Result<(), Failed> {
    let (merchant, _) = suite.merchant("Switched Off")?;
    let (id, page) = session(suite, &merchant, 900)?;
    let asked = pay_card(suite, &id, &page, "4000002760003184")?;
    ensure!(asked.status == 200, "3-D Secure answered {}", asked.status);
    // Stripe is disconnected while the payment waits for the bank; the sandbox bank's
    // "complete" must not complete it.
    let removed = merchant
        .request("PATCH", "/v1/account")
        .json(&json!({"processor": null}))
        .send()?;
    ensure!(
        removed.status == 200,
        "removing answered {}",
        removed.status
    );
    let body = form(&[("csrf", &csrf(&page)?), ("outcome", "complete")]);
    let back = suite
        .shopper()
        .post(&format!("/c/{id}/challenge"))
        .body("application/x-www-form-urlencoded", body)
        .send()?;
    let session = get(&merchant, &format!("/v1/checkout/sessions/{id}"))?;
    ensure!(
        back.status != 303 && session["status"] == "OPEN",
        "completed without Stripe: {} {session}",
        back.status
    );
    let orders = get(&merchant, &format!("/v1/orders?checkout_session={id}"))?;
    ensure!(listed(&orders) == 0, "orders {orders}");
    Ok(())
}

type Check = fn(&Suite) -> Result<(), Failed>;

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let checks: &[(&str, Check)] = &[
        (
            "an_unanswered_renewal_is_asked_again_with_the_same_attempt",
            an_unanswered_renewal_is_asked_again_with_the_same_attempt,
        ),
        (
            "a_stripe_payment_is_never_completed_by_the_sandbox_bank",
            a_stripe_payment_is_never_completed_by_the_sandbox_bank,
        ),
        (
            "stripe_trouble_never_records_an_order_without_a_charge_or_a_charge_twice",
            stripe_trouble_never_records_an_order_without_a_charge_or_a_charge_twice,
        ),
        (
            "a_stripe_payment_left_mid_way_is_settled_by_the_cron",
            a_stripe_payment_left_mid_way_is_settled_by_the_cron,
        ),
        (
            "subscription_and_setup_checkouts_keep_the_card_at_stripe",
            subscription_and_setup_checkouts_keep_the_card_at_stripe,
        ),
        (
            "renewals_charge_off_session_through_stripe_a_decline_goes_past_due_and_the_portal_recovers_it",
            renewals_charge_off_session_through_stripe_a_decline_goes_past_due_and_the_portal_recovers_it,
        ),
        (
            "connecting_seals_the_keys_and_shows_only_their_last_four",
            connecting_seals_the_keys_and_shows_only_their_last_four,
        ),
        (
            "a_card_in_stripe_s_fields_pays_and_never_reaches_till",
            a_card_in_stripe_s_fields_pays_and_never_reaches_till,
        ),
        (
            "a_declined_card_charges_nothing_and_the_shopper_may_retry",
            a_declined_card_charges_nothing_and_the_shopper_may_retry,
        ),
        (
            "three_d_secure_through_stripe_completes_or_fails",
            three_d_secure_through_stripe_completes_or_fails,
        ),
        (
            "stripe_s_webhook_completes_a_payment_whose_shopper_left",
            stripe_s_webhook_completes_a_payment_whose_shopper_left,
        ),
        (
            "refunds_and_disputes_made_at_stripe_are_reconciled",
            refunds_and_disputes_made_at_stripe_are_reconciled,
        ),
    ];
    if args.list {
        let trials = checks
            .iter()
            .map(|(name, _)| Trial::test(*name, || Ok(())))
            .collect();
        return libtest_mimic::run(&args, trials).exit_code();
    }
    let suite = match start() {
        Ok(suite) => Arc::new(suite),
        Err(error) => {
            eprintln!("could not start localstripe and the Worker: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let trials = checks
        .iter()
        .map(|(name, check)| {
            let (suite, check) = (Arc::clone(&suite), *check);
            Trial::test(*name, move || check(&suite))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

fn start() -> till_tests::Result<Suite> {
    let program = std::env::var("TILL_LOCALSTRIPE").map_err(|_| {
        "TILL_LOCALSTRIPE is not set: run these tests through `cargo xtask test`, which installs localstripe"
    })?;
    let port = free_port()?;
    let fake = Fake(
        Command::new(program)
            .args(["--port", &port.to_string(), "--from-scratch"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err("localstripe did not listen within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stripe_base = format!("http://127.0.0.1:{port}");
    let proxy = start_proxy(port)?;
    let state_dir = workspace_root()
        .join("target/test-state")
        .join(format!("stripe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    std::fs::create_dir_all(&state_dir)?;
    let operator = format!("op_{}", till_shared::ids::random_base62(32));
    let sealing = till_shared::sealed::generate_key();
    let worker = LocalWorker::start(&WorkerConfig {
        config: None,
        front: Front::Links,
        port: free_port()?,
        state_dir: state_dir.clone(),
        vars: vec![
            ("OPERATOR_TOKEN".into(), operator.clone()),
            ("TEST_HOOKS".into(), "enabled".into()),
            ("WEBHOOK_LOOPBACK".into(), "allowed".into()),
            ("PROCESSOR_SECRETS_KEY".into(), sealing),
            // Through the proxy, which relays all but the calls it is told to trouble.
            (
                "STRIPE_API_BASE".into(),
                format!("http://127.0.0.1:{}", proxy.port),
            ),
            (
                "STRIPE_JS_URL".into(),
                format!("{stripe_base}/js.stripe.com/v3/"),
            ),
        ],
        output: Output::File(state_dir.join("worker.log")),
    })?;
    Ok(Suite {
        worker,
        stripe: Client::new(&stripe_base).with_bearer(SECRET_KEY),
        stripe_base,
        operator,
        _localstripe: fake,
    })
}
