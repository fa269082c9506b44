//! Opening a checkout session: the one use case behind `POST /v1/checkout/sessions`,
//! `/b/{product}` and payment links. A link's session is opened when the shopper's browser
//! first loads the page a short-link visit redirected to (redeeming the visit's signed
//! ticket), or, on a Worker with no operator token to sign tickets with, during the visit
//! itself.

use serde_json::{Map, Value};
use till_shared::catalog::Prefill;
use till_shared::checkout::{
    AddressCollection, Amounts, CheckoutRefusal, CustomField, CustomerCreation, SessionStatus,
    check_shopper, expiry, mode_for,
};
use till_shared::ids::{CheckoutSessionId, random_base62};
use till_shared::links::Unavailable;
use till_shared::money::Currency;
use till_shared::plan::CheckoutMode;
use till_shared::pricing::LineItem;
use till_shared::promotion::{NOT_USABLE_HERE, PromotionError};
use till_shared::redirect::AfterCompletion;
use till_shared::ticket::TicketError;
use worker::Response;

use crate::accounts::settings::{self, Allowed};
use crate::api::reply::Dialect;
use crate::catalog::lines::promotion_refused;
use crate::catalog::promotion_codes::find_by_code;
use crate::catalog::{prices, products};
use crate::checkout::sessions::{self, CheckoutSession};
use crate::ctx::Ctx;
use crate::db::{self, Sql};
use crate::error::{ApiError, ApiResult};
use crate::links::payment_links::{LinkRow, subtotal};
use crate::links::shortlinks::{self, Unsigned, refresh, signer};
use crate::pages;

pub use crate::db::Seller;

/// What a checkout sells.
pub enum Sold {
    /// A product's default price, by the product's id.
    Product(String),
    /// A product's default price, by the product's slug.
    ProductSlug(String),
    Price(String),
    /// Lines already priced (an API call's `line_items`, a payment link's lines).
    Lines(Vec<LineItem>),
}

/// How a promotion code comes to a checkout.
#[derive(Default)]
pub enum PromotionCode {
    #[default]
    None,
    /// Asked for with a secret key: refused when it does not exist or does not apply,
    /// saying which.
    Requested(String),
    /// Asked for with a publishable key (public by design): refused in the same words
    /// whether it does not exist or does not apply, so the key cannot tell which codes an
    /// account has.
    RequestedPublicly(String),
    /// Offered by a payment link: applied when it takes something off, else left out.
    Offered(String),
}

/// What a payment link gives the sessions it opens.
pub struct FromLink {
    pub id: String,
    pub custom_fields: Vec<CustomField>,
    pub billing_address_collection: AddressCollection,
    pub customer_creation: CustomerCreation,
    pub after_completion: Option<AfterCompletion>,
    /// Views counted with the session (none when the visit counted its own).
    pub views: i64,
}

/// Everything a checkout is opened with, besides what it sells.
#[derive(Default)]
pub struct NewCheckout {
    /// The id a short-link visit promised; a new one otherwise.
    pub id: Option<CheckoutSessionId>,
    /// `None`: as the lines need (SUBSCRIPTION when one is recurring).
    pub mode: Option<CheckoutMode>,
    pub prefill: Prefill,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub promotion: PromotionCode,
    pub allow_promotion_codes: bool,
    pub metadata: Option<Value>,
    /// `None`: in 24 hours.
    pub expires_at: Option<i64>,
    pub link: Option<FromLink>,
    pub utm: Option<Value>,
    /// The Worker's origin as the request saw it.
    pub origin: String,
}

/// Why no session was opened.
#[derive(Debug)]
pub enum Refused {
    /// A checkout rule refused the request.
    Rule(CheckoutRefusal),
    /// What the request names cannot be sold (no such product, an archived one, a
    /// promotion code that does not apply, …): the API's answer.
    Invalid(ApiError),
    /// D1 refused the session: the link stopped being payable.
    LinkUnavailable,
    /// Something went wrong inside.
    Failed(ApiError),
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Client { .. } => Refused::Invalid(error),
            ApiError::Internal(_) => Refused::Failed(error),
        }
    }
}

impl From<CheckoutRefusal> for Refused {
    fn from(refusal: CheckoutRefusal) -> Self {
        Refused::Rule(refusal)
    }
}

impl From<worker::Error> for Refused {
    fn from(error: worker::Error) -> Self {
        Refused::Failed(error.into())
    }
}

impl Refused {
    /// The API's answer.
    pub fn into_api_error(self) -> ApiError {
        match self {
            Refused::Rule(refusal) if refusal.conflicts() => {
                ApiError::conflict(refusal.param(), refusal.to_string())
            }
            Refused::Rule(refusal) => ApiError::invalid(refusal.param(), refusal.to_string()),
            Refused::Invalid(error) | Refused::Failed(error) => error,
            Refused::LinkUnavailable => ApiError::internal("a session without a link was refused"),
        }
    }
}

/// Opens a checkout session: checks the request, prices what is sold, applies the
/// promotion, and stores the session (from a link, only while D1 says the link can sell,
/// counting the session and its view in the same batch). Answers the session as stored.
pub async fn open(
    ctx: &Ctx,
    seller: Seller<'_>,
    sold: Sold,
    checkout: NewCheckout,
) -> Result<CheckoutSession, Refused> {
    let now = db::now_unix();
    check_shopper(
        checkout.prefill.email.as_deref(),
        checkout.prefill.locale.as_deref(),
    )?;
    let expires_at = expiry(checkout.expires_at, now)?;
    let lines = price(ctx, seller, sold).await?;
    let mode = mode_for(checkout.mode, &lines)?;
    let subtotal = subtotal(&lines)?;
    let (promotion_code, discount) =
        promotion(ctx, seller, &checkout.promotion, mode, &lines, now).await?;
    let priced = Priced {
        mode,
        currency: subtotal.currency(),
        amounts: Amounts::of(mode, subtotal.amount(), discount),
        lines,
        promotion_code,
        expires_at,
        now,
    };
    let views = checkout.link.as_ref().map(|link| link.views);
    let session = checkout.into_session(seller, priced);
    store(ctx, &session, views).await?;
    Ok(session)
}

/// What [`open`] decided: the mode, the lines and what they cost, and when the session ends.
struct Priced {
    mode: CheckoutMode,
    lines: Vec<LineItem>,
    currency: Currency,
    amounts: Amounts,
    promotion_code: Option<String>,
    expires_at: i64,
    now: i64,
}

impl NewCheckout {
    /// The new session: what was asked for, as [`open`] priced it.
    fn into_session(self, seller: Seller<'_>, priced: Priced) -> CheckoutSession {
        let link = self.link;
        let Prefill {
            email,
            name,
            client_reference_id,
            locale,
        } = self.prefill;
        CheckoutSession {
            id: self.id.unwrap_or_else(CheckoutSessionId::generate),
            account_id: seller.account_id.to_owned(),
            environment: seller.environment,
            mode: priced.mode,
            status: SessionStatus::Open,
            payment_link_id: link.as_ref().map(|l| l.id.clone()),
            lines: priced.lines,
            currency: priced.currency,
            amounts: priced.amounts,
            promotion_code: priced.promotion_code,
            success_url: self.success_url,
            cancel_url: self.cancel_url,
            customer_email: email,
            customer_name: name,
            client_reference_id,
            locale,
            metadata: self.metadata,
            order_id: None,
            subscription_id: None,
            customer_id: None,
            setup_intent_id: None,
            expires_at: priced.expires_at,
            created_at: priced.now,
            completed_at: None,
            csrf_token: random_base62(32),
            custom_fields: link
                .as_ref()
                .map(|l| l.custom_fields.clone())
                .unwrap_or_default(),
            billing_address_collection: link
                .as_ref()
                .map(|l| l.billing_address_collection)
                .unwrap_or_default(),
            customer_creation: link
                .as_ref()
                .map(|l| l.customer_creation)
                .unwrap_or_default(),
            after_completion: link.and_then(|l| l.after_completion),
            allow_promotion_codes: self.allow_promotion_codes,
            utm: self.utm,
            origin: Some(self.origin).filter(|o| !o.is_empty()),
            failed_attempts: 0,
            pending_payment: None,
        }
    }
}

/// The lines `sold` names, priced from the seller's catalogue.
async fn price(ctx: &Ctx, seller: Seller<'_>, sold: Sold) -> Result<Vec<LineItem>, Refused> {
    // The line is named as the shopper knows it: the product's name.
    let (price, name) = match sold {
        Sold::Lines(lines) => return Ok(lines),
        Sold::Price(id) => {
            let price = prices::sellable(ctx, seller, &id, "price_id").await?;
            let product = products::find(ctx, seller, &price.product_id, Some("price_id")).await?;
            (price, product.name)
        }
        Sold::Product(id) => {
            let product = products::find(ctx, seller, &id, Some("product_id")).await?;
            let price = products::default_price(ctx, seller, &product, "product_id").await?;
            (price, product.name)
        }
        Sold::ProductSlug(slug) => {
            let product = products::find_by_slug(ctx, seller, &slug, "product_slug").await?;
            let price = products::default_price(ctx, seller, &product, "product_slug").await?;
            (price, product.name)
        }
    };
    Ok(vec![price.line(1, Some(name))?])
}

/// The promotion code the session keeps and what it takes off the lines.
async fn promotion(
    ctx: &Ctx,
    seller: Seller<'_>,
    code: &PromotionCode,
    mode: CheckoutMode,
    lines: &[LineItem],
    now: i64,
) -> Result<(Option<String>, i64), Refused> {
    let (code, requested, explained) = match code {
        PromotionCode::None => return Ok((None, 0)),
        PromotionCode::Requested(_) | PromotionCode::RequestedPublicly(_) if !mode.charges() => {
            return Err(CheckoutRefusal::PromotionOnSetup.into());
        }
        PromotionCode::Requested(code) => (code, true, true),
        PromotionCode::RequestedPublicly(code) => (code, true, false),
        PromotionCode::Offered(code) => (code, false, false),
    };
    let found = find_by_code(ctx, seller.account_id, seller.environment.as_str(), code).await?;
    let refused = |error: Option<PromotionError>| -> Refused {
        match error {
            // What the cart itself is (no line priced, mixed currencies) says nothing of
            // the code.
            Some(error @ (PromotionError::Pricing(_) | PromotionError::Malformed)) => {
                promotion_refused(error, "promotion_code").into()
            }
            _ if !explained => ApiError::invalid("promotion_code", NOT_USABLE_HERE).into(),
            Some(error) => promotion_refused(error, "promotion_code").into(),
            None => ApiError::not_found("promotion code", code, Some("promotion_code")).into(),
        }
    };
    let Some(row) = found else {
        if requested {
            return Err(refused(None));
        }
        return Ok((None, 0));
    };
    match row.discount_on(lines, now)? {
        Ok(off) if requested => Ok((Some(code.clone()), off)),
        Ok(off) => Ok((Some(code.clone()).filter(|_| off > 0), off)),
        Err(_) if !requested => Ok((None, 0)),
        Err(error) => Err(refused(Some(error))),
    }
}

/// Writes the session; from a link (`views`: the views to count with it), together with
/// the link's counters, and only while the link can sell.
async fn store(ctx: &Ctx, session: &CheckoutSession, views: Option<i64>) -> Result<(), Refused> {
    let db = db::db(ctx)?;
    let insert = sessions::insert(&db, session)?;
    let (Some(link), Some(views)) = (&session.payment_link_id, views) else {
        insert.run().await?;
        return Ok(());
    };
    let count = Sql::new(
        "UPDATE payment_links SET session_count = session_count + 1, view_count = view_count + :views
         WHERE id = :link AND EXISTS (SELECT 1 FROM checkout_sessions WHERE id = :session)",
    )
    .bind("views", views)
    .bind("link", link.as_str())
    .bind("session", session.id.as_str())
    .prepare(&db)?;
    let source = session
        .utm
        .as_ref()
        .and_then(|utm| utm.get("utm_source"))
        .and_then(Value::as_str);
    let day = till_links::views::count(
        &db,
        link.as_str(),
        source,
        views,
        Some(session.id.as_str()),
        session.created_at,
    )?;
    let results = db.batch(vec![insert, count, day]).await?;
    if db::changes(&results, 0) == 1 {
        Ok(())
    } else {
        Err(Refused::LinkUnavailable)
    }
}

/// The checkout a visit to `link` opens, with what the visit's query prefills.
fn link_checkout(
    link: &LinkRow,
    params: &[(String, String)],
    id: Option<CheckoutSessionId>,
    views: i64,
    origin: &str,
) -> NewCheckout {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let utm: Map<String, Value> = params
        .iter()
        .filter(|(k, _)| k.starts_with("utm_"))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    NewCheckout {
        id,
        prefill: Prefill::read(param),
        success_url: link.success_url.clone(),
        promotion: link
            .promotion_code
            .clone()
            .map_or(PromotionCode::None, PromotionCode::Offered),
        allow_promotion_codes: link.allow_promotion_codes,
        link: Some(FromLink {
            id: link.id.clone(),
            custom_fields: serde_json::from_str(&link.custom_fields).unwrap_or_default(),
            billing_address_collection: AddressCollection::parse(&link.billing_address_collection),
            customer_creation: CustomerCreation::parse(&link.customer_creation),
            after_completion: AfterCompletion::from_stored(link.after_completion.as_deref()),
            views,
        }),
        utm: (!utm.is_empty()).then_some(Value::Object(utm)),
        origin: origin.to_owned(),
        ..NewCheckout::default()
    }
}

/// The account and environment `link` sells in.
fn link_seller(link: &LinkRow) -> Seller<'_> {
    Seller {
        account_id: &link.account_id,
        environment: link.environment,
    }
}

/// Opens the session of a visit to `link`.
async fn open_from_link(
    ctx: &Ctx,
    link: &LinkRow,
    params: &[(String, String)],
    id: Option<CheckoutSessionId>,
    views: i64,
    origin: &str,
) -> Result<CheckoutSession, Refused> {
    let seller = link_seller(link);
    let lines = link.priced_lines();
    // The snapshot's lines, as the link was made: still for sale only while their prices
    // and products are.
    if !prices::all_sellable(ctx, seller, &lines).await? {
        return Err(Refused::LinkUnavailable);
    }
    let sold = Sold::Lines(lines);
    open(
        ctx,
        seller,
        sold,
        link_checkout(link, params, id, views, origin),
    )
    .await
}

/// What the checkout page got from a ticket for a session that does not exist yet.
pub enum Redeemed {
    /// The session exists now (made here, or by a concurrent load of the same page).
    Open,
    /// The ticket was good but the link cannot be paid now; with what its merchant allows,
    /// when the link exists.
    Unavailable(Unavailable, Option<Allowed>),
    /// No ticket, or one that is forged, altered or stale: nothing was created.
    Refused(TicketError),
}

/// A link by id, as D1 has it now.
async fn find_link(ctx: &Ctx, id: &str) -> ApiResult<Option<LinkRow>> {
    Ok(Sql::new("SELECT * FROM payment_links_view WHERE id = :id")
        .bind("id", id)
        .prepare(&db::db(ctx)?)?
        .first(None)
        .await?)
}

/// Why `link` cannot be paid, with what its merchant allows (for the page saying so).
async fn unavailable(ctx: &Ctx, link: &LinkRow, reason: Unavailable) -> Redeemed {
    let allowed = settings::allowed(ctx, link_seller(link)).await.ok();
    Redeemed::Unavailable(reason, allowed)
}

/// Creates the session a short-link visit promised (`/c/{session_id}?t={ticket}`): once,
/// only while D1 says the link is payable, with the view and the session counted in the
/// same batch.
pub async fn redeem(
    ctx: &Ctx,
    session_id: &str,
    sealed: &str,
    origin: &str,
) -> ApiResult<Redeemed> {
    let Some(signer) = signer(ctx) else {
        return Ok(Redeemed::Refused(TicketError::Forged));
    };
    let ticket = match signer.open(session_id, sealed, db::now_unix()) {
        Ok(ticket) => ticket,
        Err(error) => return Ok(Redeemed::Refused(error)),
    };
    let Ok(id) = CheckoutSessionId::parse(session_id) else {
        return Ok(Redeemed::Refused(TicketError::Forged));
    };
    let Some(link) = find_link(ctx, &ticket.link_id).await? else {
        return Ok(Redeemed::Unavailable(Unavailable::NotFound, None));
    };
    if let Some(reason) = link.state().payability().unavailable() {
        return Ok(unavailable(ctx, &link, reason).await);
    }
    match open_from_link(ctx, &link, &ticket.params, Some(id), 1, origin).await {
        Ok(_) => Ok(Redeemed::Open),
        // D1 refused: the link stopped being payable since the snapshot was taken.
        Err(Refused::LinkUnavailable) => Ok(unavailable(ctx, &link, Unavailable::Inactive).await),
        // Most likely the same page loaded twice at once: the other load made it.
        Err(refused) => match sessions::exists(ctx, session_id).await? {
            true => Ok(Redeemed::Open),
            false => Err(refused.into_api_error()),
        },
    }
}

/// A visit to a payable link on a Worker without a ticket signer: the session is opened
/// now, and the shopper redirected to it.
pub async fn during_visit(ctx: &Ctx, code: &str, visit: Unsigned) -> worker::Result<Response> {
    let Unsigned {
        link,
        utm_source,
        params,
        origin,
        asked,
        locale,
    } = visit;
    till_links::views::count_visit(&ctx.env, &ctx.ctx, &link.id, utm_source.as_deref());
    match open_from_link(ctx, &link, &params, None, 0, &origin).await {
        Ok(session) => shortlinks::redirect(&format!(
            "{origin}/c/{}{}",
            session.id.as_str(),
            asked.query()
        )),
        // D1 refused: the cached snapshot was stale. Answer from the fresh row.
        Err(Refused::LinkUnavailable) => {
            let fresh = refresh(ctx, code).await;
            let reason = fresh
                .as_ref()
                .and_then(|link| link.state().payability().unavailable())
                .unwrap_or(Unavailable::Inactive);
            let frame = match settings::allowed(ctx, link_seller(&link)).await {
                Ok(allowed) => allowed.frame(&asked),
                Err(_) => asked.unowned(),
            };
            pages::message_in(&frame, locale, reason.status(), reason.text())
        }
        Err(refused) => refused
            .into_api_error()
            .into_reply(Dialect::Till)
            .into_response(),
    }
}
