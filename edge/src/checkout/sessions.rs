//! Checkout sessions: one shopper's attempt to pay (PAYMENT), subscribe (SUBSCRIPTION) or
//! save a card (SETUP), priced when created and shown on the hosted page at its `url`.
//!
//! Here: the row, parsed once into [`CheckoutSession`]; the object the API renders (which
//! is also every checkout event's `data`); the session's statements; and the API's
//! handlers. Opening a session is [`crate::checkout::open::open`].

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::catalog::Prefill;
use till_shared::checkout::{
    AddressCollection, Amounts, CustomField, CustomerCreation, SessionStatus,
};
use till_shared::hosts::AllowedHosts;
use till_shared::ids::CheckoutSessionId;
use till_shared::keys::{Environment, KeyKind};
use till_shared::money::Currency;
use till_shared::params::{Params, validate_redirect_url};
use till_shared::plan::CheckoutMode;
use till_shared::pricing::LineItem;
use till_shared::redirect::AfterCompletion;
use till_shared::time::parse_request_time;
use worker::{D1Database, D1PreparedStatement};

use crate::accounts::settings;
use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::checkout::code_attempts::{self, Attempted};
use crate::checkout::open::{self, NewCheckout, PromotionCode, Seller, Sold};
use crate::ctx::Ctx;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Principal, Sql};
use crate::error::{ApiError, ApiResult};
use crate::links::payment_links;

/// A session as D1 returns it; read only through [`SessionRow::parse`].
#[derive(Deserialize)]
pub struct SessionRow {
    id: String,
    account_id: String,
    environment: String,
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
    order_id: Option<String>,
    subscription_id: Option<String>,
    customer_id: Option<String>,
    setup_intent_id: Option<String>,
    expires_at: i64,
    created_at: i64,
    completed_at: Option<i64>,
    csrf_token: String,
    custom_fields: String,
    billing_address_collection: String,
    customer_creation: String,
    allow_promotion_codes: i64,
    after_completion: Option<String>,
    utm: Option<String>,
    failed_attempts: i64,
    pending_payment: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    /// Present when the statement joins the session's account (the hosted page).
    #[serde(default)]
    merchant_name: Option<String>,
    /// Likewise: the account's logo and accent colour.
    #[serde(default)]
    brand_logo_url: Option<String>,
    #[serde(default)]
    brand_color: Option<String>,
    /// Likewise: the account's allowed hosts in the session's environment.
    #[serde(default)]
    allowed_redirect_hosts: Option<String>,
    /// Likewise: the publishable key of the environment's Stripe connection, if any.
    #[serde(default)]
    stripe_publishable_key: Option<String>,
}

/// A checkout session, typed.
#[derive(Debug, Clone)]
pub struct CheckoutSession {
    pub id: CheckoutSessionId,
    pub account_id: String,
    pub environment: Environment,
    pub mode: CheckoutMode,
    pub status: SessionStatus,
    pub payment_link_id: Option<String>,
    pub lines: Vec<LineItem>,
    pub currency: Currency,
    pub amounts: Amounts,
    pub promotion_code: Option<String>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub client_reference_id: Option<String>,
    pub locale: Option<String>,
    pub metadata: Option<Value>,
    pub order_id: Option<String>,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
    pub setup_intent_id: Option<String>,
    pub expires_at: i64,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// The hosted page's form token.
    pub csrf_token: String,
    /// What the session's link asks of the shopper.
    pub custom_fields: Vec<CustomField>,
    pub billing_address_collection: AddressCollection,
    pub customer_creation: CustomerCreation,
    pub after_completion: Option<AfterCompletion>,
    /// Whether the hosted page offers a promotion code field.
    pub allow_promotion_codes: bool,
    pub utm: Option<Value>,
    pub failed_attempts: i64,
    /// A payment waiting for the shopper's 3-D Secure answer.
    pub pending_payment: Option<Value>,
    /// The Worker's origin when the session was opened: its events' `url` when no
    /// request is there to say (the cron). `None` for sessions older than the column.
    pub origin: Option<String>,
}

/// An environment as rows store it.
pub fn environment(text: &str) -> ApiResult<Environment> {
    match text {
        "SANDBOX" => Ok(Environment::Sandbox),
        "PRODUCTION" => Ok(Environment::Production),
        _ => Err(ApiError::internal(format!("unknown environment {text}"))),
    }
}

/// Stored JSON that is absent or `null` is nothing.
fn stored_json(text: Option<&str>) -> Option<Value> {
    Some(db::parse_json(text)).filter(|v| !v.is_null())
}

impl SessionRow {
    /// The row, typed; the one place its strings and flags are read.
    pub fn parse(self) -> ApiResult<CheckoutSession> {
        let bad = |what: &str| ApiError::internal(format!("session {}: bad {what}", self.id));
        let mode = CheckoutMode::parse(&self.mode).ok_or_else(|| bad("mode"))?;
        let status = SessionStatus::parse(&self.status).ok_or_else(|| bad("status"))?;
        let currency = Currency::parse(&self.currency).map_err(|_| bad("currency"))?;
        let id = CheckoutSessionId::parse(&self.id).map_err(|_| bad("id"))?;
        let lines = serde_json::from_str(&self.line_items).map_err(|_| bad("line_items"))?;
        let custom_fields =
            serde_json::from_str(&self.custom_fields).map_err(|_| bad("custom_fields"))?;
        Ok(CheckoutSession {
            id,
            environment: environment(&self.environment)?,
            mode,
            status,
            lines,
            currency,
            amounts: Amounts {
                subtotal: self.amount_subtotal,
                discount: self.amount_discount,
                total: self.amount_total,
            },
            custom_fields,
            metadata: stored_json(self.metadata.as_deref()),
            utm: stored_json(self.utm.as_deref()),
            pending_payment: stored_json(self.pending_payment.as_deref()),
            after_completion: AfterCompletion::from_stored(self.after_completion.as_deref()),
            billing_address_collection: AddressCollection::parse(&self.billing_address_collection),
            customer_creation: CustomerCreation::parse(&self.customer_creation),
            allow_promotion_codes: self.allow_promotion_codes == 1,
            account_id: self.account_id,
            payment_link_id: self.payment_link_id,
            promotion_code: self.promotion_code,
            success_url: self.success_url,
            cancel_url: self.cancel_url,
            customer_email: self.customer_email,
            customer_name: self.customer_name,
            client_reference_id: self.client_reference_id,
            locale: self.locale,
            order_id: self.order_id,
            subscription_id: self.subscription_id,
            customer_id: self.customer_id,
            setup_intent_id: self.setup_intent_id,
            expires_at: self.expires_at,
            created_at: self.created_at,
            completed_at: self.completed_at,
            csrf_token: self.csrf_token,
            failed_attempts: self.failed_attempts,
            origin: self.origin,
        })
    }
}

impl CheckoutSession {
    /// Where its events belong.
    pub fn scope(&self) -> Scope<'_> {
        Scope {
            account_id: &self.account_id,
            environment: self.environment.as_str(),
        }
    }

    /// The same session once expired.
    pub fn expired(&self) -> CheckoutSession {
        CheckoutSession {
            status: SessionStatus::Expired,
            ..self.clone()
        }
    }
}

/// The session as the API shows it, and as its events carry it. `origin` is where the
/// hosted page is served (empty: the `url` is a path on the Worker's own origin).
pub fn render(session: &CheckoutSession, origin: &str) -> ApiResult<Value> {
    let s = session;
    Ok(json!({
        "id": s.id.as_str(),
        "object": "checkout.session",
        "url": format!("{origin}/c/{}", s.id.as_str()),
        "status": s.status.as_str(),
        "payment_status": s.status.payment_status(s.mode),
        "mode": s.mode.as_str(),
        "currency": s.currency.code(),
        "amount_subtotal": s.amounts.subtotal,
        "amount_discount": s.amounts.discount,
        "amount_total": s.amounts.total,
        "line_items": serde_json::to_value(&s.lines)?,
        "payment_link": s.payment_link_id,
        "promotion_code": s.promotion_code,
        "success_url": s.success_url,
        "cancel_url": s.cancel_url,
        "customer_email": s.customer_email,
        "customer_name": s.customer_name,
        "customer": s.customer_id,
        "customer_details": {"email": s.customer_email, "name": s.customer_name},
        "client_reference_id": s.client_reference_id,
        "allow_promotion_codes": s.allow_promotion_codes,
        "locale": s.locale,
        "metadata": s.metadata,
        "order_id": s.order_id,
        "subscription_id": s.subscription_id,
        "setup_intent_id": s.setup_intent_id,
        // The hosted-checkout guide's sample reads these camelCase names.
        "orderId": s.order_id,
        "subscriptionId": s.subscription_id,
        "livemode": s.environment == Environment::Production,
        "environment": s.environment.as_str(),
        "expires_at": iso(s.expires_at)?,
        "created_at": iso(s.created_at)?,
        "completed_at": s.completed_at.map(iso).transpose()?,
    }))
}

/// A session as its hosted page needs it: with its merchant's name and what the merchant
/// allows (who may frame the page).
pub struct Hosted {
    pub session: CheckoutSession,
    pub merchant_name: String,
    /// The merchant's logo and accent colour, as its pages show them.
    pub brand: String,
    pub allowed_hosts: AllowedHosts,
    /// The environment's Stripe, when connected: its publishable key.
    pub stripe_publishable_key: Option<String>,
}

/// A session by id, in any account (the hosted page's lookup), with its merchant's name,
/// allowed hosts and Stripe connection, in one read.
pub async fn find_hosted(ctx: &Ctx, id: &str) -> ApiResult<Option<Hosted>> {
    let row: Option<SessionRow> = Sql::new(
        "SELECT s.*, coalesce(e.brand_name, a.name) AS merchant_name, e.brand_logo_url, e.brand_color,
                e.allowed_redirect_hosts,
                pc.publishable_key AS stripe_publishable_key
         FROM checkout_sessions s JOIN accounts a ON a.id = s.account_id
           LEFT JOIN environment_settings e
             ON e.account_id = s.account_id AND e.environment = s.environment
           LEFT JOIN processor_connections pc
             ON pc.account_id = s.account_id AND pc.environment = s.environment
         WHERE s.id = :id",
    )
    .bind("id", id)
    .prepare(&db::db(ctx)?)?
    .first(None)
    .await?;
    row.map(|mut row| {
        let merchant_name = row.merchant_name.take().unwrap_or_default();
        let brand = crate::pages::brand(row.brand_logo_url.as_deref(), row.brand_color.as_deref());
        let allowed_hosts = AllowedHosts::from_stored(row.allowed_redirect_hosts.take().as_deref());
        let stripe_publishable_key = row.stripe_publishable_key.take();
        Ok(Hosted {
            session: row.parse()?,
            merchant_name,
            brand,
            allowed_hosts,
            stripe_publishable_key,
        })
    })
    .transpose()
}

/// Whether a session with this id exists (in any account).
pub async fn exists(ctx: &Ctx, id: &str) -> ApiResult<bool> {
    let found: Option<i64> = Sql::new("SELECT 1 AS one FROM checkout_sessions WHERE id = :id")
        .bind("id", id)
        .prepare(&db::db(ctx)?)?
        .first(Some("one"))
        .await?;
    Ok(found.is_some())
}

/// A session of the caller's, or 404.
pub async fn load(call: &Call<'_>, id: &str) -> ApiResult<CheckoutSession> {
    let principal = call.principal()?;
    let row: Option<SessionRow> = Sql::new(
        "SELECT * FROM checkout_sessions WHERE id = :id AND account_id = :account AND environment = :environment",
    )
    .bind("id", id)
    .bind("account", principal.account_id.as_str())
    .bind("environment", principal.environment.as_str())
    .prepare(&db::db(call.ctx)?)?
    .first(None)
    .await?;
    row.ok_or_else(|| ApiError::not_found("checkout session", id, None))?
        .parse()
}

/// The promotion code typed on the hosted page goes on the session with what it takes off
/// (`discount`), only while no payment holds the session: the amount a reservation charges
/// never changes under it.
pub async fn apply_promotion(
    db: &D1Database,
    id: &str,
    code: &str,
    discount: i64,
) -> ApiResult<()> {
    Sql::new(
        "UPDATE checkout_sessions SET promotion_code = :code, amount_discount = :discount,
             amount_total = amount_subtotal - :discount
         WHERE id = :id AND status = 'OPEN' AND reservation IS NULL AND allow_promotion_codes = 1",
    )
    .bind("code", code)
    .bind("discount", discount)
    .bind("id", id)
    .prepare(db)?
    .run()
    .await?;
    Ok(())
}

/// Takes `code` off an open session that no payment holds (the code can no longer be
/// used): the session costs its subtotal again.
pub async fn withdraw_promotion(db: &D1Database, id: &str, code: &str) -> ApiResult<()> {
    Sql::new(
        "UPDATE checkout_sessions SET promotion_code = NULL, amount_discount = 0,
             amount_total = amount_subtotal
         WHERE id = :id AND status = 'OPEN' AND reservation IS NULL AND promotion_code = :code",
    )
    .bind("id", id)
    .bind("code", code)
    .prepare(db)?
    .run()
    .await?;
    Ok(())
}

/// A payment link's session is written only while the link (in D1, whatever a cache
/// says) is active, not deleted and not exhausted, counting payments in flight.
const LINK_CAN_SELL: &str = "WHERE EXISTS (SELECT 1 FROM payment_links WHERE id = :payment_link
     AND active = 1 AND deleted = 0
     AND (max_completions IS NULL OR completed_count + reserved_count < max_completions)
     AND (multiple = 1 OR completed_count + reserved_count = 0))";

/// The INSERT of a new session; from a link, guarded by [`LINK_CAN_SELL`].
pub fn insert(db: &D1Database, s: &CheckoutSession) -> ApiResult<D1PreparedStatement> {
    let guard = if s.payment_link_id.is_some() {
        LINK_CAN_SELL
    } else {
        ""
    };
    let text = |value: &Option<Value>| db::json_text(value.as_ref());
    Sql::new(&format!(
        "INSERT INTO checkout_sessions (id, account_id, environment, mode, line_items, currency, amount_subtotal,
             amount_discount, amount_total, promotion_code, success_url, cancel_url, customer_email, customer_name,
             client_reference_id, locale, metadata, expires_at, created_at, payment_link_id, csrf_token, custom_fields,
             billing_address_collection, customer_creation, after_completion, utm, allow_promotion_codes, origin)
         SELECT :id, :account, :environment, :mode, :line_items, :currency, :subtotal, :discount, :total,
                :promotion_code, :success_url, :cancel_url, :customer_email, :customer_name,
                :client_reference_id, :locale, :metadata, :expires_at, :created_at, :payment_link, :csrf,
                :custom_fields, :address_collection, :customer_creation, :after_completion, :utm,
                :allow_promotion_codes, :origin
         {guard}"
    ))
    .bind("id", s.id.as_str())
    .bind("account", s.account_id.as_str())
    .bind("environment", s.environment.as_str())
    .bind("mode", s.mode.as_str())
    .bind("line_items", serde_json::to_string(&s.lines)?)
    .bind("currency", s.currency.code())
    .bind("subtotal", s.amounts.subtotal)
    .bind("discount", s.amounts.discount)
    .bind("total", s.amounts.total)
    .bind("promotion_code", s.promotion_code.clone())
    .bind("success_url", s.success_url.clone())
    .bind("cancel_url", s.cancel_url.clone())
    .bind("customer_email", s.customer_email.clone())
    .bind("customer_name", s.customer_name.clone())
    .bind("client_reference_id", s.client_reference_id.clone())
    .bind("locale", s.locale.clone())
    .bind("metadata", text(&s.metadata))
    .bind("expires_at", s.expires_at)
    .bind("created_at", s.created_at)
    .bind("payment_link", s.payment_link_id.clone())
    .bind("csrf", s.csrf_token.as_str())
    .bind("custom_fields", serde_json::to_string(&s.custom_fields)?)
    .bind("address_collection", s.billing_address_collection.as_str())
    .bind("customer_creation", s.customer_creation.as_str())
    .bind(
        "after_completion",
        s.after_completion
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    )
    .bind("utm", text(&s.utm))
    .bind("allow_promotion_codes", s.allow_promotion_codes)
    .bind("origin", s.origin.clone())
    .prepare(db)
}

/// An open session with no payment in flight: the only kind that may expire.
const STILL_OPEN: &str = "status = 'OPEN' AND reservation IS NULL";

/// Expires `session` if it is still open with no payment in flight, and writes its
/// `checkout.expired` (the session as GET at `origin` shows it then) only if it did. With
/// `due`, only if its time has come by then. The event's fan-out is left to the caller.
fn expire_statements(
    db: &D1Database,
    session: &CheckoutSession,
    due: Option<i64>,
    origin: &str,
    now: i64,
) -> ApiResult<[D1PreparedStatement; 2]> {
    let update = Sql::new(&format!(
        "UPDATE checkout_sessions SET status = 'EXPIRED'
         WHERE id = :id AND {STILL_OPEN} AND (:due IS NULL OR expires_at <= :due)"
    ))
    .bind("id", session.id.as_str())
    .bind("due", due)
    .prepare(db)?;
    let data = render(&session.expired(), origin)?;
    let event = Event {
        kind: "checkout.expired",
        object_id: session.id.as_str(),
        data: &data,
    };
    Ok([
        update,
        events::insert(db, session.scope(), event, now, Guard::Applied)?,
    ])
}

/// Expires up to `limit` due sessions, oldest due first, each with its event, in one
/// batch; a session that completed, took a payment or was expired meanwhile is left as
/// it is, and gets no event. Answers how many expired.
pub async fn expire_due(db: &D1Database, now: i64, limit: i64) -> ApiResult<usize> {
    let rows: Vec<SessionRow> = Sql::new(&format!(
        "SELECT * FROM checkout_sessions WHERE {STILL_OPEN} AND expires_at <= :now
         ORDER BY expires_at LIMIT :limit"
    ))
    .bind("now", now)
    .bind("limit", limit)
    .prepare(db)?
    .all()
    .await?
    .results()?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut statements = Vec::with_capacity(rows.len() * 2 + 1);
    for row in rows {
        // No request here: the event's `url` is on the origin the session was opened on.
        let session = row.parse()?;
        let origin = session.origin.clone().unwrap_or_default();
        statements.extend(expire_statements(db, &session, Some(now), &origin, now)?);
    }
    statements.push(events::fan_out(db, now)?);
    let results = db.batch(statements).await?;
    Ok((0..results.len())
        .step_by(2)
        .filter(|&i| db::changes(&results, i) == 1)
        .count())
}

/// Deletes at most `limit` expired sessions that ended before `cutoff`: expired, past both
/// their creation and their expiry time, holding no reservation (the cron gives abandoned
/// ones back first) and without an order. Answers how many went.
pub async fn forget_expired(db: &D1Database, cutoff: i64, limit: i64) -> ApiResult<usize> {
    db::run(
        Sql::new(
            "DELETE FROM checkout_sessions WHERE id IN (
                 SELECT s.id FROM checkout_sessions s
                 WHERE s.status = 'EXPIRED' AND s.expires_at < :cutoff AND s.created_at < :cutoff
                   AND s.reservation IS NULL
                   AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.checkout_session_id = s.id)
                 ORDER BY s.expires_at LIMIT :limit)",
        )
        .bind("cutoff", cutoff)
        .bind("limit", limit)
        .prepare(db)?,
    )
    .await
}

/// What a create request names as sold: exactly one of a product (by id or slug), a
/// price, or line items still to price.
enum Asked {
    Sold(Sold),
    LineItems(Vec<Params>),
}

fn read_asked(p: &mut Params) -> ApiResult<Option<Asked>> {
    let product_id = p.string("product_id", 100)?;
    let product_slug = p.string("product_slug", 64)?;
    let price_id = p.string("price_id", 100)?.or(p.string("price", 100)?);
    let line_items = p.objects("line_items", 20)?;
    Ok(match (product_id, product_slug, price_id, line_items) {
        (Some(id), None, None, None) => Some(Asked::Sold(Sold::Product(id))),
        (None, Some(slug), None, None) => Some(Asked::Sold(Sold::ProductSlug(slug))),
        (None, None, Some(id), None) => Some(Asked::Sold(Sold::Price(id))),
        (None, None, None, Some(items)) => Some(Asked::LineItems(items)),
        _ => None,
    })
}

/// `success_url` or `cancel_url`: an absolute URL (http on localhost only in SANDBOX).
fn read_redirect(p: &mut Params, field: &str, sandbox: bool) -> ApiResult<Option<String>> {
    p.string(field, 2048)?
        .map(|u| validate_redirect_url(&u, sandbox).map_err(|m| ApiError::invalid(field, m)))
        .transpose()
}

/// A create request, read: what it asks to sell, and the rest of the checkout (a
/// publishable key's promotion code is refused without saying why).
fn read_create(
    p: &mut Params,
    sandbox: bool,
    publishable: bool,
) -> ApiResult<(Asked, NewCheckout)> {
    let asked = read_asked(p)?;
    let mode = p.one_of("mode", &CheckoutMode::ALL.map(CheckoutMode::as_str))?;
    let success_url = read_redirect(p, "success_url", sandbox)?;
    let cancel_url = read_redirect(p, "cancel_url", sandbox)?;
    let email = p.string("customer_email", 254)?;
    let name = p.string("customer_name", 200)?;
    let metadata = p.metadata("metadata")?;
    let promotion_code = p.string("promotion_code", 64)?;
    let locale = p.string("locale", 10)?;
    let client_reference_id = p.string("client_reference_id", 200)?;
    let allow_promotion_codes = p.boolean("allow_promotion_codes")?.unwrap_or(false);
    let expires_at = p
        .raw("expires_at")
        .map(|value| parse_request_time(&value))
        .transpose()
        .map_err(|e| ApiError::invalid("expires_at", e.to_string()))?;
    let asked = asked.ok_or_else(|| {
        ApiError::invalid(
            "product_id",
            "Send exactly one of productId, productSlug, price_id or line_items.",
        )
    })?;
    let checkout = NewCheckout {
        mode: mode.and_then(CheckoutMode::parse),
        prefill: Prefill {
            email,
            name,
            client_reference_id,
            locale,
        },
        success_url,
        cancel_url,
        promotion: match (promotion_code, publishable) {
            (None, _) => PromotionCode::None,
            (Some(code), false) => PromotionCode::Requested(code),
            (Some(code), true) => PromotionCode::RequestedPublicly(code),
        },
        allow_promotion_codes,
        metadata: metadata.map(Value::Object),
        expires_at,
        ..NewCheckout::default()
    };
    Ok((asked, checkout))
}

/// Only a secret key may attach metadata.
fn refuse_publishable_metadata(principal: &Principal, p: &Params) -> ApiResult<()> {
    if principal.key_kind == KeyKind::Publishable && p.has("metadata") {
        return Err(ApiError::Client {
            code: till_shared::api::ErrorCode::Forbidden,
            message: "metadata can only be set with a secret key.".into(),
            param: Some("metadata".into()),
        });
    }
    Ok(())
}

/// With a publishable key (a page's, public by design), the shopper may be sent only to
/// the account's own sites: else anyone could mint a genuine checkout URL whose cancel
/// link and success redirect lead elsewhere. A secret key sets any redirect.
async fn refuse_foreign_redirects(call: &Call<'_>, checkout: &NewCheckout) -> ApiResult<()> {
    let principal = call.principal()?;
    if principal.key_kind != KeyKind::Publishable {
        return Ok(());
    }
    let urls = [
        ("success_url", checkout.success_url.as_deref()),
        ("cancel_url", checkout.cancel_url.as_deref()),
    ];
    if urls.iter().all(|(_, url)| url.is_none()) {
        return Ok(());
    }
    let hosts = settings::allowed_hosts(call.ctx, principal.seller()).await?;
    let sandbox = call.sandbox();
    match urls
        .into_iter()
        .find(|(_, url)| url.is_some_and(|u| !hosts.allows_redirect(u, sandbox)))
    {
        Some((field, _)) => Err(ApiError::Client {
            code: till_shared::api::ErrorCode::Forbidden,
            message: format!(
                "With a publishable key, {field} must be on one of the account's \
                 {}, set with PATCH /v1/account and a secret key.",
                settings::FIELD
            ),
            param: Some(field.into()),
        }),
        None => Ok(()),
    }
}

/// With a publishable key, every code asked for counts against the caller's address like a
/// code typed on the page ([`code_attempts`]): past the allowance the code is not even
/// looked up, so codes cannot be found by asking for many sessions.
async fn refuse_code_guessing(call: &Call<'_>, checkout: &NewCheckout) -> ApiResult<()> {
    if !matches!(checkout.promotion, PromotionCode::RequestedPublicly(_)) {
        return Ok(());
    }
    let client = code_attempts::client_key(call.client_address.as_deref());
    match code_attempts::count_unopened(&db::db(call.ctx)?, &client).await? {
        Attempted::Counted => Ok(()),
        Attempted::TooMany => Err(ApiError::Client {
            code: till_shared::api::ErrorCode::RateLimited,
            message: "Too many promotion codes were tried from this address. Try again later, or \
                      create the session without a code."
                .into(),
            param: Some("promotion_code".into()),
        }),
    }
}

/// `POST /v1/checkout/sessions`.
pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let sandbox = call.sandbox();
    let mut p = call.params()?;
    refuse_publishable_metadata(call.principal()?, &p)?;
    let (asked, mut checkout) = read_create(&mut p, sandbox, call.publishable())?;
    p.finish()?;
    refuse_foreign_redirects(call, &checkout).await?;
    refuse_code_guessing(call, &checkout).await?;
    checkout.origin = call.origin.clone();
    let sold = match asked {
        Asked::Sold(sold) => sold,
        Asked::LineItems(items) => Sold::Lines(payment_links::price_lines(call, items).await?),
    };
    let principal = call.principal()?;
    let seller = Seller {
        account_id: &principal.account_id,
        environment: principal.environment,
    };
    let session = open::open(call.ctx, seller, sold, checkout)
        .await
        .map_err(open::Refused::into_api_error)?;
    Ok(Reply::created(render(&session, &call.origin)?))
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(
        &load(call, call.id()?).await?,
        &call.origin,
    )?))
}

pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    if let Some(status) = call.query("status") {
        filters.push(Filter::eq("status = :status", status.to_ascii_uppercase()));
    }
    if let Some(link) = call.query("payment_link") {
        filters.push(Filter::eq("payment_link_id = :link", link));
    }
    let origin = call.origin.clone();
    Ok(Reply::ok(
        crate::api::list::list(
            call,
            "checkout_sessions_view",
            filters,
            |row: SessionRow| render(&row.parse()?, &origin),
        )
        .await?,
    ))
}

/// `POST /v1/checkout/sessions/{id}/expire`: an open session with no payment in flight
/// expires now, with its event in the same batch.
pub async fn expire(call: &mut Call<'_>) -> ApiResult<Reply> {
    let session = load(call, call.id()?).await?;
    let db = db::db(call.ctx)?;
    let now = db::now_unix();
    let [update, event] = expire_statements(&db, &session, None, &call.origin, now)?;
    let results = db
        .batch(vec![update, event, events::fan_out(&db, now)?])
        .await?;
    if db::changes(&results, 0) == 0 {
        return Err(ApiError::conflict(
            "id",
            format!(
                "Only OPEN sessions can be expired; this one is {}.",
                session.status.as_str()
            ),
        ));
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(&session.expired(), &call.origin)?))
}
