//! Checkout sessions: one shopper's attempt to pay (PAYMENT), subscribe (SUBSCRIPTION) or
//! save a card (SETUP), priced when created and shown on the hosted page at its `url`.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::catalog::{LOCALES, is_plausible_email};
use till_shared::ids::CheckoutSessionId;
use till_shared::keys::KeyKind;
use till_shared::params::validate_redirect_url;
use till_shared::time::parse_request_time;

use crate::call::Call;
use crate::error::{ApiError, ApiResult};
use crate::payment_links::{self, LineItem, check_promotion, subtotal};
use crate::prices::{self, iso};
use crate::products;
use crate::reply::Reply;
use crate::store::{self, Bind, Filter};

/// Sessions live 24 hours unless told otherwise; at least 30 minutes.
const DEFAULT_LIFETIME: i64 = 24 * 3600;
const MIN_LIFETIME: i64 = 30 * 60;

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
    pub setup_intent_id: Option<String>,
    pub expires_at: i64,
    pub environment: String,
    pub created_at: i64,
    pub completed_at: Option<i64>,
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
        "line_items": store::parse_json(Some(&row.line_items)),
        "payment_link": row.payment_link_id,
        "promotion_code": row.promotion_code,
        "success_url": row.success_url,
        "cancel_url": row.cancel_url,
        "customer_email": row.customer_email,
        "customer_name": row.customer_name,
        "customer_details": {"email": row.customer_email, "name": row.customer_name},
        "client_reference_id": row.client_reference_id,
        "locale": row.locale,
        "metadata": store::parse_json(row.metadata.as_deref()),
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
    store::find(call.ctx, "checkout_sessions", call.principal()?, id)
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
    let now = store::now_unix();
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
        vec![LineItem {
            price_id: Some(price.id),
            product_id: Some(price.product_id),
            quantity: 1,
            amount: price.amount,
            currency: price.currency,
            kind: price.kind,
            interval: price.interval,
            interval_count: price.interval_count,
            name: price.nickname,
        }]
    };
    let recurring = lines.iter().any(|l| l.kind == "recurring");
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
                .discount()?
                .amount_off(subtotal)
                .map_err(ApiError::internal)?
                .amount()
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
    let id = CheckoutSessionId::generate();
    store::db(call.ctx)?
        .prepare(
            "INSERT INTO checkout_sessions (id, account_id, environment, mode, line_items, currency, amount_subtotal,
                 amount_discount, amount_total, promotion_code, success_url, cancel_url, customer_email, customer_name,
                 client_reference_id, locale, metadata, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )
        .bind(&[
            id.as_str().js(),
            principal.account_id.js(),
            principal.environment.as_str().js(),
            mode.js(),
            serde_json::to_string(&lines)?.js(),
            subtotal.currency().code().js(),
            amount_subtotal.js(),
            if mode == "SETUP" { 0 } else { discount }.js(),
            amount_total.js(),
            promotion_code.js(),
            success_url.js(),
            cancel_url.js(),
            customer_email.js(),
            customer_name.js(),
            client_reference_id.js(),
            locale.js(),
            store::json_text(metadata.map(Value::Object).as_ref()).js(),
            expires_at.js(),
            now.js(),
        ])?
        .run()
        .await?;
    Ok(Reply::created(render(
        load(call, id.as_str()).await?,
        &call.origin,
    )?))
}

async fn default_price(
    call: &Call<'_>,
    product: products::ProductRow,
    param: &str,
) -> ApiResult<prices::PriceRow> {
    if product.active != 1 {
        return Err(ApiError::invalid(param, "This product is archived."));
    }
    let price_id = product
        .default_price_id
        .ok_or_else(|| ApiError::invalid(param, "This product has no price yet."))?;
    prices::load(call, &price_id, Some(param)).await
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
        store::list(call, "checkout_sessions_view", filters, |row| {
            render(row, &origin)
        })
        .await?,
    ))
}

pub async fn expire(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let session = load(call, &id).await?;
    let principal = call.principal()?;
    let changed = store::run(
        store::db(call.ctx)?
            .prepare(
                "UPDATE checkout_sessions SET status = 'EXPIRED'
                 WHERE id = ?1 AND account_id = ?2 AND environment = ?3 AND status = 'OPEN'",
            )
            .bind(&[
                id.js(),
                principal.account_id.js(),
                principal.environment.as_str().js(),
            ])?,
    )
    .await?;
    if changed == 0 {
        return Err(ApiError::conflict(
            "id",
            format!(
                "Only OPEN sessions can be expired; this one is {}.",
                session.status
            ),
        ));
    }
    Ok(Reply::ok(render(load(call, &id).await?, &call.origin)?))
}
