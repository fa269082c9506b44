//! Payment links: one model for the three ways the documents define a link — by a product
//! (`productId` / `productSlug`), by line items (`line_items` of prices and quantities), or
//! by an amount (`amount`, `currency`, `title`). Every link has a Base62 short code whose
//! URL is the shareable link.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use till_shared::ids::{PaymentLinkId, ShortCode};
use till_shared::money::{Currency, Money};
use till_shared::params::{Params, validate_redirect_url};
use till_shared::pricing::{PriceRecord, PricingError, check_lines};
use till_shared::promotion::PromotionError;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::catalog::prices;
use crate::catalog::products::ProductRow;
use crate::catalog::products::{self, summary_type};
use crate::catalog::promotion_codes;
use crate::ctx::Ctx;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Bind, Principal};
use crate::error::{ApiError, ApiResult};

pub use till_shared::pricing::LineItem;

/// A link about to be stored.
pub struct NewLink {
    pub kind: &'static str,
    pub name: Option<String>,
    pub product_id: Option<String>,
    /// The product of a product link, as the link's rendering summarises it.
    pub product: Option<ProductRow>,
    pub line_items: Vec<LineItem>,
    pub amount: Option<i64>,
    pub currency: Option<Currency>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub multiple: bool,
    pub promotion_code: Option<String>,
    pub allow_promotion_codes: bool,
    pub collect_payment_method: &'static str,
    pub success_url: Option<String>,
    pub after_completion: Option<Value>,
    pub custom_fields: Vec<Value>,
    pub billing_address_collection: &'static str,
    pub customer_creation: &'static str,
    pub submit_type: &'static str,
    pub max_completions: Option<i64>,
    pub metadata: Option<Map<String, Value>>,
    pub active: bool,
    pub created_via: &'static str,
}

impl NewLink {
    /// An amount link with the documents' defaults (single use unless `multiple`).
    pub fn amount(
        amount: i64,
        currency: Currency,
        title: String,
        description: Option<String>,
        multiple: bool,
    ) -> NewLink {
        NewLink {
            kind: "amount",
            name: Some(title.clone()),
            product_id: None,
            product: None,
            line_items: Money::from_minor(amount, currency)
                .map(|amount| vec![LineItem::for_amount(amount, Some(title.clone()))])
                .unwrap_or_default(),
            amount: Some(amount),
            currency: Some(currency),
            title: Some(title),
            description,
            multiple,
            promotion_code: None,
            allow_promotion_codes: false,
            collect_payment_method: "always",
            success_url: None,
            after_completion: None,
            custom_fields: Vec::new(),
            billing_address_collection: "auto",
            customer_creation: "if_required",
            submit_type: "auto",
            max_completions: None,
            metadata: None,
            active: true,
            created_via: "api",
        }
    }
}

impl NewLink {
    /// The row this link is once stored with `id` and `url_id` at `now`: what `GET` reads
    /// back, so its `payment_link.created` event carries the same object.
    fn row(&self, id: &str, principal: &Principal, url_id: &str, now: i64) -> ApiResult<LinkRow> {
        let product = self.product.as_ref();
        Ok(LinkRow {
            id: id.to_owned(),
            account_id: principal.account_id.clone(),
            url_id: url_id.to_owned(),
            kind: self.kind.to_owned(),
            name: self.name.clone(),
            product_id: self.product_id.clone(),
            line_items: serde_json::to_string(&self.line_items)?,
            amount: self.amount,
            currency: self.currency.map(|c| c.code().to_owned()),
            title: self.title.clone(),
            description: self.description.clone(),
            multiple: i64::from(self.multiple),
            promotion_code: self.promotion_code.clone(),
            allow_promotion_codes: i64::from(self.allow_promotion_codes),
            collect_payment_method: self.collect_payment_method.to_owned(),
            success_url: self.success_url.clone(),
            after_completion: db::json_text(self.after_completion.as_ref()),
            custom_fields: serde_json::to_string(&self.custom_fields)?,
            billing_address_collection: self.billing_address_collection.to_owned(),
            customer_creation: self.customer_creation.to_owned(),
            submit_type: self.submit_type.to_owned(),
            max_completions: self.max_completions,
            metadata: db::json_text(self.metadata.clone().map(Value::Object).as_ref()),
            active: i64::from(self.active),
            deleted: 0,
            view_count: 0,
            session_count: 0,
            completed_count: 0,
            reserved_count: 0,
            created_via: self.created_via.to_owned(),
            environment: principal.environment.as_str().to_owned(),
            created_at: now,
            updated_at: now,
            product_name: product.map(|p| p.name.clone()),
            product_slug: product.map(|p| p.slug.clone()),
            product_price_id: product.and_then(|p| p.default_price_id.clone()),
            product_price: product.and_then(|p| p.price_amount),
            product_currency: product.and_then(|p| p.price_currency.clone()),
            product_price_type: product.and_then(|p| p.price_type.clone()),
            product_price_interval: product.and_then(|p| p.price_interval.clone()),
            product_price_interval_count: product.and_then(|p| p.price_interval_count),
        })
    }
}

/// A link as stored, with its product's summary. Also the snapshot cached in KV for the
/// short-link path.
#[derive(Clone, serde::Serialize, Deserialize)]
pub struct LinkRow {
    pub id: String,
    pub account_id: String,
    pub url_id: String,
    pub kind: String,
    pub name: Option<String>,
    pub product_id: Option<String>,
    pub line_items: String,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub multiple: i64,
    pub promotion_code: Option<String>,
    pub allow_promotion_codes: i64,
    pub collect_payment_method: String,
    pub success_url: Option<String>,
    pub after_completion: Option<String>,
    pub custom_fields: String,
    pub billing_address_collection: String,
    pub customer_creation: String,
    pub submit_type: String,
    pub max_completions: Option<i64>,
    pub metadata: Option<String>,
    pub active: i64,
    pub deleted: i64,
    pub view_count: i64,
    pub session_count: i64,
    pub completed_count: i64,
    pub reserved_count: i64,
    pub created_via: String,
    pub environment: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub product_name: Option<String>,
    pub product_slug: Option<String>,
    pub product_price_id: Option<String>,
    pub product_price: Option<i64>,
    pub product_currency: Option<String>,
    pub product_price_type: Option<String>,
    /// Absent from snapshots cached before the view had it.
    #[serde(default)]
    pub product_price_interval: Option<String>,
    #[serde(default)]
    pub product_price_interval_count: Option<i64>,
}

impl LinkRow {
    /// What a session created from the link would sell: the product's current default
    /// price for product links, the stored lines otherwise.
    pub fn priced_lines(&self) -> Vec<LineItem> {
        if self.kind == "product" {
            let (Some(amount), Some(currency)) = (self.product_price, &self.product_currency)
            else {
                return Vec::new();
            };
            let price = PriceRecord {
                price_id: self.product_price_id.as_deref(),
                product_id: self.product_id.as_deref(),
                amount,
                currency,
                price_type: self.product_price_type.as_deref().unwrap_or("one_time"),
                interval: self.product_price_interval.as_deref(),
                interval_count: self.product_price_interval_count,
            };
            return LineItem::from_price(&price, 1, self.product_name.clone())
                .map(|line| vec![line])
                .unwrap_or_default();
        }
        serde_json::from_str(&self.line_items).unwrap_or_default()
    }

    pub fn url(&self, base: &str) -> String {
        format!("{base}/{}", self.url_id)
    }
}

/// A link's successful payments, oldest first (at most 20), as the Omise document's
/// `charges` list shows them.
pub async fn load_charges(ctx: &Ctx, link_id: &str) -> ApiResult<Vec<Value>> {
    #[derive(Deserialize)]
    struct Charge {
        id: String,
        amount: i64,
        currency: String,
        card_brand: String,
        card_last4: String,
        order_id: String,
        checkout_session_id: String,
        created_at: i64,
    }
    let rows: Vec<Charge> = db::db(ctx)?
        .prepare(
            "SELECT p.id, p.amount, p.currency, p.card_brand, p.card_last4, p.order_id, o.checkout_session_id, p.created_at
             FROM payments p JOIN orders o ON o.id = p.order_id
             WHERE o.payment_link_id = ?1 ORDER BY p.rowid LIMIT 20",
        )
        .bind(&[link_id.js()])?
        .all()
        .await?
        .results()?;
    rows.into_iter()
        .map(|c| {
            Ok(json!({
                "object": "charge",
                "id": c.id,
                "amount": c.amount,
                "currency": c.currency.to_ascii_lowercase(),
                "status": "successful",
                "paid": true,
                "card": {"brand": c.card_brand, "last_digits": c.card_last4},
                "order_id": c.order_id,
                "checkout_session_id": c.checkout_session_id,
                "created": iso(c.created_at)?,
            }))
        })
        .collect()
}

/// The `charges` list object: the total always, the charges themselves when loaded.
pub fn charges_object(link: &LinkRow, data: Vec<Value>) -> ApiResult<Value> {
    Ok(json!({
        "object": "list",
        "from": "1970-01-01T00:00:00Z",
        // As the links document shows it: the range ends at the link's creation.
        "to": iso(link.created_at)?,
        "offset": 0,
        "limit": 20,
        "total": link.completed_count,
        "order": "chronological",
        "location": format!("/links/{}/charges", link.id),
        "data": data,
    }))
}

pub fn render(row: LinkRow, base: &str) -> ApiResult<Value> {
    render_with_charges(row, base, Vec::new())
}

/// The link object; `charges` carries the loaded charges (retrieve) or none (lists).
pub fn render_with_charges(row: LinkRow, base: &str, charges: Vec<Value>) -> ApiResult<Value> {
    let charges = charges_object(&row, charges)?;
    let lines = row.priced_lines();
    let total = till_shared::pricing::subtotal(&lines).map_or(0, Money::amount);
    let currency = lines
        .first()
        .map(|l| l.currency.code().to_owned())
        .or(row.currency.clone());
    let product = row.product_id.as_ref().map(|id| {
        json!({
            "id": id,
            "name": row.product_name,
            "slug": row.product_slug,
            "price": row.product_price,
            "currency": row.product_currency,
            "type": summary_type(row.product_price_type.as_deref()),
        })
    });
    let url = row.url(base);
    Ok(json!({
        "id": row.id,
        "object": "payment_link",
        "url": url,
        "url_id": row.url_id,
        "payment_uri": url,
        "active": row.active == 1,
        "deleted": row.deleted == 1,
        "livemode": row.environment == "PRODUCTION",
        "environment": row.environment,
        "name": row.name,
        "title": row.title,
        "description": row.description,
        "product_id": row.product_id,
        "product": product,
        "line_items": lines,
        "amount": if row.kind == "amount" { row.amount } else { Some(total) },
        "currency": currency,
        "currency_id": currency.as_ref().map(|c| c.to_ascii_lowercase()),
        "multiple": row.multiple == 1,
        "used": row.completed_count > 0,
        "charges": charges,
        "promotion_code": row.promotion_code,
        "allow_promotion_codes": row.allow_promotion_codes == 1,
        "collect_payment_method": row.collect_payment_method,
        "success_url": row.success_url,
        "after_completion": db::parse_json(row.after_completion.as_deref()),
        "custom_fields": db::parse_json(Some(&row.custom_fields)),
        "billing_address_collection": row.billing_address_collection,
        "customer_creation": row.customer_creation,
        "submit_type": row.submit_type,
        "max_completions": row.max_completions,
        "metadata": db::parse_json(row.metadata.as_deref()),
        "view_count": row.view_count,
        "session_count": row.session_count,
        "completed_count": row.completed_count,
        "created_via": row.created_via,
        "created_at": iso(row.created_at)?,
        "updated_at": iso(row.updated_at)?,
    }))
}

pub async fn load(call: &Call<'_>, id: &str) -> ApiResult<LinkRow> {
    db::find(call.ctx, "payment_links_view", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment link", id, None))
}

const MODES_OF_PAYMENT: &[&str] = &["always", "if_required"];
const ADDRESS_COLLECTION: &[&str] = &["auto", "required"];
const SUBMIT_TYPES: &[&str] = &["auto", "pay", "book", "donate", "subscribe"];

/// `after_completion`: `{type: redirect, redirect: {url}}` or
/// `{type: hosted_confirmation, hosted_confirmation: {custom_message?}}`.
fn read_after_completion(p: &mut Params, sandbox: bool) -> ApiResult<Option<Value>> {
    let Some(mut after) = p.object("after_completion")? else {
        return Ok(None);
    };
    let kind = after
        .one_of("type", &["redirect", "hosted_confirmation"])?
        .ok_or_else(|| {
            ApiError::invalid(
                "after_completion.type",
                "Must be redirect or hosted_confirmation.",
            )
        })?;
    let value = if kind == "redirect" {
        let mut redirect = after.object("redirect")?.ok_or_else(|| {
            ApiError::invalid(
                "after_completion.redirect",
                "A redirect needs `redirect: {url}`.",
            )
        })?;
        let url = redirect.required_string("url", 2048)?;
        let url = validate_redirect_url(&url, sandbox)
            .map_err(|m| ApiError::invalid("after_completion.redirect.url", m))?;
        redirect.finish()?;
        json!({"type": "redirect", "redirect": {"url": url}})
    } else {
        let message = match after.object("hosted_confirmation")? {
            Some(mut confirmation) => {
                let message = confirmation.string("custom_message", 1000)?;
                confirmation.finish()?;
                message
            }
            None => None,
        };
        json!({"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": message}})
    };
    after.finish()?;
    Ok(Some(value))
}

/// Up to three fields the shopper fills in: text, numeric, or a dropdown of options.
fn read_custom_fields(p: &mut Params) -> ApiResult<Option<Vec<Value>>> {
    let Some(fields) = p.objects("custom_fields", 3)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    let mut keys = std::collections::HashSet::new();
    for mut field in fields {
        let key = field.required_string("key", 200)?;
        if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ApiError::invalid(
                field.name("key"),
                "Keys are letters, digits and underscores.",
            ));
        }
        if !keys.insert(key.clone()) {
            return Err(ApiError::invalid(
                field.name("key"),
                "Custom field keys must be unique.",
            ));
        }
        let label = match field.raw("label") {
            Some(Value::String(text)) if !text.trim().is_empty() && text.chars().count() <= 50 => {
                text
            }
            Some(Value::Object(map)) => match map.get("custom").and_then(Value::as_str) {
                Some(text) if !text.trim().is_empty() && text.chars().count() <= 50 => {
                    text.to_owned()
                }
                _ => {
                    return Err(ApiError::invalid(
                        field.name("label"),
                        "A label is 1–50 characters.",
                    ));
                }
            },
            _ => {
                return Err(ApiError::invalid(
                    field.name("label"),
                    "A label is 1–50 characters.",
                ));
            }
        };
        let kind = field
            .one_of("type", &["text", "numeric", "dropdown"])?
            .ok_or_else(|| {
                ApiError::invalid(field.name("type"), "Must be text, numeric or dropdown.")
            })?;
        let optional = field.boolean("optional")?.unwrap_or(false);
        let options = match field.object("dropdown")? {
            Some(mut dropdown) => {
                let mut options = Vec::new();
                for mut option in dropdown.objects("options", 200)?.unwrap_or_default() {
                    let label = option.required_string("label", 100)?;
                    let value = option.required_string("value", 100)?;
                    option.finish()?;
                    options.push(json!({"label": label, "value": value}));
                }
                dropdown.finish()?;
                options
            }
            None => Vec::new(),
        };
        if kind == "dropdown" && options.is_empty() {
            return Err(ApiError::invalid(
                field.name("dropdown"),
                "A dropdown needs `dropdown: {options: [{label, value}]}`.",
            ));
        }
        field.finish()?;
        out.push(json!({
            "key": key,
            "label": {"type": "custom", "custom": label},
            "type": kind,
            "optional": optional,
            "dropdown": if kind == "dropdown" { json!({"options": options}) } else { Value::Null },
        }));
    }
    Ok(Some(out))
}

/// Prices `line_items: [{price_id, quantity}]` from the caller's catalogue.
pub async fn price_lines(call: &Call<'_>, mut items: Vec<Params>) -> ApiResult<Vec<LineItem>> {
    if items.is_empty() {
        return Err(ApiError::invalid(
            "line_items",
            "At least one line item is needed.",
        ));
    }
    let mut lines = Vec::new();
    for item in &mut items {
        let price_param = item.name("price_id");
        let price_id = match item.string("price", 100)? {
            Some(price) => price,
            None => item.required_string("price_id", 100)?,
        };
        let quantity = item.integer("quantity", 1, 999)?.unwrap_or(1);
        let price = prices::load(call, &price_id, Some(&price_param)).await?;
        if price.active != 1 {
            return Err(ApiError::invalid(price_param, "This price is archived."));
        }
        lines.push(price.line(quantity, price.nickname.clone())?);
    }
    for item in items {
        item.finish()?;
    }
    check_lines(&lines).map_err(|error| lines_refused(&error))?;
    Ok(lines)
}

/// The API's answer to lines that cannot be sold together, naming the offending line.
pub fn lines_refused(error: &PricingError) -> ApiError {
    let param = match error.index() {
        Some(i) => format!("line_items[{i}].price_id"),
        None => "line_items".to_owned(),
    };
    let message = match error {
        PricingError::CurrencyMismatch { .. } => "All line items must share one currency.",
        PricingError::IntervalMismatch { .. } | PricingError::RecurringWithoutInterval { .. } => {
            "Recurring line items must share one billing interval."
        }
        PricingError::TooLarge | PricingError::Amount(_) => {
            "The total is larger than the maximum amount."
        }
        _ => return ApiError::internal(error),
    };
    ApiError::invalid(param, message)
}

/// Checks that a promotion code can apply to these lines now.
pub async fn check_promotion(
    call: &Call<'_>,
    code: &str,
    lines: &[LineItem],
    param: &str,
) -> ApiResult<promotion_codes::PromotionCodeRow> {
    let promotion = promotion_codes::load_by_code(call, code, param).await?;
    match promotion.discount_on(lines, db::now_unix())? {
        Ok(_) => Ok(promotion),
        Err(PromotionError::Pricing(error)) => {
            Err(ApiError::invalid("line_items", error.to_string()))
        }
        Err(PromotionError::Malformed) => {
            Err(ApiError::internal("promotion code without a discount"))
        }
        Err(refused) => Err(ApiError::invalid(param, refused.to_string())),
    }
}

/// Subtotal of priced lines (`till_shared::pricing::subtotal`), refused as the API
/// refuses lines.
pub fn subtotal(lines: &[LineItem]) -> ApiResult<Money> {
    till_shared::pricing::subtotal(lines).map_err(|error| lines_refused(&error))
}

/// Reads a link definition in Till's dialect (the union of the three documents).
async fn read_new_link(call: &mut Call<'_>) -> ApiResult<NewLink> {
    let sandbox = call.sandbox();
    let mut p = call.params()?;
    let product_id = p.string("product_id", 100)?;
    let product_slug = p.string("product_slug", 64)?;
    let line_items = p.objects("line_items", 20)?;
    let amount = p.amount("amount")?;
    let families = [
        product_id.is_some() || product_slug.is_some(),
        line_items.is_some(),
        amount.is_some(),
    ];
    match families {
        [true, false, false] | [false, true, false] | [false, false, true] => {}
        [false, false, false] => {
            return Err(ApiError::invalid(
                "product_id",
                "Send productId or productSlug (or line_items, or amount with currency).",
            ));
        }
        [_, true, _] if families[0] => {
            return Err(ApiError::invalid(
                "line_items",
                "Send a product or line_items, not both.",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "amount",
                "An amount link has no product or line items.",
            ));
        }
    }
    if product_id.is_some() && product_slug.is_some() {
        return Err(ApiError::invalid(
            "product_slug",
            "Send productId or productSlug, not both.",
        ));
    }
    let name = p.string("name", 200)?;
    let currency = match p.currency("currency")? {
        Some(c) => Some(c),
        None => p.currency("currency_id")?,
    };
    let title = p.string("title", 200)?;
    let description = p.string("description", 5000)?;
    let multiple = p.boolean("multiple")?;
    let promotion_code = p.string("promotion_code", 64)?;
    let allow_promotion_codes = p.boolean("allow_promotion_codes")?.unwrap_or(false);
    let collect_payment_method = p
        .one_of("collect_payment_method", MODES_OF_PAYMENT)?
        .unwrap_or("always");
    let success_url = p
        .string("success_url", 2048)?
        .map(|u| {
            validate_redirect_url(&u, sandbox).map_err(|m| ApiError::invalid("success_url", m))
        })
        .transpose()?;
    let after_completion = read_after_completion(&mut p, sandbox)?;
    let custom_fields = read_custom_fields(&mut p)?.unwrap_or_default();
    let billing_address_collection = p
        .one_of("billing_address_collection", ADDRESS_COLLECTION)?
        .unwrap_or("auto");
    let customer_creation = p
        .one_of("customer_creation", MODES_OF_PAYMENT)?
        .unwrap_or("if_required");
    let submit_type = p.one_of("submit_type", SUBMIT_TYPES)?.unwrap_or("auto");
    let max_completions = p.integer("max_completions", 1, 1_000_000_000)?;
    let metadata = p.metadata("metadata")?;
    let active = p.boolean("active")?.unwrap_or(true);
    p.finish()?;

    let (success_url, after_completion) = reconcile_redirect(success_url, after_completion)?;
    let (kind, product, lines) = if let Some(items) = line_items {
        ("line_items", None, price_lines(call, items).await?)
    } else if let Some(amount) = amount {
        let currency = currency
            .ok_or_else(|| ApiError::invalid("currency", "An amount link needs a currency."))?;
        if amount < 1 {
            return Err(ApiError::invalid(
                "amount",
                "The amount must be at least 1 minor unit.",
            ));
        }
        let title = title
            .clone()
            .or(name.clone())
            .ok_or_else(|| ApiError::invalid("title", "An amount link needs a title."))?;
        let link = NewLink::amount(amount, currency, title, None, false);
        ("amount", None, link.line_items)
    } else {
        let product = match (&product_id, &product_slug) {
            (Some(id), _) => products::load(call, id, Some("product_id")).await?,
            (_, Some(slug)) => products::load_by_slug(call, slug, "product_slug").await?,
            _ => unreachable!("a product family link has an id or a slug"),
        };
        let param = if product_id.is_some() {
            "product_id"
        } else {
            "product_slug"
        };
        if product.active != 1 {
            return Err(ApiError::invalid(param, "This product is archived."));
        }
        let Some(line) = product.default_line() else {
            return Err(ApiError::invalid(
                param,
                "This product has no price yet; add one with POST /v1/prices.",
            ));
        };
        let line = line?;
        ("product", Some(product), vec![line])
    };
    let lines_currency = lines
        .first()
        .map(|l| l.currency.code().to_owned())
        .unwrap_or_default();
    if let Some(currency) = currency
        && currency.code() != lines_currency
    {
        return Err(ApiError::invalid(
            "currency",
            format!("The items are priced in {lines_currency}."),
        ));
    }
    subtotal(&lines)?;
    if let Some(code) = &promotion_code {
        check_promotion(call, code, &lines, "promotion_code").await?;
    }
    let single_use_default = kind == "amount";
    Ok(NewLink {
        kind,
        name: name
            .or_else(|| product.as_ref().map(|p| p.name.clone()))
            .or(title.clone()),
        product_id: product.as_ref().map(|p| p.id.clone()),
        product,
        amount: if kind == "amount" { amount } else { None },
        currency: Currency::parse(&lines_currency).ok(),
        line_items: if kind == "product" { Vec::new() } else { lines },
        title,
        description,
        multiple: multiple.unwrap_or(!single_use_default),
        promotion_code,
        allow_promotion_codes,
        collect_payment_method,
        success_url,
        after_completion,
        custom_fields,
        billing_address_collection,
        customer_creation,
        submit_type,
        max_completions,
        metadata,
        active,
        created_via: "api",
    })
}

/// `success_url` and a redirect `after_completion` say the same thing; keep them equal.
fn reconcile_redirect(
    success_url: Option<String>,
    after: Option<Value>,
) -> ApiResult<(Option<String>, Option<Value>)> {
    let after_url = after
        .as_ref()
        .and_then(|a| a["redirect"]["url"].as_str())
        .map(str::to_owned);
    match (success_url, after_url, after) {
        (Some(url), Some(other), _) if url != other => Err(ApiError::invalid(
            "success_url",
            "success_url and after_completion.redirect.url differ.",
        )),
        (Some(_), None, Some(_)) => Err(ApiError::invalid(
            "success_url",
            "success_url redirects; it cannot go with a hosted confirmation.",
        )),
        (Some(url), _, _) => Ok((
            Some(url.clone()),
            Some(json!({"type": "redirect", "redirect": {"url": url}})),
        )),
        (None, Some(url), after) => Ok((Some(url), after)),
        (None, None, after) => Ok((None, after)),
    }
}

/// The event of a link change and its fan-out, in the change's batch: `data` is `after`,
/// the link as the change leaves it, rendered as `GET` renders it. Written only when the
/// statement before it changed a row (an update that finds nothing to change writes no
/// event), unless `guard` says otherwise.
fn link_event(
    db: &worker::D1Database,
    kind: &str,
    after: &LinkRow,
    base: &str,
    now: i64,
    guard: Guard<'_>,
) -> ApiResult<Vec<worker::D1PreparedStatement>> {
    let data = render(after.clone(), base)?;
    let scope = Scope {
        account_id: &after.account_id,
        environment: &after.environment,
    };
    let event = Event {
        kind,
        object_id: &after.id,
        data: &data,
    };
    events::record(db, scope, vec![(event, guard)], now)
}

/// Stores a link with a fresh short code; answers its id.
pub async fn insert(call: &Call<'_>, link: &NewLink) -> ApiResult<String> {
    let principal = call.principal()?;
    let id = PaymentLinkId::generate();
    let now = db::now_unix();
    let db = db::db(call.ctx)?;
    for _ in 0..3 {
        let url_id = ShortCode::generate();
        let write = db
            .prepare(
                "INSERT INTO payment_links (id, account_id, environment, url_id, kind, name, product_id, line_items, amount,
                     currency, title, description, multiple, promotion_code, allow_promotion_codes, collect_payment_method,
                     success_url, after_completion, custom_fields, billing_address_collection, customer_creation,
                     submit_type, max_completions, metadata, active, created_via, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                         ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?27)",
            )
            .bind(&[
                id.as_str().js(),
                principal.account_id.js(),
                principal.environment.as_str().js(),
                url_id.as_str().js(),
                link.kind.js(),
                link.name.js(),
                link.product_id.js(),
                serde_json::to_string(&link.line_items)?.js(),
                link.amount.js(),
                link.currency.map(|c| c.code()).js(),
                link.title.js(),
                link.description.js(),
                link.multiple.js(),
                link.promotion_code.js(),
                link.allow_promotion_codes.js(),
                link.collect_payment_method.js(),
                link.success_url.js(),
                db::json_text(link.after_completion.as_ref()).js(),
                serde_json::to_string(&link.custom_fields)?.js(),
                link.billing_address_collection.js(),
                link.customer_creation.js(),
                link.submit_type.js(),
                link.max_completions.js(),
                db::json_text(link.metadata.clone().map(Value::Object).as_ref()).js(),
                link.active.js(),
                link.created_via.js(),
                now.js(),
            ])?;
        let created = link.row(id.as_str(), principal, url_id.as_str(), now)?;
        let mut batch = vec![write];
        batch.extend(link_event(
            &db,
            "payment_link.created",
            &created,
            &call.link_base(),
            now,
            Guard::Always,
        )?);
        let outcome = db.batch(batch).await;
        match outcome {
            Ok(_) => {
                crate::events::webhooks::send_soon(call.ctx);
                return Ok(id.to_string());
            }
            // A short-code collision (89 random bits): draw again.
            Err(error) if db::is_unique_violation(&error) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::internal("could not draw a unique short code"))
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let link = read_new_link(call).await?;
    let id = insert(call, &link).await?;
    Ok(Reply::created(render(
        load(call, &id).await?,
        &call.link_base(),
    )?))
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    let row = load(call, call.id()?).await?;
    let charges = load_charges(call.ctx, &row.id).await?;
    Ok(Reply::ok(render_with_charges(
        row,
        &call.link_base(),
        charges,
    )?))
}

pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = vec![Filter {
        condition: "deleted = 0",
        values: Vec::new(),
    }];
    filters.extend(Filter::active(call));
    let base = call.link_base();
    Ok(Reply::ok(
        crate::api::list::list(call, "payment_links_view", filters, |row| {
            render(row, &base)
        })
        .await?,
    ))
}

pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id).await?;
    let sandbox = call.sandbox();
    let mut p = call.params()?;
    for fixed in [
        "product_id",
        "product_slug",
        "line_items",
        "amount",
        "currency",
        "currency_id",
    ] {
        if p.has(fixed) {
            return Err(ApiError::invalid(
                fixed,
                "This cannot change after the link is created; create a new link.",
            ));
        }
    }
    let active = p.boolean("active")?.unwrap_or(row.active == 1);
    let name = p
        .patch("name", |p, f| p.string(f, 200))?
        .unwrap_or(row.name.clone());
    let title = p
        .patch("title", |p, f| p.string(f, 200))?
        .unwrap_or(row.title.clone());
    let description = p
        .patch("description", |p, f| p.string(f, 5000))?
        .unwrap_or(row.description.clone());
    let promotion_code = p
        .patch("promotion_code", |p, f| p.string(f, 64))?
        .unwrap_or(row.promotion_code.clone());
    let allow_promotion_codes = p
        .boolean("allow_promotion_codes")?
        .unwrap_or(row.allow_promotion_codes == 1);
    let collect_payment_method = p
        .one_of("collect_payment_method", MODES_OF_PAYMENT)?
        .map_or(row.collect_payment_method.clone(), str::to_owned);
    let success_url_patch = p.patch("success_url", |p, f| p.string(f, 2048))?;
    let after_patch = if p.has("after_completion") {
        Some(read_after_completion(&mut p, sandbox)?)
    } else {
        None
    };
    let custom_fields = match read_custom_fields(&mut p)? {
        Some(fields) => serde_json::to_string(&fields)?,
        None => row.custom_fields.clone(),
    };
    let billing_address_collection = p
        .one_of("billing_address_collection", ADDRESS_COLLECTION)?
        .map_or(row.billing_address_collection.clone(), str::to_owned);
    let customer_creation = p
        .one_of("customer_creation", MODES_OF_PAYMENT)?
        .map_or(row.customer_creation.clone(), str::to_owned);
    let submit_type = p
        .one_of("submit_type", SUBMIT_TYPES)?
        .map_or(row.submit_type.clone(), str::to_owned);
    let max_completions = p
        .patch("max_completions", |p, f| p.integer(f, 1, 1_000_000_000))?
        .unwrap_or(row.max_completions);
    let metadata = crate::api::list::patch_metadata(&mut p, row.metadata.as_deref())?;
    let multiple = p.boolean("multiple")?.unwrap_or(row.multiple == 1);
    p.finish()?;

    let (success_url, after_completion) = match (success_url_patch, after_patch) {
        (None, None) => (
            row.success_url.clone(),
            db::parse_json(row.after_completion.as_deref()),
        ),
        (Some(None), None) => (None, Value::Null),
        (url, after) => {
            let url = url
                .flatten()
                .map(|u| {
                    validate_redirect_url(&u, sandbox)
                        .map_err(|m| ApiError::invalid("success_url", m))
                })
                .transpose()?;
            let (url, after) = reconcile_redirect(url, after.flatten())?;
            (url, after.unwrap_or(Value::Null))
        }
    };
    if let Some(code) = &promotion_code
        && Some(code) != row.promotion_code.as_ref()
    {
        check_promotion(call, code, &row.priced_lines(), "promotion_code").await?;
    }
    if max_completions.is_some_and(|max| max < row.completed_count) {
        return Err(ApiError::invalid(
            "max_completions",
            format!(
                "The link already has {} completed payments.",
                row.completed_count
            ),
        ));
    }
    let principal = call.principal()?;
    // The WHERE repeats the completions check, so a payment completing meanwhile cannot
    // leave the limit below the count.
    let db = db::db(call.ctx)?;
    let now = db::now_unix();
    let after = LinkRow {
        active: i64::from(active),
        name: name.clone(),
        title: title.clone(),
        description: description.clone(),
        promotion_code: promotion_code.clone(),
        allow_promotion_codes: i64::from(allow_promotion_codes),
        collect_payment_method: collect_payment_method.clone(),
        success_url: success_url.clone(),
        after_completion: db::json_text(Some(&after_completion).filter(|v| !v.is_null())),
        custom_fields: custom_fields.clone(),
        billing_address_collection: billing_address_collection.clone(),
        customer_creation: customer_creation.clone(),
        submit_type: submit_type.clone(),
        max_completions,
        metadata: metadata.clone(),
        multiple: i64::from(multiple),
        updated_at: now,
        ..row.clone()
    };
    let mut batch = vec![
            db.prepare(
                "UPDATE payment_links SET active = ?1, name = ?2, title = ?3, description = ?4, promotion_code = ?5,
                     allow_promotion_codes = ?6, collect_payment_method = ?7, success_url = ?8, after_completion = ?9,
                     custom_fields = ?10, billing_address_collection = ?11, customer_creation = ?12, submit_type = ?13,
                     max_completions = ?14, metadata = ?15, multiple = ?16, updated_at = ?17
                 WHERE id = ?18 AND account_id = ?19 AND environment = ?20 AND deleted = 0
                   AND (?14 IS NULL OR completed_count <= ?14) AND (?16 = 1 OR completed_count <= 1)",
            )
            .bind(&[
                active.js(),
                name.js(),
                title.js(),
                description.js(),
                promotion_code.js(),
                allow_promotion_codes.js(),
                collect_payment_method.js(),
                success_url.js(),
                db::json_text(Some(&after_completion).filter(|v| !v.is_null())).js(),
                custom_fields.js(),
                billing_address_collection.js(),
                customer_creation.js(),
                submit_type.js(),
                max_completions.js(),
                metadata.js(),
                multiple.js(),
                now.js(),
                id.js(),
                principal.account_id.js(),
                principal.environment.as_str().js(),
            ])?,
    ];
    batch.extend(link_event(
        &db,
        "payment_link.updated",
        &after,
        &call.link_base(),
        now,
        Guard::Applied,
    )?);
    let results = db.batch(batch).await?;
    crate::links::shortlinks::forget(call.ctx, &row.url_id).await;
    if db::changes(&results, 0) == 0 {
        return Err(ApiError::conflict(
            "id",
            "The link was deleted or completed payments changed meanwhile; retry.",
        ));
    }
    crate::events::webhooks::send_soon(call.ctx);
    Ok(Reply::ok(render(
        load(call, &id).await?,
        &call.link_base(),
    )?))
}

/// Sets `active = 0` (and `deleted = 1` when deleting); both stop new payments at once.
/// A link that was already inactive (and deleted, when deleting) changes nothing and
/// makes no event.
async fn deactivate(call: &Call<'_>, id: &str, delete: bool) -> ApiResult<()> {
    let row = load(call, id).await?;
    let principal = call.principal()?;
    let db = db::db(call.ctx)?;
    let now = db::now_unix();
    let after = LinkRow {
        active: 0,
        deleted: row.deleted.max(i64::from(delete)),
        updated_at: now,
        ..row.clone()
    };
    let mut batch = vec![
        db.prepare(
            "UPDATE payment_links SET active = 0, deleted = MAX(deleted, ?4), updated_at = ?5
             WHERE id = ?1 AND account_id = ?2 AND environment = ?3 AND (active = 1 OR deleted < ?4)",
        )
        .bind(&[
            id.js(),
            principal.account_id.js(),
            principal.environment.as_str().js(),
            delete.js(),
            now.js(),
        ])?,
    ];
    batch.extend(link_event(
        &db,
        "payment_link.deactivated",
        &after,
        &call.link_base(),
        now,
        Guard::Applied,
    )?);
    db.batch(batch).await?;
    crate::links::shortlinks::forget(call.ctx, &row.url_id).await;
    crate::events::webhooks::send_soon(call.ctx);
    Ok(())
}

pub async fn delete(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    deactivate(call, &id, true).await?;
    Ok(Reply::ok(
        json!({"id": id, "object": "payment_link", "deleted": true}),
    ))
}

pub async fn archive(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    deactivate(call, &id, false).await?;
    Ok(Reply::ok(render(
        load(call, &id).await?,
        &call.link_base(),
    )?))
}

/// For the Omise dialect: destroy = delete, answering the link itself.
pub async fn destroy(call: &Call<'_>, id: &str) -> ApiResult<LinkRow> {
    deactivate(call, id, true).await?;
    load(call, id).await
}
