//! Checkout sessions: one shopper's attempt to pay (PAYMENT), subscribe (SUBSCRIPTION) or
//! save a card (SETUP), priced when created and shown on the hosted page at its `url`.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::catalog::{LOCALES, is_plausible_email};
use till_shared::ids::CheckoutSessionId;
use till_shared::keys::KeyKind;
use till_shared::params::validate_redirect_url;
use till_shared::time::parse_request_time;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::catalog::prices;
use crate::catalog::products;
use crate::db::{self, Bind};
use crate::error::{ApiError, ApiResult};
use crate::links::payment_links::{self, LineItem, check_promotion, subtotal};

/// Sessions live 24 hours unless told otherwise; at least 30 minutes.
const DEFAULT_LIFETIME: i64 = 24 * 3600;
const MIN_LIFETIME: i64 = 30 * 60;

/// The event of an expired session, as the API would show its main fields.
pub const EXPIRED_EVENT: &str = "INSERT INTO events (id, account_id, environment, type, object_id, data, created_at)
     SELECT 'evt_' || lower(hex(randomblob(12))), account_id, environment, 'checkout.expired', id,
            json_object('id', id, 'object', 'checkout.session', 'status', 'EXPIRED', 'mode', mode,
                        'currency', currency, 'amount_total', amount_total, 'payment_link', payment_link_id,
                        'client_reference_id', client_reference_id, 'customer_email', customer_email,
                        'metadata', json(coalesce(metadata, 'null'))),
            ?1
     FROM checkout_sessions";

#[derive(Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub mode: String,
    pub status: String,
    pub payment_link_id: Option<String>,
    pub line_items: String,
    pub currency: String,
    pub amount_subtotal: i64,
    pub amount_discount: i64,
    pub amount_total: i64,
    pub promotion_code: Option<String>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub client_reference_id: Option<String>,
    pub locale: Option<String>,
    pub metadata: Option<String>,
    pub order_id: Option<String>,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
    pub setup_intent_id: Option<String>,
    pub expires_at: i64,
    pub environment: String,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub allow_promotion_codes: i64,
}

pub fn render(row: SessionRow, origin: &str) -> ApiResult<Value> {
    let payment_status = match (row.status.as_str(), row.mode.as_str()) {
        (_, "SETUP") => "no_payment_required",
        ("COMPLETE", _) => "paid",
        _ => "unpaid",
    };
    Ok(json!({
        "id": row.id,
        "object": "checkout.session",
        "url": format!("{origin}/c/{}", row.id),
        "status": row.status,
        "payment_status": payment_status,
        "mode": row.mode,
        "currency": row.currency,
        "amount_subtotal": row.amount_subtotal,
        "amount_discount": row.amount_discount,
        "amount_total": row.amount_total,
        "line_items": db::parse_json(Some(&row.line_items)),
        "payment_link": row.payment_link_id,
        "promotion_code": row.promotion_code,
        "success_url": row.success_url,
        "cancel_url": row.cancel_url,
        "customer_email": row.customer_email,
        "customer_name": row.customer_name,
        "customer": row.customer_id,
        "customer_details": {"email": row.customer_email, "name": row.customer_name},
        "client_reference_id": row.client_reference_id,
        "allow_promotion_codes": row.allow_promotion_codes == 1,
        "locale": row.locale,
        "metadata": db::parse_json(row.metadata.as_deref()),
        "order_id": row.order_id,
        "subscription_id": row.subscription_id,
        "setup_intent_id": row.setup_intent_id,
        // The hosted-checkout guide's sample reads these camelCase names.
        "orderId": row.order_id,
        "subscriptionId": row.subscription_id,
        "livemode": row.environment == "PRODUCTION",
        "environment": row.environment,
        "expires_at": iso(row.expires_at)?,
        "created_at": iso(row.created_at)?,
        "completed_at": row.completed_at.map(iso).transpose()?,
    }))
}

pub async fn load(call: &Call<'_>, id: &str) -> ApiResult<SessionRow> {
    db::find(call.ctx, "checkout_sessions", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("checkout session", id, None))
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let sandbox = call.sandbox();
    let publishable = call.principal()?.key_kind == KeyKind::Publishable;
    let mut p = call.params()?;
    if publishable && p.has("metadata") {
        return Err(ApiError::Client {
            code: till_shared::api::ErrorCode::Forbidden,
            message: "metadata can only be set with a secret key.".into(),
            param: Some("metadata".into()),
        });
    }
    let product_id = p.string("product_id", 100)?;
    let product_slug = p.string("product_slug", 64)?;
    let price_id = p.string("price_id", 100)?.or(p.string("price", 100)?);
    let line_items = p.objects("line_items", 20)?;
    let mode = p.one_of("mode", &["PAYMENT", "SUBSCRIPTION", "SETUP"])?;
    let redirect =
        |p: &mut till_shared::params::Params, field: &str| -> ApiResult<Option<String>> {
            p.string(field, 2048)?
                .map(|u| {
                    validate_redirect_url(&u, sandbox)
                        .map_err(|m| ApiError::invalid(field.to_owned(), m))
                })
                .transpose()
        };
    let success_url = redirect(&mut p, "success_url")?;
    let cancel_url = redirect(&mut p, "cancel_url")?;
    let customer_email = p.string("customer_email", 254)?;
    if let Some(email) = &customer_email
        && !is_plausible_email(email)
    {
        return Err(ApiError::invalid(
            "customer_email",
            "This is not an email address.",
        ));
    }
    let customer_name = p.string("customer_name", 200)?;
    let metadata = p.metadata("metadata")?;
    let promotion_code = p.string("promotion_code", 64)?;
    let locale = p.string("locale", 10)?;
    if let Some(locale) = &locale
        && !LOCALES.contains(&locale.as_str())
    {
        return Err(ApiError::invalid(
            "locale",
            format!("Must be one of: {}.", LOCALES.join(", ")),
        ));
    }
    let client_reference_id = p.string("client_reference_id", 200)?;
    let allow_promotion_codes = p.boolean("allow_promotion_codes")?.unwrap_or(false);
    let now = db::now_unix();
    let expires_at = match p.raw("expires_at") {
        Some(value) => parse_request_time(&value)
            .map_err(|e| ApiError::invalid("expires_at", e.to_string()))?,
        None => now + DEFAULT_LIFETIME,
    };
    if !(now + MIN_LIFETIME..=now + DEFAULT_LIFETIME).contains(&expires_at) {
        return Err(ApiError::invalid(
            "expires_at",
            "expires_at must be between 30 minutes and 24 hours from now.",
        ));
    }
    let families = usize::from(product_id.is_some() || product_slug.is_some())
        + usize::from(price_id.is_some())
        + usize::from(line_items.is_some());
    if families != 1 || (product_id.is_some() && product_slug.is_some()) {
        return Err(ApiError::invalid(
            "product_id",
            "Send exactly one of productId, productSlug, price_id or line_items.",
        ));
    }
    p.finish()?;

    let lines: Vec<LineItem> = if let Some(items) = line_items {
        payment_links::price_lines(call, items).await?
    } else {
        let price = match (&product_id, &product_slug, &price_id) {
            (_, _, Some(price)) => prices::load(call, price, Some("price_id")).await?,
            (Some(id), _, _) => {
                default_price(
                    call,
                    products::load(call, id, Some("product_id")).await?,
                    "product_id",
                )
                .await?
            }
            (_, Some(slug), _) => {
                default_price(
                    call,
                    products::load_by_slug(call, slug, "product_slug").await?,
                    "product_slug",
                )
                .await?
            }
            _ => unreachable!("one family was checked above"),
        };
        vec![price.line(1, price.nickname.clone())?]
    };
    let recurring = lines.iter().any(|l| l.is_recurring());
    let mode = mode.unwrap_or(if recurring { "SUBSCRIPTION" } else { "PAYMENT" });
    match mode {
        "SUBSCRIPTION" if !recurring => {
            return Err(ApiError::invalid(
                "mode",
                "SUBSCRIPTION mode needs a recurring price.",
            ));
        }
        "PAYMENT" if recurring => {
            return Err(ApiError::invalid(
                "mode",
                "This price is recurring; use mode SUBSCRIPTION.",
            ));
        }
        _ => {}
    }
    let subtotal = subtotal(&lines)?;
    let discount = match &promotion_code {
        Some(code) if mode != "SETUP" => {
            let promotion = check_promotion(call, code, &lines, "promotion_code").await?;
            promotion
                .discount_on(&lines, db::now_unix())?
                .map_err(|refused| ApiError::invalid("promotion_code", refused.to_string()))?
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "promotion_code",
                "SETUP sessions charge nothing.",
            ));
        }
        None => 0,
    };
    let (amount_subtotal, amount_total) = if mode == "SETUP" {
        (0, 0)
    } else {
        (subtotal.amount(), subtotal.amount() - discount)
    };

    let principal = call.principal()?;
    let session = NewSession {
        id: CheckoutSessionId::generate().to_string(),
        account_id: principal.account_id.clone(),
        environment: principal.environment.as_str(),
        mode,
        lines,
        currency: subtotal.currency().code(),
        amount_subtotal,
        amount_discount: if mode == "SETUP" { 0 } else { discount },
        amount_total,
        promotion_code,
        success_url,
        cancel_url,
        customer_email,
        customer_name,
        client_reference_id,
        locale,
        metadata: metadata.map(Value::Object),
        expires_at,
        payment_link: None,
        utm: None,
        allow_promotion_codes,
    };
    let id = session.id.clone();
    insert(&db::db(call.ctx)?, &session, now)?.run().await?;
    Ok(Reply::created(render(
        load(call, &id).await?,
        &call.origin,
    )?))
}

async fn default_price(
    call: &Call<'_>,
    product: products::ProductRow,
    param: &str,
) -> ApiResult<prices::PriceRow> {
    if !product.active {
        return Err(ApiError::invalid(param, "This product is archived."));
    }
    let price_id = product
        .default_price_id
        .ok_or_else(|| ApiError::invalid(param, "This product has no price yet."))?;
    prices::load(call, &price_id, Some(param)).await
}

/// A session about to be stored, from the API or from a payment link visit.
pub struct NewSession {
    pub id: String,
    pub account_id: String,
    pub environment: &'static str,
    pub mode: &'static str,
    pub lines: Vec<LineItem>,
    pub currency: &'static str,
    pub amount_subtotal: i64,
    pub amount_discount: i64,
    pub amount_total: i64,
    pub promotion_code: Option<String>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub client_reference_id: Option<String>,
    pub locale: Option<String>,
    pub metadata: Option<Value>,
    pub expires_at: i64,
    /// The link the session comes from, with what the link asks of the shopper.
    pub payment_link: Option<FromLink>,
    pub utm: Option<Value>,
    /// Whether the hosted page offers a promotion code field.
    pub allow_promotion_codes: bool,
}

/// What a session copies from its payment link.
pub struct FromLink {
    pub id: String,
    pub custom_fields: String,
    pub billing_address_collection: String,
    pub customer_creation: String,
    pub after_completion: Option<String>,
}

/// The INSERT of a new session. From a link, the row is written only while the link (in
/// D1, whatever a cache says) is active, not deleted and not exhausted.
pub fn insert(
    db: &worker::D1Database,
    session: &NewSession,
    now: i64,
) -> ApiResult<worker::D1PreparedStatement> {
    let link = session.payment_link.as_ref();
    let guard = if link.is_some() {
        "WHERE EXISTS (SELECT 1 FROM payment_links WHERE id = ?20 AND active = 1 AND deleted = 0
             AND (max_completions IS NULL OR completed_count + reserved_count < max_completions)
             AND (multiple = 1 OR completed_count + reserved_count = 0))"
    } else {
        "WHERE ?20 IS NULL"
    };
    let sql = format!(
        "INSERT INTO checkout_sessions (id, account_id, environment, mode, line_items, currency, amount_subtotal,
             amount_discount, amount_total, promotion_code, success_url, cancel_url, customer_email, customer_name,
             client_reference_id, locale, metadata, expires_at, created_at, payment_link_id, csrf_token, custom_fields,
             billing_address_collection, customer_creation, after_completion, utm, allow_promotion_codes)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,
                ?23, ?24, ?25, ?26, ?27
         {guard}"
    );
    Ok(db.prepare(sql).bind(&[
        session.id.js(),
        session.account_id.js(),
        session.environment.js(),
        session.mode.js(),
        serde_json::to_string(&session.lines)?.js(),
        session.currency.js(),
        session.amount_subtotal.js(),
        session.amount_discount.js(),
        session.amount_total.js(),
        session.promotion_code.js(),
        session.success_url.js(),
        session.cancel_url.js(),
        session.customer_email.js(),
        session.customer_name.js(),
        session.client_reference_id.js(),
        session.locale.js(),
        db::json_text(session.metadata.as_ref()).js(),
        session.expires_at.js(),
        now.js(),
        link.map(|l| l.id.clone()).js(),
        till_shared::ids::random_base62(32).js(),
        link.map_or_else(|| "[]".to_owned(), |l| l.custom_fields.clone())
            .js(),
        link.map_or("auto", |l| l.billing_address_collection.as_str())
            .js(),
        link.map_or("if_required", |l| l.customer_creation.as_str())
            .js(),
        link.and_then(|l| l.after_completion.clone()).js(),
        db::json_text(session.utm.as_ref()).js(),
        session.allow_promotion_codes.js(),
    ])?)
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(
        load(call, call.id()?).await?,
        &call.origin,
    )?))
}

pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    if let Some(status) = call.query("status") {
        filters.push(Filter::eq("status = ?", status.to_ascii_uppercase()));
    }
    if let Some(link) = call.query("payment_link") {
        filters.push(Filter::eq("payment_link_id = ?", link));
    }
    let origin = call.origin.clone();
    Ok(Reply::ok(
        crate::api::list::list(call, "checkout_sessions_view", filters, |row| {
            render(row, &origin)
        })
        .await?,
    ))
}

pub async fn expire(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let session = load(call, &id).await?;
    let principal = call.principal()?;
    let db = db::db(call.ctx)?;
    // An open session with no payment in flight; the event is written in the same batch.
    let open = "id = ?2 AND account_id = ?3 AND environment = ?4 AND status = 'OPEN' AND reservation IS NULL";
    let scope = [
        db::now_unix().js(),
        id.js(),
        principal.account_id.js(),
        principal.environment.as_str().js(),
    ];
    let results = db
        .batch(vec![
            db.prepare(format!("{} WHERE {open}", EXPIRED_EVENT))
                .bind(&scope)?,
            db.prepare(crate::db::events::FAN_OUT)
                .bind(&[scope[0].clone()])?,
            db.prepare(format!(
                "UPDATE checkout_sessions SET status = 'EXPIRED' WHERE {open}"
            ))
            .bind(&scope)?,
        ])
        .await?;
    let changed = results
        .last()
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if changed == 0 {
        return Err(ApiError::conflict(
            "id",
            format!(
                "Only OPEN sessions can be expired; this one is {}.",
                session.status
            ),
        ));
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(load(call, &id).await?, &call.origin)?))
}
