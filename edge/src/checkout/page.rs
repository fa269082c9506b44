//! The hosted checkout page, `/c/{session_id}`: rendered at the edge with everything the
//! shopper needs in the first response, working as a plain HTML form. A POST pays through
//! the processor; errors come back on the same page in the shopper's language.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use till_shared::card::{CardError, check_card};
use till_shared::catalog::is_plausible_email;
use till_shared::embed::Frame;
use till_shared::locale::{Locale, Text, format_money};
use till_shared::money::{Currency, Money};
use till_shared::params::form_to_json;
use till_shared::ticket::TicketError;
use worker::{Request, Response};

use crate::catalog::promotion_codes::find_by_code;
use crate::checkout::completion::{self, Completed, Payment, Reserved};
use crate::checkout::open::{self, Redeemed};
use crate::ctx::Ctx;
use crate::db::{self, Bind};
use crate::error::ApiResult;
use crate::links::payment_links::LineItem;
use crate::pages::{self, escape};
use crate::processor::{Charge, Processor, Sandbox};

/// After this many failed payments a session takes no more (card-testing defence).
const MAX_FAILED_ATTEMPTS: i64 = 5;
/// Failed payments one client address may make in any ten minutes, across all sessions.
const MAX_FAILURES_PER_ADDRESS: i64 = 20;
const FAILURE_WINDOW_SECS: i64 = 600;

/// The shopper's address as Cloudflare reports it (`unknown` when run without Cloudflare
/// in front, as in local development).
fn client_key(req: &Request) -> String {
    let ip = req
        .headers()
        .get("CF-Connecting-IP")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".to_owned());
    format!("ip:{ip}")
}

/// Whether this address has used up its failed attempts in the last window.
async fn address_blocked(ctx: &Ctx, key: &str) -> bool {
    let since = db::now_unix() - FAILURE_WINDOW_SECS;
    let Ok(db) = db::db(ctx) else { return false };
    let count: Option<i64> = match db
        .prepare("SELECT count(*) AS n FROM payment_failures WHERE key = ?1 AND at > ?2")
        .bind(&[key.js(), since.js()])
    {
        Ok(statement) => statement.first(Some("n")).await.ok().flatten(),
        Err(_) => None,
    };
    count.is_some_and(|n| n >= MAX_FAILURES_PER_ADDRESS)
}

/// Counts one failed attempt against the address.
async fn record_failure(ctx: &Ctx, key: &str) {
    if let Ok(db) = db::db(ctx)
        && let Ok(statement) = db
            .prepare("INSERT INTO payment_failures (key, at) VALUES (?1, ?2)")
            .bind(&[key.js(), db::now_unix().js()])
    {
        let _ = statement.run().await;
    }
}

#[derive(Deserialize)]
struct PageSession {
    id: String,
    account_id: String,
    environment: String,
    merchant_name: String,
    mode: String,
    status: String,
    payment_link_id: Option<String>,
    line_items: String,
    currency: String,
    amount_subtotal: i64,
    amount_discount: i64,
    amount_total: i64,
    promotion_code: Option<String>,
    success_url: Option<String>,
    cancel_url: Option<String>,
    customer_email: Option<String>,
    customer_name: Option<String>,
    client_reference_id: Option<String>,
    locale: Option<String>,
    metadata: Option<String>,
    expires_at: i64,
    csrf_token: String,
    custom_fields: String,
    billing_address_collection: String,
    customer_creation: String,
    after_completion: Option<String>,
    failed_attempts: i64,
    pending_payment: Option<String>,
    allow_promotion_codes: i64,
}

impl PageSession {
    fn money(&self, amount: i64) -> String {
        Currency::parse(&self.currency)
            .ok()
            .and_then(|c| Money::from_minor(amount, c).ok())
            .map(format_money)
            .unwrap_or_default()
    }

    fn payment(&self) -> Payment<'_> {
        Payment {
            session_id: &self.id,
            account_id: &self.account_id,
            environment: &self.environment,
            link_id: self.payment_link_id.as_deref(),
            promotion_code: self.promotion_code.as_deref(),
        }
    }

    fn fields(&self) -> Vec<Value> {
        serde_json::from_str(&self.custom_fields).unwrap_or_default()
    }
}

async fn load(ctx: &Ctx, id: &str) -> ApiResult<Option<PageSession>> {
    Ok(db::db(ctx)?
        .prepare(
            "SELECT s.*, a.name AS merchant_name FROM checkout_sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.id = ?1",
        )
        .bind(&[id.js()])?
        .first(None)
        .await?)
}

/// What the shopper typed (never the card), to show again with an error.
#[derive(Default)]
struct Entered {
    values: Map<String, Value>,
    error: Option<String>,
}

impl Entered {
    fn get(&self, key: &str) -> &str {
        self.values
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

fn locale_of(req: &Request, session: &PageSession) -> Locale {
    let accept = req.headers().get("Accept-Language").ok().flatten();
    Locale::negotiate(session.locale.as_deref(), accept.as_deref())
}

/// The `t` a short-link visit put on the page's address.
fn ticket_of(req: &Request) -> Option<String> {
    req.url()
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "t")
        .map(|(_, v)| v.into_owned())
}

/// How the page is shown (inside the overlay or not, its theme), from its query string.
fn frame_of(req: &Request) -> Frame {
    req.url()
        .map(|url| {
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            Frame::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        })
        .unwrap_or_default()
}

/// `GET /c/{id}`.
pub async fn show(req: Request, ctx: &Ctx, id: &str) -> worker::Result<Response> {
    let frame = frame_of(&req);
    let mut session = load(ctx, id).await.ok().flatten();
    // The first load after a short-link visit: its ticket creates the session.
    if session.is_none()
        && let Some(sealed) = ticket_of(&req)
    {
        let fallback = Locale::negotiate(None, req.headers().get("Accept-Language")?.as_deref());
        match open::redeem(ctx, id, &sealed).await {
            Ok(Redeemed::Open) => session = load(ctx, id).await.ok().flatten(),
            Ok(Redeemed::Unavailable(status, text)) => {
                return pages::message_in(&frame, fallback, status, text);
            }
            Ok(Redeemed::Refused(TicketError::Expired)) => {
                return pages::message_in(&frame, fallback, 410, Text::SessionExpired);
            }
            Ok(Redeemed::Refused(_)) => {}
            Err(_) => return pages::message_in(&frame, fallback, 500, Text::ProcessingError),
        }
    }
    let Some(session) = session else {
        return pages::message_in(
            &frame,
            Locale::negotiate(None, req.headers().get("Accept-Language")?.as_deref()),
            404,
            Text::LinkNotFound,
        );
    };
    let locale = locale_of(&req, &session);
    if let Some(response) = closed(&session, locale, &frame) {
        return response;
    }
    let entered = Entered {
        values: Map::from_iter([
            (
                "email".to_owned(),
                json!(session.customer_email.clone().unwrap_or_default()),
            ),
            (
                "name".to_owned(),
                json!(session.customer_name.clone().unwrap_or_default()),
            ),
        ]),
        error: None,
    };
    form_page(200, &session, locale, &entered, &frame)
}

/// A page instead of the form when the session cannot be paid.
fn closed(
    session: &PageSession,
    locale: Locale,
    frame: &Frame,
) -> Option<worker::Result<Response>> {
    if session.status == "COMPLETE" {
        return Some(finished(session, locale, frame));
    }
    if session.status == "EXPIRED" || session.expires_at <= db::now_unix() {
        return Some(pages::message_in(frame, locale, 410, Text::SessionExpired));
    }
    if session.failed_attempts >= MAX_FAILED_ATTEMPTS {
        return Some(pages::message_in(frame, locale, 429, Text::TooManyAttempts));
    }
    None
}

/// The enhancement script, inlined so the page needs no other request.
const SCRIPT: &str = include_str!("checkout.js");

/// The form page with its script allowed by a fresh nonce.
fn form_page(
    status: u16,
    session: &PageSession,
    locale: Locale,
    entered: &Entered,
    frame: &Frame,
) -> worker::Result<Response> {
    let (title, body) = render(session, locale, entered, frame);
    pages::page(frame, status, locale, &title, &body, None, Some(SCRIPT))
}

fn render(
    session: &PageSession,
    locale: Locale,
    entered: &Entered,
    frame: &Frame,
) -> (String, String) {
    let t = |key| escape(locale.text(key));
    let lines: Vec<LineItem> = serde_json::from_str(&session.line_items).unwrap_or_default();
    let mut items = String::new();
    for line in &lines {
        let name = line.name.clone().unwrap_or_else(|| "Item".to_owned());
        items.push_str(&format!(
            "<li><span>{} × {}</span><span>{}</span></li>",
            escape(&name),
            line.quantity,
            session.money(line.line_total().map_or(0, |m| m.amount()))
        ));
    }
    let discount = if session.amount_discount > 0 {
        format!(
            "<div class=\"row\"><span>{} ({})</span><span>−{}</span></div>",
            t(Text::Discount),
            escape(session.promotion_code.as_deref().unwrap_or_default()),
            session.money(session.amount_discount)
        )
    } else {
        String::new()
    };
    let total = session.money(session.amount_total);
    let test_banner = if session.environment == "SANDBOX" {
        format!("<p class=\"test\">{}</p>", t(Text::TestMode))
    } else {
        String::new()
    };
    let error = entered
        .error
        .as_ref()
        .map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let mut fields = String::new();
    for field in session.fields() {
        let key = field["key"].as_str().unwrap_or_default();
        let label = field["label"]["custom"].as_str().unwrap_or(key);
        let optional = field["optional"].as_bool().unwrap_or(false);
        let name = format!("custom_{key}");
        let value = escape(entered.get(&name));
        let suffix = if optional {
            format!(" <span class=\"note\">({})</span>", t(Text::Optional))
        } else {
            String::new()
        };
        let required = if optional { "" } else { " required" };
        let input = match field["type"].as_str() {
            Some("dropdown") => {
                let options: String = field["dropdown"]["options"]
                    .as_array()
                    .map(|options| {
                        options
                            .iter()
                            .map(|o| {
                                let v = o["value"].as_str().unwrap_or_default();
                                let selected = if entered.get(&name) == v {
                                    " selected"
                                } else {
                                    ""
                                };
                                format!(
                                    "<option value=\"{}\"{selected}>{}</option>",
                                    escape(v),
                                    escape(o["label"].as_str().unwrap_or(v))
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                format!(
                    "<select id=\"{name}\" name=\"{name}\"{required}><option value=\"\"></option>{options}</select>"
                )
            }
            Some("numeric") => format!(
                "<input id=\"{name}\" name=\"{name}\" inputmode=\"numeric\" pattern=\"[0-9]*\" value=\"{value}\"{required}>"
            ),
            _ => format!(
                "<input id=\"{name}\" name=\"{name}\" maxlength=\"255\" value=\"{value}\"{required}>"
            ),
        };
        fields.push_str(&format!(
            "<label for=\"{name}\">{}{suffix}</label>{input}",
            escape(label)
        ));
    }
    let address = if session.billing_address_collection == "required" {
        format!(
            "<label for=\"line1\">{}</label><input id=\"line1\" name=\"address_line1\" autocomplete=\"billing address-line1\" value=\"{}\" required>\
<div class=\"split\"><div><label for=\"city\">{}</label><input id=\"city\" name=\"address_city\" autocomplete=\"billing address-level2\" value=\"{}\" required></div>\
<div><label for=\"postal\">{}</label><input id=\"postal\" name=\"address_postal_code\" autocomplete=\"billing postal-code\" value=\"{}\" required></div></div>\
<label for=\"country\">{}</label><input id=\"country\" name=\"address_country\" autocomplete=\"billing country\" value=\"{}\" required>",
            t(Text::AddressLine),
            escape(entered.get("address_line1")),
            t(Text::City),
            escape(entered.get("address_city")),
            t(Text::PostalCode),
            escape(entered.get("address_postal_code")),
            t(Text::Country),
            escape(entered.get("address_country")),
        )
    } else {
        String::new()
    };
    let cancel = session
        .cancel_url
        .as_ref()
        .map(|url| {
            // Inside the overlay, cancelling closes it and stays on the merchant's page.
            let close = if frame.parent.is_some() {
                " data-close"
            } else {
                ""
            };
            format!(
                "<p class=\"center\"><a href=\"{}\"{close}>{}</a></p>",
                escape(url),
                t(Text::Cancel)
            )
        })
        .unwrap_or_default();
    let submit = match session.mode.as_str() {
        "SUBSCRIPTION" => t(Text::Subscribe),
        "SETUP" => t(Text::SaveCard),
        _ => t(Text::Pay),
    };
    let suffix = escape(&frame.query());
    let action = format!("/c/{}{suffix}", session.id);
    let promotion = if session.allow_promotion_codes == 1
        && session.amount_discount == 0
        && session.mode != "SETUP"
    {
        format!(
            "<form class=\"card\" method=\"post\" action=\"/c/{id}/promotion{suffix}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label for=\"promo\">{label}</label><div class=\"split\"><div><input id=\"promo\" name=\"code\" autocomplete=\"off\" value=\"{value}\"></div>\
<div><button class=\"sec\" type=\"submit\">{apply}</button></div></div></form>",
            id = session.id,
            csrf = escape(&session.csrf_token),
            label = t(Text::PromotionCode),
            value = escape(entered.get("code")),
            apply = t(Text::Apply),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>{merchant}</h1>{test_banner}<section class=\"card\"><ul>{items}</ul>{discount}\
<div class=\"row tot\"><span>{total_label}</span><strong id=\"total\">{total}</strong></div></section>{promotion}\
<form id=\"pay-form\" class=\"card\" method=\"post\" action=\"{action}\" data-done=\"{action}\" data-messages=\"{messages}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{error}\
<label for=\"email\">{email_label}</label><input id=\"email\" type=\"email\" name=\"email\" autocomplete=\"email\" value=\"{email}\" required>\
<label for=\"name\">{name_label}</label><input id=\"name\" name=\"name\" autocomplete=\"name\" value=\"{name}\">{fields}{address}\
<label for=\"cc\">{card_label}</label><input id=\"cc\" name=\"card_number\" inputmode=\"numeric\" autocomplete=\"cc-number\" placeholder=\"1234 1234 1234 1234\" required>\
<div class=\"split\"><div><label for=\"exp\">{expiry_label}</label><input id=\"exp\" name=\"card_expiry\" autocomplete=\"cc-exp\" placeholder=\"MM / YY\" required></div>\
<div><label for=\"cvc\">{cvc_label}</label><input id=\"cvc\" name=\"card_cvc\" inputmode=\"numeric\" autocomplete=\"cc-csc\" maxlength=\"4\" required></div></div>\
<button id=\"pay\" type=\"submit\">{submit} {total}</button>{cancel}</form>",
        merchant = escape(&session.merchant_name),
        messages = escape(
            &json!({
                "number": locale.text(Text::InvalidNumber),
                "expiry": locale.text(Text::InvalidExpiry),
                "cvc": locale.text(Text::InvalidCvc),
                "email": locale.text(Text::InvalidEmail),
            })
            .to_string()
        ),
        total_label = t(Text::Total),
        csrf = escape(&session.csrf_token),
        email_label = t(Text::Email),
        email = escape(entered.get("email")),
        name_label = t(Text::Name),
        name = escape(entered.get("name")),
        card_label = t(Text::CardNumber),
        expiry_label = t(Text::Expiry),
        cvc_label = t(Text::Cvc),
    );
    (format!("{} · {}", session.merchant_name, total), body)
}

/// `POST /c/{id}`: checks the form, then reserve → charge → complete or release.
pub async fn pay(mut req: Request, ctx: &Ctx, id: &str) -> worker::Result<Response> {
    let frame = frame_of(&req);
    let Some(session) = load(ctx, id).await.ok().flatten() else {
        return pages::message_in(&frame, Locale::En, 404, Text::LinkNotFound);
    };
    let locale = locale_of(&req, &session);
    // A second submit of a completed session goes where the first went; it never charges.
    if session.status == "COMPLETE" {
        return finished(&session, locale, &frame);
    }
    if let Some(response) = closed(&session, locale, &frame) {
        return response;
    }
    let body = req.bytes().await.unwrap_or_default();
    let form = form_to_json(&body)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let text = |key: &str| {
        form.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    if text("csrf") != session.csrf_token {
        return pages::message_in(&frame, locale, 403, Text::SessionExpired);
    }
    let mut entered = Entered {
        values: form
            .iter()
            .filter(|(k, _)| !k.starts_with("card_") && *k != "csrf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        error: None,
    };
    let again = |entered: &mut Entered, status: u16, message: &str| {
        entered.error = Some(message.to_owned());
        form_page(status, &session, locale, entered, &frame)
    };

    let email = text("email");
    if !is_plausible_email(&email) {
        return again(&mut entered, 422, locale.text(Text::InvalidEmail));
    }
    let mut answers = Map::new();
    for field in session.fields() {
        let key = field["key"].as_str().unwrap_or_default();
        let value = text(&format!("custom_{key}"));
        let numeric_ok = field["type"] != "numeric" || value.bytes().all(|b| b.is_ascii_digit());
        if (value.is_empty() && !field["optional"].as_bool().unwrap_or(false)) || !numeric_ok {
            return again(
                &mut entered,
                422,
                &format!(
                    "{}: {}",
                    field["label"]["custom"].as_str().unwrap_or(key),
                    locale.text(Text::FieldRequired)
                ),
            );
        }
        if !value.is_empty() {
            answers.insert(key.to_owned(), Value::String(value));
        }
    }
    let address = if session.billing_address_collection == "required" {
        let parts = [
            "address_line1",
            "address_city",
            "address_postal_code",
            "address_country",
        ];
        if parts.iter().any(|p| text(p).is_empty()) {
            return again(
                &mut entered,
                422,
                &format!(
                    "{}: {}",
                    locale.text(Text::BillingAddress),
                    locale.text(Text::FieldRequired)
                ),
            );
        }
        Some(
            json!({"line1": text(parts[0]), "city": text(parts[1]), "postal_code": text(parts[2]), "country": text(parts[3])}),
        )
    } else {
        None
    };
    let client = client_key(&req);
    if address_blocked(ctx, &client).await {
        return pages::message_in(&frame, locale, 429, Text::TooManyAttempts);
    }
    let today = till_shared::time::month_and_year(db::now_unix());
    let card = match check_card(
        &text("card_number"),
        &text("card_expiry"),
        &text("card_cvc"),
        today,
    ) {
        Ok(card) => card,
        Err(error) => {
            let key = match error {
                CardError::InvalidNumber => Text::InvalidNumber,
                CardError::InvalidExpiry => Text::InvalidExpiry,
                CardError::Expired => Text::ExpiredCard,
                CardError::InvalidCvc => Text::InvalidCvc,
            };
            record_failure(ctx, &client).await;
            return again(&mut entered, 422, locale.text(key));
        }
    };
    if session.environment == "PRODUCTION" {
        // No real processor is connected yet; the sandbox never takes live payments.
        return again(
            &mut entered,
            503,
            "Live payments are not available yet: this account has no card processor connected.",
        );
    }

    let Ok(db) = db::db(ctx) else {
        return again(&mut entered, 500, locale.text(Text::ProcessingError));
    };
    let payment = session.payment();
    let token = match completion::reserve(&db, &payment).await {
        Ok(Reserved::Token(token)) => token,
        Ok(Reserved::Exhausted) => {
            return pages::message_in(&frame, locale, 410, Text::LinkExhausted);
        }
        Ok(Reserved::Inactive) => {
            return pages::message_in(&frame, locale, 410, Text::LinkInactive);
        }
        Ok(Reserved::Busy) => {
            // A concurrent submit holds the session; when it completed, go where it went.
            return match load(ctx, id).await.ok().flatten() {
                Some(now) if now.status == "COMPLETE" => finished(&now, locale, &frame),
                _ => again(&mut entered, 409, locale.text(Text::ProcessingError)),
            };
        }
        Err(_) => return again(&mut entered, 500, locale.text(Text::ProcessingError)),
    };
    let amount = Currency::parse(&session.currency)
        .ok()
        .and_then(|c| Money::from_minor(session.amount_total, c).ok());
    // SETUP and SUBSCRIPTION keep the card for later charges; the bank must accept that.
    let saved = match session.mode.as_str() {
        "PAYMENT" => Ok(None),
        _ => Sandbox.save(&card).await.map(Some),
    };
    let charge = match (session.mode.as_str(), amount, &saved) {
        (_, _, Err(code)) => Charge::Declined(code),
        ("SETUP", _, Ok(Some(saved))) => Charge::Succeeded {
            token: saved.clone(),
        },
        (_, Some(amount), _) => Sandbox.charge(&card, amount).await,
        (_, None, _) => Charge::Declined("processing_error"),
    };
    let saved = saved.ok().flatten();
    let card_facts = |processor_token: &str| json!({"brand": card.brand.as_str(), "last4": card.last4, "exp_month": card.exp_month, "exp_year": card.exp_year, "token": processor_token, "saved_token": saved});
    match charge {
        Charge::Succeeded {
            token: processor_token,
        } => {
            let name = text("name");
            let shopper = Shopper {
                email,
                name: (!name.is_empty()).then_some(name),
                custom_fields: Value::Object(answers),
                billing_address: address,
            };
            match complete_payment(
                ctx,
                &session,
                &token,
                &shopper,
                card_facts(&processor_token),
                locale,
                &frame,
            )
            .await
            {
                Some(response) => response,
                None => again(&mut entered, 500, locale.text(Text::ProcessingError)),
            }
        }
        Charge::Declined(code) => {
            let failure = failure_event(&session, code, Some(&card));
            let _ = completion::release(&db, &payment, &token, Some(&failure)).await;
            record_failure(ctx, &client).await;
            let key = match code {
                "insufficient_funds" => Text::InsufficientFunds,
                "expired_card" => Text::ExpiredCard,
                "incorrect_cvc" => Text::IncorrectCvc,
                "processing_error" => Text::ProcessingError,
                _ => Text::CardDeclined,
            };
            if session.failed_attempts + 1 >= MAX_FAILED_ATTEMPTS {
                return pages::message_in(&frame, locale, 429, Text::TooManyAttempts);
            }
            again(&mut entered, 402, locale.text(key))
        }
        Charge::ChallengeRequired {
            token: processor_token,
        } => {
            let mut held = card_facts(&processor_token);
            held["email"] = json!(email);
            held["name"] = json!(text("name"));
            held["custom_fields"] = Value::Object(answers);
            held["billing_address"] = address.unwrap_or(Value::Null);
            held["reservation"] = json!(token);
            if completion::hold_for_challenge(&db, &payment, &token, &held)
                .await
                .is_err()
            {
                let _ = completion::release(&db, &payment, &token, None).await;
                return again(&mut entered, 500, locale.text(Text::ProcessingError));
            }
            challenge_page(&session, locale, &frame)
        }
    }
}

/// What the shopper gave, kept with a payment until it completes.
struct Shopper {
    email: String,
    name: Option<String>,
    custom_fields: Value,
    billing_address: Option<Value>,
}

/// Completes the session for a charged card (or a saved one, in SETUP) and sends the
/// shopper on. `None` when the completion could not be written; the reservation is then
/// given back.
async fn complete_payment(
    ctx: &Ctx,
    session: &PageSession,
    token: &str,
    shopper: &Shopper,
    card: Value,
    locale: Locale,
    frame: &Frame,
) -> Option<worker::Result<Response>> {
    let done = Completed {
        email: &shopper.email,
        name: shopper.name.as_deref(),
        custom_fields: shopper.custom_fields.clone(),
        billing_address: shopper.billing_address.clone(),
        card: (session.mode != "SETUP").then(|| card.clone()),
        create_customer: session.customer_creation == "always" || session.mode != "PAYMENT",
        currency: &session.currency,
        amount_subtotal: session.amount_subtotal,
        amount_discount: session.amount_discount,
        amount_total: session.amount_total,
        event_data: event_data(session, &shopper.email),
        saved_card: card["saved_token"].as_str().map(|saved| {
            let mut saved_card = card.clone();
            saved_card["token"] = json!(saved);
            saved_card
        }),
        plan: (session.mode == "SUBSCRIPTION")
            .then(|| subscription_plan(session))
            .flatten(),
    };
    let payment = session.payment();
    let db = db::db(ctx).ok()?;
    if completion::complete(&db, &payment, token, &done)
        .await
        .is_err()
    {
        let _ = completion::release(&db, &payment, token, None).await;
        return None;
    }
    crate::events::delivery::send_soon(ctx);
    Some(match load(ctx, &session.id).await.ok().flatten() {
        Some(now) => finished(&now, locale, frame),
        None => finished(session, locale, frame),
    })
}

/// What a SUBSCRIPTION session's subscription bills: its recurring lines (one-time lines
/// are charged with the first payment only).
fn subscription_plan(session: &PageSession) -> Option<crate::billing::subscriptions::Plan> {
    let lines: Vec<LineItem> = serde_json::from_str(&session.line_items).ok()?;
    let recurring: Vec<LineItem> = lines.into_iter().filter(|l| l.is_recurring()).collect();
    crate::billing::subscriptions::plan(&recurring, "line_items", session.environment == "SANDBOX")
        .ok()
}

/// The `payment.failed` event's data: what was tried, and why it failed (never the number).
fn failure_event(
    session: &PageSession,
    code: &str,
    card: Option<&till_shared::card::CheckedCard>,
) -> Value {
    json!({
        "object": "payment",
        "status": "FAILED",
        "failure_code": code,
        "amount": session.amount_total,
        "currency": session.currency,
        "card": card.map(|c| json!({"brand": c.brand.as_str(), "last4": c.last4})),
        "checkout_session_id": session.id,
        "payment_link": session.payment_link_id,
    })
}

fn event_data(session: &PageSession, email: &str) -> Value {
    json!({
        "id": session.id,
        "object": "checkout.session",
        "mode": session.mode,
        "currency": session.currency,
        "amount_subtotal": session.amount_subtotal,
        "amount_discount": session.amount_discount,
        "amount_total": session.amount_total,
        "payment_link": session.payment_link_id,
        "promotion_code": session.promotion_code,
        "customer_email": email,
        "client_reference_id": session.client_reference_id,
        "metadata": db::parse_json(session.metadata.as_deref()),
    })
}

/// The sandbox bank's 3-D Secure page: complete or fail.
fn challenge_page(
    session: &PageSession,
    locale: Locale,
    frame: &Frame,
) -> worker::Result<Response> {
    let action = escape(&format!("/c/{}/challenge{}", session.id, frame.query()));
    let body = format!(
        "<div class=\"card center\"><h1>{title}</h1><p class=\"tot\">{total}</p>\
<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button name=\"outcome\" value=\"complete\">{complete}</button>\
<button class=\"sec\" name=\"outcome\" value=\"fail\">{fail}</button></form></div>",
        title = escape(locale.text(Text::ChallengeTitle)),
        total = session.money(session.amount_total),
        csrf = escape(&session.csrf_token),
        complete = escape(locale.text(Text::ChallengeComplete)),
        fail = escape(locale.text(Text::ChallengeFail)),
    );
    let title = locale.text(Text::ChallengeTitle);
    pages::page(frame, 200, locale, title, &body, None, None)
}

/// `POST /c/{id}/challenge`: the shopper's answer to the sandbox 3-D Secure page.
pub async fn challenge(mut req: Request, ctx: &Ctx, id: &str) -> worker::Result<Response> {
    let frame = frame_of(&req);
    let Some(session) = load(ctx, id).await.ok().flatten() else {
        return pages::message_in(&frame, Locale::En, 404, Text::LinkNotFound);
    };
    let locale = locale_of(&req, &session);
    if session.status == "COMPLETE" {
        return finished(&session, locale, &frame);
    }
    let body = req.bytes().await.unwrap_or_default();
    let form = form_to_json(&body).unwrap_or_default();
    let held: Value = db::parse_json(session.pending_payment.as_deref());
    let token = held["reservation"].as_str().unwrap_or_default().to_owned();
    if form["csrf"].as_str() != Some(session.csrf_token.as_str()) || token.is_empty() {
        return pages::message_in(&frame, locale, 403, Text::SessionExpired);
    }
    let Ok(db) = db::db(ctx) else {
        return pages::message_in(&frame, locale, 500, Text::ProcessingError);
    };
    let payment = session.payment();
    if form["outcome"].as_str() != Some("complete") {
        let failure = failure_event(&session, "authentication_failed", None);
        let _ = completion::release(&db, &payment, &token, Some(&failure)).await;
        record_failure(ctx, &client_key(&req)).await;
        let reloaded = load(ctx, id).await.ok().flatten().unwrap_or(session);
        let entered = Entered {
            values: Map::from_iter([
                ("email".to_owned(), held["email"].clone()),
                ("name".to_owned(), held["name"].clone()),
            ]),
            error: Some(locale.text(Text::CardDeclined).to_owned()),
        };
        if let Some(response) = closed(&reloaded, locale, &frame) {
            return response;
        }
        return form_page(402, &reloaded, locale, &entered, &frame);
    }
    let shopper = Shopper {
        email: held["email"].as_str().unwrap_or_default().to_owned(),
        name: held["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        custom_fields: held["custom_fields"].clone(),
        billing_address: Some(held["billing_address"].clone()).filter(|a| !a.is_null()),
    };
    let card = json!({
        "brand": held["brand"], "last4": held["last4"], "exp_month": held["exp_month"],
        "exp_year": held["exp_year"], "token": held["token"],
    });
    complete_payment(ctx, &session, &token, &shopper, card, locale, &frame)
        .await
        .unwrap_or_else(|| pages::message_in(&frame, locale, 500, Text::ProcessingError))
}

/// `POST /c/{id}/promotion`: applies a promotion code typed on the page (when the link or
/// session allows codes), then shows the page again with the new total.
pub async fn apply_promotion(mut req: Request, ctx: &Ctx, id: &str) -> worker::Result<Response> {
    let frame = frame_of(&req);
    let Some(session) = load(ctx, id).await.ok().flatten() else {
        return pages::message_in(&frame, Locale::En, 404, Text::LinkNotFound);
    };
    let locale = locale_of(&req, &session);
    if let Some(response) = closed(&session, locale, &frame) {
        return response;
    }
    let body = req.bytes().await.unwrap_or_default();
    let form = form_to_json(&body).unwrap_or_default();
    if form["csrf"].as_str() != Some(session.csrf_token.as_str())
        || session.allow_promotion_codes != 1
    {
        return pages::message_in(&frame, locale, 403, Text::SessionExpired);
    }
    let code = form["code"].as_str().unwrap_or_default().trim().to_owned();
    let refuse = |code: &str| {
        let entered = Entered {
            values: Map::from_iter([("code".to_owned(), json!(code))]),
            error: Some(locale.text(Text::InvalidPromotion).to_owned()),
        };
        form_page(422, &session, locale, &entered, &frame)
    };
    let Ok(Some(promotion)) =
        find_by_code(ctx, &session.account_id, &session.environment, &code).await
    else {
        return refuse(&code);
    };
    if session.mode == "SETUP" {
        return refuse(&code);
    }
    let lines: Vec<LineItem> = serde_json::from_str(&session.line_items).unwrap_or_default();
    let discount = match promotion.discount_on(&lines, db::now_unix()) {
        Ok(Ok(off)) if off > 0 => off,
        _ => return refuse(&code),
    };
    let Ok(db) = db::db(ctx) else {
        return pages::message_in(&frame, locale, 500, Text::ProcessingError);
    };
    // Only while no payment is in flight: the amount a reservation charges never changes.
    let statement = db
        .prepare(
            "UPDATE checkout_sessions SET promotion_code = ?2, amount_discount = ?3, amount_total = amount_subtotal - ?3
             WHERE id = ?1 AND status = 'OPEN' AND reservation IS NULL AND allow_promotion_codes = 1",
        )
        .bind(&[session.id.js(), promotion.code.js(), discount.js()])?;
    statement.run().await?;
    let response = Response::empty()?.with_status(303);
    response
        .headers()
        .set("Location", &format!("/c/{}{}", session.id, frame.query()))?;
    Ok(response)
}

/// Where a completed session sends the shopper: 303 to the success URL with the session id
/// filled in, or the hosted confirmation (with the merchant's message, if any).
///
/// Inside the overlay the confirmation is always shown in the frame and reported to the
/// merchant page as `success` with the session id and the success URL (if any): the page
/// decides whether to go there (the merchant's site may refuse to be framed).
fn finished(session: &PageSession, locale: Locale, frame: &Frame) -> worker::Result<Response> {
    let after: Value = db::parse_json(session.after_completion.as_deref());
    let hosted = after["type"] == "hosted_confirmation";
    let success_url = session
        .success_url
        .as_ref()
        .filter(|_| !hosted)
        .map(|url| url.replace("{CHECKOUT_SESSION_ID}", &session.id));
    if let Some(location) = success_url.as_ref().filter(|_| frame.parent.is_none()) {
        let response = Response::empty()?.with_status(303);
        response.headers().set("Location", location)?;
        response.headers().set("Cache-Control", "no-store")?;
        return Ok(response);
    }
    let custom = after["hosted_confirmation"]["custom_message"]
        .as_str()
        .unwrap_or_else(|| locale.text(Text::PaymentComplete));
    let body = format!(
        "<div class=\"card center\"><h1>{}</h1><p>{}</p><p class=\"tot\">{}</p></div>",
        escape(&session.merchant_name),
        escape(custom),
        session.money(session.amount_total)
    );
    let say = json!({"type": "success", "session_id": session.id, "url": success_url});
    let title = locale.text(Text::PaymentComplete);
    pages::page(frame, 200, locale, title, &body, Some(&say), None)
}
