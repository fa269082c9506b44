//! The hosted checkout page, `/c/{session_id}`: rendered at the edge with everything the
//! shopper needs in the first response, working as a plain HTML form. A POST pays through
//! the processor; errors come back on the same page in the shopper's language.

use serde_json::{Map, Value, json};
use till_shared::card::{CheckedCard, check_card};
use till_shared::catalog::is_plausible_email;
use till_shared::checkout::{
    AddressCollection, Closed, SessionStatus, answers, billing_address, card_error_text, closed,
    decline_text, locks,
};
use till_shared::embed::{Frame, FrameRequest};
use till_shared::keys::Environment;
use till_shared::links::Unavailable;
use till_shared::locale::{Locale, Text, format_money};
use till_shared::money::Money;
use till_shared::plan::CheckoutMode;
use till_shared::redirect::{Destination, destination};
use till_shared::ticket::TicketError;
use worker::{D1Database, Response, console_error};

use crate::accounts::processor;
use crate::accounts::settings::Allowed;
use crate::api::page::PageRequest;

use crate::catalog::promotion_codes::find_by_code;
use crate::checkout::by_stripe;
use crate::checkout::code_attempts::{self, Attempted};
use crate::checkout::completion::{self, CardFacts, Pending, Reservation, Reserved, Shopper};
use crate::checkout::open::{self, Redeemed};
use crate::checkout::sessions::{self, CheckoutSession};
use crate::ctx::Ctx;
use crate::db::{self, Sql};
use crate::pages;
use crate::pages::checkout::{
    AddressView, ChallengeView, CheckoutView, ConfirmationView, DiscountRow, FieldView, ItemRow,
    PromotionForm, StripeView,
};
use crate::processor::{Charge, Sandbox};

/// Failed payments one client address may make in any ten minutes, across all sessions.
const MAX_FAILURES_PER_ADDRESS: i64 = 20;
const FAILURE_WINDOW_SECS: i64 = 600;
/// When a shopper is asked to come back (D1 busy, an order still being written).
const RETRY_AFTER_SECS: u32 = 3;

/// The shopper's address as Cloudflare reports it (`unknown` when run without Cloudflare
/// in front, as in local development).
fn client_key(req: &PageRequest) -> String {
    code_attempts::client_key(req.client_address.as_deref())
}

/// Whether this address has used up its failed attempts in the last window.
async fn address_blocked(ctx: &Ctx, key: &str) -> bool {
    let since = db::now_unix() - FAILURE_WINDOW_SECS;
    let Ok(db) = db::db(ctx) else { return false };
    let statement =
        Sql::new("SELECT count(*) AS n FROM payment_failures WHERE key = :key AND at > :since")
            .bind("key", key)
            .bind("since", since)
            .prepare(&db);
    let count: Option<i64> = match statement {
        Ok(statement) => statement.first(Some("n")).await.ok().flatten(),
        Err(_) => None,
    };
    count.is_some_and(|n| n >= MAX_FAILURES_PER_ADDRESS)
}

/// Counts one failed attempt against the address.
async fn record_failure(ctx: &Ctx, key: &str) {
    if let Ok(db) = db::db(ctx)
        && let Ok(statement) = Sql::new("INSERT INTO payment_failures (key, at) VALUES (:key, :at)")
            .bind("key", key)
            .bind("at", db::now_unix())
            .prepare(&db)
    {
        let _ = statement.run().await;
    }
}

/// A session as its page shows it: with the merchant's name, and what the merchant
/// allows (who may frame the page).
pub(super) struct PageSession {
    pub(super) session: CheckoutSession,
    merchant_name: String,
    brand: String,
    allowed: Allowed,
    /// The account's Stripe, when this environment has it connected.
    pub(super) stripe: Option<StripeView>,
}

impl PageSession {
    /// How this page may be framed, as the request asks.
    fn frame(&self, asked: &FrameRequest) -> Frame {
        self.allowed.frame(asked)
    }

    pub(super) fn money(&self, amount: i64) -> String {
        Money::from_minor(amount, self.session.currency)
            .ok()
            .map(format_money)
            .unwrap_or_default()
    }
}

pub(super) async fn load(ctx: &Ctx, id: &str) -> Option<PageSession> {
    let hosted = sessions::find_hosted(ctx, id).await.ok().flatten()?;
    // Read with the session: the hosted page makes no second query for it.
    let stripe = hosted
        .stripe_publishable_key
        .and_then(|key| processor::page_fields(&ctx.env, key).ok());
    Some(PageSession {
        allowed: Allowed::new(hosted.allowed_hosts, hosted.session.environment),
        session: hosted.session,
        merchant_name: hosted.merchant_name,
        brand: hosted.brand,
        stripe,
    })
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

    /// The form as posted, without the card and the token.
    fn from_form(form: &Form) -> Entered {
        Entered {
            values: form
                .0
                .iter()
                .filter(|(k, _)| !k.starts_with("card_") && *k != "csrf" && *k != "payment_method")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            error: None,
        }
    }

    /// The shopper's name and email, to start the form with.
    fn shopper(email: Value, name: Value) -> Entered {
        Entered {
            values: Map::from_iter([("email".to_owned(), email), ("name".to_owned(), name)]),
            error: None,
        }
    }
}

/// A posted form.
pub(super) struct Form(Map<String, Value>);

impl Form {
    fn read(req: &PageRequest) -> Form {
        Form(req.form.clone())
    }

    /// Whether the form carries the session's CSRF token, compared in constant time.
    fn csrf_matches(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        let sent = self.text("csrf");
        !token.is_empty() && bool::from(sent.as_bytes().ct_eq(token.as_bytes()))
    }

    /// A field, trimmed; empty when absent.
    pub(super) fn text(&self, key: &str) -> String {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

fn locale_of(req: &PageRequest, session: &CheckoutSession) -> Locale {
    Locale::negotiate(session.locale.as_deref(), req.accept_language.as_deref())
}

/// The `t` a short-link visit put on the page's address.
fn ticket_of(req: &PageRequest) -> Option<String> {
    req.query("t")
}

/// How the page asks to be shown (inside the overlay or not, its theme), from its query
/// string; the session's merchant decides what of it holds ([`PageSession::frame`]).
fn frame_asked(req: &PageRequest) -> FrameRequest {
    let pairs = req.query_pairs();
    FrameRequest::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Where the page is served from, for the `url` its session's events carry.
fn origin_of(req: &PageRequest) -> String {
    req.origin()
}

/// `GET /c/{id}`.
pub async fn show(req: PageRequest, ctx: &Ctx, id: &str) -> worker::Result<Response> {
    let asked = frame_asked(&req);
    let fallback = Locale::negotiate(None, req.accept_language.as_deref());
    let unowned = asked.unowned();
    let mut page = load(ctx, id).await;
    // The first load after a short-link visit: its ticket creates the session.
    if page.is_none()
        && let Some(sealed) = ticket_of(&req)
    {
        match open::redeem(ctx, id, &sealed, &req.origin()).await {
            Ok(Redeemed::Open) => page = load(ctx, id).await,
            Ok(Redeemed::Unavailable(reason, allowed)) => {
                let frame = allowed.map_or(unowned, |a| a.frame(&asked));
                return pages::message_in(&frame, fallback, reason.status(), reason.text());
            }
            Ok(Redeemed::Refused(TicketError::Expired)) => {
                return pages::message_in(&unowned, fallback, 410, Text::SessionExpired);
            }
            Ok(Redeemed::Refused(_)) => {}
            Err(_) => return pages::message_in(&unowned, fallback, 500, Text::ProcessingError),
        }
    }
    let Some(page) = page else {
        return pages::message_in(&unowned, fallback, 404, Text::LinkNotFound);
    };
    let frame = page.frame(&asked);
    let locale = locale_of(&req, &page.session);
    if let Some(response) = settle_owed(ctx, &page, locale, &frame, &origin_of(&req)).await {
        return response;
    }
    if let Some(response) = closed_page(&page, locale, &frame) {
        return response;
    }
    let session = &page.session;
    let entered = Entered::shopper(
        json!(session.customer_email.clone().unwrap_or_default()),
        json!(session.customer_name.clone().unwrap_or_default()),
    );
    form_page(200, &page, locale, &entered, &frame)
}

/// A page instead of the form when the session cannot be paid.
fn closed_page(
    page: &PageSession,
    locale: Locale,
    frame: &Frame,
) -> Option<worker::Result<Response>> {
    let s = &page.session;
    match closed(s.status, s.expires_at, s.failed_attempts, db::now_unix())? {
        Closed::Paid => Some(finished(page, locale, frame)),
        reason => {
            let (status, text) = reason.page();
            Some(pages::message_in(frame, locale, status, text))
        }
    }
}

/// The form page, showing what the shopper typed.
fn form_page(
    status: u16,
    page: &PageSession,
    locale: Locale,
    entered: &Entered,
    frame: &Frame,
) -> worker::Result<Response> {
    let view = checkout_view(page, entered, frame);
    pages::checkout::form(frame, status, locale, &view)
}

/// The form as the session and what the shopper typed make it: which sections it has, and
/// every amount formatted in the session's currency.
fn checkout_view<'a>(page: &'a PageSession, entered: &Entered, frame: &Frame) -> CheckoutView<'a> {
    let session = &page.session;
    let amounts = &session.amounts;
    let suffix = frame.query();
    let path = format!("/c/{}", session.id.as_str());
    let offers_code =
        session.allow_promotion_codes && amounts.discount == 0 && session.mode.charges();
    CheckoutView {
        merchant_name: page.merchant_name.clone(),
        brand: page.brand.clone(),
        test_mode: session.environment == Environment::Sandbox,
        items: item_rows(page),
        discount: (amounts.discount != 0).then(|| DiscountRow {
            code: session.promotion_code.clone().unwrap_or_default(),
            amount: page.money(amounts.discount),
        }),
        total: page.money(amounts.total),
        promotion: offers_code.then(|| PromotionForm {
            action: format!("{path}/promotion{suffix}"),
            code: entered.get("code").to_owned(),
        }),
        error: entered.error.clone(),
        email: entered.get("email").to_owned(),
        name: entered.get("name").to_owned(),
        fields: session
            .custom_fields
            .iter()
            .map(|field| FieldView {
                field,
                value: entered.get(&field.input_name()).to_owned(),
            })
            .collect(),
        address: (session.billing_address_collection == AddressCollection::Required).then(|| {
            AddressView {
                line1: entered.get("address_line1").to_owned(),
                city: entered.get("address_city").to_owned(),
                postal_code: entered.get("address_postal_code").to_owned(),
                country: entered.get("address_country").to_owned(),
            }
        }),
        cancel_url: session.cancel_url.clone(),
        submit: submit_text(session.mode),
        csrf_token: session.csrf_token.clone(),
        action: format!("{path}{suffix}"),
        stripe: page.stripe.clone(),
    }
}

/// What is bought, line by line.
fn item_rows(page: &PageSession) -> Vec<ItemRow> {
    page.session
        .lines
        .iter()
        .map(|line| ItemRow {
            name: line.name.as_deref().unwrap_or("Item").to_owned(),
            quantity: line.quantity,
            amount: page.money(line.line_total().map_or(0, |m| m.amount())),
        })
        .collect()
}

/// The payment form's button text.
fn submit_text(mode: CheckoutMode) -> Text {
    match mode {
        CheckoutMode::Subscription => Text::Subscribe,
        CheckoutMode::Setup => Text::SaveCard,
        CheckoutMode::Payment => Text::Pay,
    }
}

/// How a payment attempt ends for the shopper.
pub(super) enum Outcome {
    /// The form again, with this message.
    Again(u16, String),
    /// A page of its own instead of the form.
    Message(u16, Text),
    /// Paid: where a paid session goes.
    Paid(Box<CheckoutSession>),
    /// The bank's 3-D Secure page.
    Challenge,
    /// The form again for the session as it is now (its total changed under the payment),
    /// with this message; nothing was charged.
    Repriced(Box<PageSession>, String),
    /// D1 could not take the payment: nothing was charged, the form again with a 503 and
    /// `Retry-After`.
    TryLater,
    /// Charged, with the completion still to be written: the page that says so and comes
    /// back ([`settle_owed`]).
    Confirming,
    /// Stripe's 3-D Secure, shown by Stripe.js with this PaymentIntent client secret.
    StripeChallenge(String),
}

/// The page and the request a payment attempt answers.
pub(super) struct Attempt<'a> {
    pub(super) ctx: &'a Ctx,
    pub(super) page: &'a PageSession,
    locale: Locale,
    frame: &'a Frame,
    origin: String,
    client: String,
}

impl Attempt<'_> {
    pub(super) fn again(&self, status: u16, text: Text) -> Outcome {
        Outcome::Again(status, self.locale.text(text).to_owned())
    }

    /// The answer to the shopper, keeping what they typed on the form.
    fn answer(&self, outcome: Outcome, mut entered: Entered) -> worker::Result<Response> {
        match outcome {
            Outcome::Again(status, message) => {
                entered.error = Some(message);
                form_page(status, self.page, self.locale, &entered, self.frame)
            }
            Outcome::Message(status, text) => {
                pages::message_in(self.frame, self.locale, status, text)
            }
            Outcome::Paid(session) => {
                let paid = PageSession {
                    session: *session,
                    merchant_name: self.page.merchant_name.clone(),
                    brand: self.page.brand.clone(),
                    allowed: self.page.allowed.clone(),
                    stripe: None,
                };
                finished(&paid, self.locale, self.frame)
            }
            Outcome::Challenge => challenge_page(self.page, self.locale, self.frame),
            Outcome::Repriced(now, message) => {
                entered.error = Some(message);
                form_page(409, &now, self.locale, &entered, self.frame)
            }
            Outcome::TryLater => {
                entered.error = Some(self.locale.text(Text::TryAgainShortly).to_owned());
                let response = form_page(503, self.page, self.locale, &entered, self.frame)?;
                response
                    .headers()
                    .set("Retry-After", &RETRY_AFTER_SECS.to_string())?;
                Ok(response)
            }
            Outcome::Confirming => confirming(self.page, self.locale, self.frame),
            Outcome::StripeChallenge(secret) => match &self.page.stripe {
                Some(stripe) => {
                    let view = challenge_view(self.page, self.frame);
                    pages::checkout::stripe_challenge(
                        self.frame,
                        self.locale,
                        &view,
                        stripe,
                        &secret,
                    )
                }
                None => pages::message_in(self.frame, self.locale, 500, Text::ProcessingError),
            },
        }
    }
}

/// `POST /c/{id}`: checks the form, then reserve → charge → complete or release.
pub async fn pay(req: PageRequest, ctx: &Ctx, id: &str) -> worker::Result<Response> {
    let asked = frame_asked(&req);
    let Some(page) = load(ctx, id).await else {
        return pages::message_in(&asked.unowned(), Locale::En, 404, Text::LinkNotFound);
    };
    let frame = page.frame(&asked);
    let locale = locale_of(&req, &page.session);
    // A second submit of a charged or completed session goes where the first went; it never
    // charges.
    if let Some(response) = settle_owed(ctx, &page, locale, &frame, &origin_of(&req)).await {
        return response;
    }
    if let Some(response) = closed_page(&page, locale, &frame) {
        return response;
    }
    let form = Form::read(&req);
    if !form.csrf_matches(&page.session.csrf_token) {
        return pages::message_in(&frame, locale, 403, Text::SessionExpired);
    }
    let attempt = Attempt {
        ctx,
        page: &page,
        locale,
        frame: &frame,
        origin: origin_of(&req),
        client: client_key(&req),
    };
    let outcome = if attempt.page.stripe.is_some() {
        match check_shopper(&attempt, &form).await {
            Ok(shopper) => by_stripe::take_payment(&attempt, shopper, &form).await,
            Err(outcome) => outcome,
        }
    } else {
        match check_form(&attempt, &form).await {
            Ok((shopper, card)) => take_payment(&attempt, shopper, card).await,
            Err(outcome) => outcome,
        }
    };
    attempt.answer(outcome, Entered::from_form(&form))
}

/// The shopper's details and card as the form gives them, or why the form is sent back.
async fn check_form(attempt: &Attempt<'_>, form: &Form) -> Result<(Shopper, CheckedCard), Outcome> {
    let shopper = check_shopper(attempt, form).await?;
    let today = till_shared::time::month_and_year(db::now_unix());
    let number = form.text("card_number");
    let card = match check_card(
        &number,
        &form.text("card_expiry"),
        &form.text("card_cvc"),
        today,
    ) {
        Ok(card) => card,
        Err(error) => {
            record_failure(attempt.ctx, &attempt.client).await;
            return Err(attempt.again(422, card_error_text(error)));
        }
    };
    Ok((shopper, card))
}

/// The shopper's details as the form gives them (everything but the card), or why the
/// form is sent back; a client address over its failure allowance is refused here.
async fn check_shopper(attempt: &Attempt<'_>, form: &Form) -> Result<Shopper, Outcome> {
    let (locale, session) = (attempt.locale, &attempt.page.session);
    let email = form.text("email");
    if !is_plausible_email(&email) {
        return Err(attempt.again(422, Text::InvalidEmail));
    }
    let required =
        |what: &str| Outcome::Again(422, format!("{what}: {}", locale.text(Text::FieldRequired)));
    let answers = answers(&session.custom_fields, |name| form.text(name))
        .map_err(|field| required(field.label()))?;
    let address = billing_address(session.billing_address_collection, |name| form.text(name))
        .map_err(|_| required(locale.text(Text::BillingAddress)))?;
    if address_blocked(attempt.ctx, &attempt.client).await {
        return Err(Outcome::Message(429, Text::TooManyAttempts));
    }
    Ok(Shopper {
        email,
        name: form.text("name"),
        custom_fields: Value::Object(answers),
        billing_address: address,
    })
}

/// Reserves the session, charges the card and completes or gives the reservation back.
async fn take_payment(attempt: &Attempt<'_>, shopper: Shopper, card: CheckedCard) -> Outcome {
    let session = &attempt.page.session;
    if session.environment == Environment::Production {
        // No real processor is connected yet; the sandbox never takes live payments.
        return Outcome::Again(
            503,
            "Live payments are not available yet: this account has no card processor connected."
                .to_owned(),
        );
    }
    let Ok(db) = db::db(attempt.ctx) else {
        return Outcome::TryLater;
    };
    let token = match reserve(attempt, &db).await {
        Ok(token) => token,
        Err(outcome) => return outcome,
    };
    let held = Reservation {
        session,
        token: &token,
    };
    let (charge, saved) = charge(session, &card).await;
    let facts = |token: String| CardFacts {
        brand: card.brand.as_str().to_owned(),
        last4: card.last4.clone(),
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        token,
        saved_token: saved.clone(),
        processor: "sandbox".to_owned(),
    };
    match charge {
        Charge::Succeeded { token } => {
            complete_payment(attempt, &db, &held, &shopper, &facts(token)).await
        }
        Charge::Declined(code) => declined(attempt, &db, &held, code, Some(&card)).await,
        // Nothing was charged that anyone knows of: the reservation back, try again.
        Charge::Unavailable => {
            let _ = completion::release(&db, &held, None).await;
            Outcome::TryLater
        }
        Charge::ChallengeRequired { token } => {
            let pending = Pending {
                card: facts(token),
                shopper,
                reservation: held.token.to_owned(),
                charged: false,
            };
            hold(attempt, &db, &held, &pending).await
        }
    }
}

/// Takes the session's reservation for this payment; or the page the shopper gets instead
/// (sold out, changed, taken by another submit, D1 busy).
pub(super) async fn reserve(attempt: &Attempt<'_>, db: &D1Database) -> Result<String, Outcome> {
    let session = &attempt.page.session;
    let refused = match completion::reserve(db, session).await {
        Ok(Reserved::Token(token)) => return Ok(token),
        Ok(Reserved::Exhausted) => unavailable(Unavailable::SoldOut),
        Ok(Reserved::Inactive) => unavailable(Unavailable::Inactive),
        // A concurrent submit holds the session; when it completed, go where it went.
        Ok(Reserved::Busy) => match load(attempt.ctx, session.id.as_str()).await {
            Some(now) if now.session.status == SessionStatus::Complete => {
                Outcome::Paid(Box::new(now.session))
            }
            Some(now) if Pending::owed(&now.session).is_some() => Outcome::Confirming,
            _ => attempt.again(409, Text::ProcessingError),
        },
        Ok(Reserved::Changed) => repriced(attempt, Text::TotalChanged).await,
        // Charging without the discount the shopper saw would be wrong too: the code comes
        // off, and the shopper decides on the full total.
        Ok(Reserved::PromotionUnusable) => {
            if let Some(code) = &session.promotion_code
                && sessions::withdraw_promotion(db, session.id.as_str(), code)
                    .await
                    .is_err()
            {
                return Err(attempt.again(500, Text::ProcessingError));
            }
            repriced(attempt, Text::PromotionWithdrawn).await
        }
        Err(_) => Outcome::TryLater,
    };
    Err(refused)
}

/// The form for the session as D1 has it now, with `text` saying why it is shown again
/// (or where a payment that completed meanwhile went).
async fn repriced(attempt: &Attempt<'_>, text: Text) -> Outcome {
    match load(attempt.ctx, attempt.page.session.id.as_str()).await {
        Some(now) if now.session.status == SessionStatus::Complete => {
            Outcome::Paid(Box::new(now.session))
        }
        Some(now) => Outcome::Repriced(Box::new(now), attempt.locale.text(text).to_owned()),
        None => attempt.again(500, Text::ProcessingError),
    }
}

/// The page of a link that stopped selling.
fn unavailable(reason: Unavailable) -> Outcome {
    Outcome::Message(reason.status(), reason.text())
}

/// Asks the processor: SETUP and SUBSCRIPTION save the card first (the bank must accept
/// keeping it); SETUP charges nothing. Answers the charge and the saved card's token.
async fn charge(session: &CheckoutSession, card: &CheckedCard) -> (Charge, Option<String>) {
    let amount = Money::from_minor(session.amounts.total, session.currency).ok();
    let saved = if session.mode.saves_card() {
        Sandbox.save(card).await.map(Some)
    } else {
        Ok(None)
    };
    let charge = match (session.mode, amount, &saved) {
        (_, _, Err(code)) => Charge::Declined(code),
        (CheckoutMode::Setup, _, Ok(Some(saved))) => Charge::Succeeded {
            token: saved.clone(),
        },
        (_, Some(amount), _) => Sandbox.charge(card, amount).await,
        (_, None, _) => Charge::Declined("processing_error"),
    };
    (charge, saved.ok().flatten())
}

/// A declined card: the reservation back, the failure counted (against the session and
/// the address), and the decline's sentence on the form, or the locked page.
pub(super) async fn declined(
    attempt: &Attempt<'_>,
    db: &D1Database,
    held: &Reservation<'_>,
    code: &'static str,
    card: Option<&CheckedCard>,
) -> Outcome {
    let session = &attempt.page.session;
    let failure = failure_event(session, code, card);
    let _ = completion::release(db, held, Some(&failure)).await;
    record_failure(attempt.ctx, &attempt.client).await;
    if locks(session.failed_attempts + 1) {
        return Outcome::Message(429, Text::TooManyAttempts);
    }
    attempt.again(402, decline_text(code))
}

/// Keeps the payment for the shopper's 3-D Secure answer.
pub(super) async fn hold(
    attempt: &Attempt<'_>,
    db: &D1Database,
    held: &Reservation<'_>,
    pending: &Pending,
) -> Outcome {
    if completion::keep_pending(db, held, pending).await.is_err() {
        let _ = completion::release(db, held, None).await;
        return attempt.again(500, Text::ProcessingError);
    }
    Outcome::Challenge
}

/// Completes the session for a charged card (or a saved one, in SETUP). When D1 cannot
/// write the completion, the charge keeps its reservation and its completion is owed: the
/// shopper is told the payment went through and the page comes back for the order
/// ([`settle_owed`]); the cron writes it too, if the shopper never comes back.
pub(super) async fn complete_payment(
    attempt: &Attempt<'_>,
    db: &D1Database,
    held: &Reservation<'_>,
    shopper: &Shopper,
    card: &CardFacts,
) -> Outcome {
    match completion::complete(db, held, shopper, card, &attempt.origin).await {
        Ok(after) => {
            crate::events::delivery::send_soon(attempt.ctx);
            Outcome::Paid(Box::new(after))
        }
        Err(error) => {
            let id = held.session.id.as_str();
            console_error!("checkout {id}: the completion of a charged payment failed: {error:?}");
            let owed = Pending {
                card: card.clone(),
                shopper: shopper.clone(),
                reservation: held.token.to_owned(),
                charged: true,
            };
            if let Err(error) = completion::keep_pending(db, held, &owed).await {
                console_error!(
                    "checkout {id}: the charged payment {} could not be kept: {error:?}",
                    card.token
                );
            }
            Outcome::Confirming
        }
    }
}

/// A session whose payment was charged but not yet completed ([`Pending::owed`]): the
/// completion written now, and the page of the paid session; or, while D1 still cannot
/// write it, the page that says the payment went through and comes back. `None` for a
/// session that owes nothing.
async fn settle_owed(
    ctx: &Ctx,
    page: &PageSession,
    locale: Locale,
    frame: &Frame,
    origin: &str,
) -> Option<worker::Result<Response>> {
    Pending::owed(&page.session)?;
    let completed = match db::db(ctx) {
        Ok(db) => completion::complete_owed(&db, &page.session, origin).await,
        Err(error) => Err(error),
    };
    if let Ok(Some(after)) = completed {
        crate::events::delivery::send_soon(ctx);
        let paid = PageSession {
            session: after,
            merchant_name: page.merchant_name.clone(),
            brand: page.brand.clone(),
            allowed: page.allowed.clone(),
            stripe: None,
        };
        return Some(finished(&paid, locale, frame));
    }
    // Completed meanwhile by the cron or another tab: the next visit shows it.
    Some(confirming(page, locale, frame))
}

/// The page of a charged payment whose order is still being written: a 503 with
/// `Retry-After`, which reloads itself.
fn confirming(page: &PageSession, locale: Locale, frame: &Frame) -> worker::Result<Response> {
    let again = format!("/c/{}{}", page.session.id.as_str(), frame.query());
    pages::confirming(frame, locale, &again, RETRY_AFTER_SECS)
}

/// The `payment.failed` event's data: what was tried, and why it failed (never the number).
fn failure_event(session: &CheckoutSession, code: &str, card: Option<&CheckedCard>) -> Value {
    json!({
        "object": "payment",
        "status": "FAILED",
        "failure_code": code,
        "amount": session.amounts.total,
        "currency": session.currency.code(),
        "card": card.map(|c| json!({"brand": c.brand.as_str(), "last4": c.last4})),
        "checkout_session_id": session.id.as_str(),
        "payment_link": session.payment_link_id,
    })
}

/// The sandbox bank's 3-D Secure page for the session's total.
fn challenge_page(page: &PageSession, locale: Locale, frame: &Frame) -> worker::Result<Response> {
    pages::checkout::challenge(frame, locale, &challenge_view(page, frame))
}

/// What a bank's check shows: the total, and where its answer posts.
fn challenge_view(page: &PageSession, frame: &Frame) -> ChallengeView {
    let session = &page.session;
    ChallengeView {
        total: page.money(session.amounts.total),
        csrf_token: session.csrf_token.clone(),
        action: format!("/c/{}/challenge{}", session.id.as_str(), frame.query()),
    }
}

/// `POST /c/{id}/challenge`: the shopper's answer to the sandbox 3-D Secure page.
pub async fn challenge(req: PageRequest, ctx: &Ctx, id: &str) -> worker::Result<Response> {
    let asked = frame_asked(&req);
    let Some(page) = load(ctx, id).await else {
        return pages::message_in(&asked.unowned(), Locale::En, 404, Text::LinkNotFound);
    };
    let frame = page.frame(&asked);
    let locale = locale_of(&req, &page.session);
    if page.session.status == SessionStatus::Complete {
        return finished(&page, locale, &frame);
    }
    let form = Form::read(&req);
    if let Some(response) = settle_owed(ctx, &page, locale, &frame, &origin_of(&req)).await {
        return response;
    }
    let pending = Pending::of(&page.session);
    let Some(pending) = pending.filter(|_| form.csrf_matches(&page.session.csrf_token)) else {
        return pages::message_in(&frame, locale, 403, Text::SessionExpired);
    };
    let Ok(db) = db::db(ctx) else {
        return pages::message_in(&frame, locale, 503, Text::TryAgainShortly);
    };
    let attempt = Attempt {
        ctx,
        page: &page,
        locale,
        frame: &frame,
        origin: origin_of(&req),
        client: client_key(&req),
    };
    let held = Reservation {
        session: &page.session,
        token: &pending.reservation,
    };
    // The processor that holds this payment answers for it, whatever is connected now.
    if pending.card.processor == "stripe" {
        let outcome = by_stripe::after_challenge(&attempt, &db, &held, &pending).await;
        return match outcome {
            Some(outcome) => attempt.answer(outcome, Entered::default()),
            None => failed_challenge(&attempt, &db, &held, &pending).await,
        };
    }
    // The sandbox bank's answer counts for the sandbox's own payments in SANDBOX only.
    if pending.card.processor != "sandbox" || page.session.environment != Environment::Sandbox {
        return pages::message_in(&frame, locale, 403, Text::SessionExpired);
    }
    if form.text("outcome") != "complete" {
        return failed_challenge(&attempt, &db, &held, &pending).await;
    }
    // The card saved before the challenge is not attached on this path.
    let card = CardFacts {
        saved_token: None,
        ..pending.card.clone()
    };
    let outcome = complete_payment(&attempt, &db, &held, &pending.shopper, &card).await;
    attempt.answer(outcome, Entered::default())
}

/// A failed challenge: a failed payment like a decline, and the form again.
async fn failed_challenge(
    attempt: &Attempt<'_>,
    db: &D1Database,
    held: &Reservation<'_>,
    pending: &Pending,
) -> worker::Result<Response> {
    let session = &attempt.page.session;
    let failure = failure_event(session, "authentication_failed", None);
    let _ = completion::release(db, held, Some(&failure)).await;
    record_failure(attempt.ctx, &attempt.client).await;
    let reloaded = load(attempt.ctx, session.id.as_str()).await;
    let page = reloaded.as_ref().unwrap_or(attempt.page);
    if let Some(response) = closed_page(page, attempt.locale, attempt.frame) {
        return response;
    }
    let mut entered = Entered::shopper(json!(pending.shopper.email), json!(pending.shopper.name));
    entered.error = Some(attempt.locale.text(Text::CardDeclined).to_owned());
    form_page(402, page, attempt.locale, &entered, attempt.frame)
}

/// `POST /c/{id}/promotion`: applies a promotion code typed on the page (when the link or
/// session allows codes), then shows the page again with the new total. Every code tried
/// counts against the session's and the client address's allowance ([`code_attempts`]),
/// so codes cannot be found by trying many; a code that does not exist and one that does
/// not apply get the same answer.
pub async fn apply_promotion(req: PageRequest, ctx: &Ctx, id: &str) -> worker::Result<Response> {
    let asked = frame_asked(&req);
    let Some(page) = load(ctx, id).await else {
        return pages::message_in(&asked.unowned(), Locale::En, 404, Text::LinkNotFound);
    };
    let frame = page.frame(&asked);
    let session = &page.session;
    let locale = locale_of(&req, session);
    if let Some(response) = closed_page(&page, locale, &frame) {
        return response;
    }
    let form = Form::read(&req);
    if !form.csrf_matches(&session.csrf_token) || !session.allow_promotion_codes {
        return pages::message_in(&frame, locale, 403, Text::SessionExpired);
    }
    let typed = form.text("code");
    let again = |status: u16, text: Text| {
        let entered = Entered {
            values: Map::from_iter([("code".to_owned(), json!(typed))]),
            error: Some(locale.text(text).to_owned()),
        };
        form_page(status, &page, locale, &entered, &frame)
    };
    let Ok(db) = db::db(ctx) else {
        return pages::message_in(&frame, locale, 500, Text::ProcessingError);
    };
    match code_attempts::count(&db, session.id.as_str(), &client_key(&req)).await {
        Ok(Attempted::Counted) => {}
        Ok(Attempted::TooMany) => return again(429, Text::TooManyPromotionCodes),
        Err(_) => return pages::message_in(&frame, locale, 500, Text::ProcessingError),
    }
    let Some((code, discount)) = promotion_discount(ctx, session, &typed).await else {
        return again(422, Text::InvalidPromotion);
    };
    if sessions::apply_promotion(&db, session.id.as_str(), &code, discount)
        .await
        .is_err()
    {
        return pages::message_in(&frame, locale, 500, Text::ProcessingError);
    }
    let response = Response::empty()?.with_status(303);
    let location = format!("/c/{}{}", session.id.as_str(), frame.query());
    response.headers().set("Location", &location)?;
    Ok(response)
}

/// The code as stored and what it takes off the session's lines now; `None` when it does
/// not exist, cannot be used, or takes nothing off.
async fn promotion_discount(
    ctx: &Ctx,
    session: &CheckoutSession,
    code: &str,
) -> Option<(String, i64)> {
    let promotion = find_by_code(ctx, &session.account_id, session.environment.as_str(), code)
        .await
        .ok()
        .flatten()?;
    if !session.mode.charges() {
        return None;
    }
    match promotion.discount_on(&session.lines, db::now_unix()) {
        Ok(Ok(off)) if off > 0 => Some((promotion.code, off)),
        _ => None,
    }
}

/// Where a completed session sends the shopper: 303 to the success URL with the session id
/// filled in, or the hosted confirmation (with the merchant's message, if any).
///
/// Inside the overlay the confirmation is always shown in the frame and reported to the
/// merchant page as `success` with the session id and the success URL (if any): the page
/// decides whether to go there (the merchant's site may refuse to be framed).
fn finished(page: &PageSession, locale: Locale, frame: &Frame) -> worker::Result<Response> {
    let session = &page.session;
    let (custom_message, success_url) = match destination(
        session.success_url.as_deref(),
        session.after_completion.as_ref(),
        session.id.as_str(),
        frame.parent.is_some(),
    ) {
        Destination::Redirect(location) => {
            let response = Response::empty()?.with_status(303);
            response.headers().set("Location", &location)?;
            response.headers().set("Cache-Control", "no-store")?;
            return Ok(response);
        }
        Destination::Confirmation {
            custom_message,
            success_url,
        } => (custom_message, success_url),
    };
    let view = ConfirmationView {
        merchant_name: page.merchant_name.clone(),
        brand: page.brand.clone(),
        message: custom_message,
        total: page.money(session.amounts.total),
        session_id: session.id.as_str().to_owned(),
        success_url,
    };
    pages::checkout::confirmation(frame, locale, &view)
}
