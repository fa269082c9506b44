//! Reading a payment link's definition from a request: the three families the documents
//! define (by a product, by line items, by an amount), the settings every link has, and a
//! PATCH of those settings onto a stored link.

use std::collections::HashSet;

use serde_json::{Map, Value, json};
use till_shared::money::{Currency, Money};
use till_shared::params::{Params, validate_redirect_url};
use till_shared::redirect::{AfterCompletion, RedirectError, reconcile_patch, reconcile_redirect};

use crate::api::call::Call;
use crate::catalog::lines::{LineItem, check_promotion, price_lines, subtotal};
use crate::catalog::products::{self, ProductRow};
use crate::error::{ApiError, ApiResult};
use crate::links::payment_links::{LinkRow, NewLink};

const MODES_OF_PAYMENT: &[&str] = &["always", "if_required"];
const ADDRESS_COLLECTION: &[&str] = &["auto", "required"];
const SUBMIT_TYPES: &[&str] = &["auto", "pay", "book", "donate", "subscribe"];
/// What a link sells, fixed once it is created.
const FIXED: &[&str] = &[
    "product_id",
    "product_slug",
    "line_items",
    "amount",
    "currency",
    "currency_id",
];

/// The one family a new link belongs to.
enum Family {
    Product {
        id: Option<String>,
        slug: Option<String>,
    },
    Lines(Vec<Params>),
    Amount(i64),
}

/// The settings every link has, as a create request sends them.
struct Settings {
    name: Option<String>,
    currency: Option<Currency>,
    title: Option<String>,
    description: Option<String>,
    multiple: Option<bool>,
    promotion_code: Option<String>,
    allow_promotion_codes: bool,
    collect_payment_method: &'static str,
    success_url: Option<String>,
    after_completion: Option<AfterCompletion>,
    custom_fields: Vec<Value>,
    billing_address_collection: &'static str,
    customer_creation: &'static str,
    submit_type: &'static str,
    max_completions: Option<i64>,
    metadata: Option<Map<String, Value>>,
    active: bool,
}

fn redirect_refused(error: RedirectError) -> ApiError {
    ApiError::invalid("success_url", error.to_string())
}

/// Reads a link definition in Till's dialect (the union of the three documents) and prices
/// it from the caller's catalogue.
pub async fn read_new_link(call: &mut Call<'_>) -> ApiResult<NewLink> {
    let sandbox = call.sandbox();
    let mut p = call.params()?;
    let family = read_family(&mut p)?;
    let settings = read_settings(&mut p, sandbox)?;
    p.finish()?;
    let (kind, product, lines) = price_family(call, family, &settings).await?;
    let lines_currency = lines.first().map(|l| l.currency.code()).unwrap_or_default();
    if let Some(currency) = settings.currency
        && currency.code() != lines_currency
    {
        // Well formed, but at odds with how the catalogue prices what is sold.
        return Err(ApiError::conflict(
            "currency",
            format!("The items are priced in {lines_currency}."),
        ));
    }
    subtotal(&lines)?;
    if let Some(code) = &settings.promotion_code {
        check_promotion(call, code, &lines, "promotion_code").await?;
    }
    Ok(new_link(kind, product, lines, settings))
}

/// Which family the request is: exactly one of a product (by id or slug), line items, an
/// amount.
fn read_family(p: &mut Params) -> ApiResult<Family> {
    let product_id = p.string("product_id", 100)?;
    let product_slug = p.string("product_slug", 64)?;
    let line_items = p.objects("line_items", 20)?;
    let amount = p.amount("amount")?;
    let by_product = product_id.is_some() || product_slug.is_some();
    match (by_product, line_items, amount) {
        (false, None, None) => Err(ApiError::invalid(
            "product_id",
            "Send productId or productSlug (or line_items, or amount with currency).",
        )),
        (true, Some(_), _) => Err(ApiError::invalid(
            "line_items",
            "Send a product or line_items, not both.",
        )),
        (true, None, Some(_)) | (false, Some(_), Some(_)) => Err(ApiError::invalid(
            "amount",
            "An amount link has no product or line items.",
        )),
        (true, None, None) if product_id.is_some() && product_slug.is_some() => Err(
            ApiError::invalid("product_slug", "Send productId or productSlug, not both."),
        ),
        (true, None, None) => Ok(Family::Product {
            id: product_id,
            slug: product_slug,
        }),
        (false, Some(items), None) => Ok(Family::Lines(items)),
        (false, None, Some(amount)) => Ok(Family::Amount(amount)),
    }
}

fn read_settings(p: &mut Params, sandbox: bool) -> ApiResult<Settings> {
    let name = p.string("name", 200)?;
    let currency = match (p.currency("currency")?, p.currency("currency_id")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "currency_id",
                "Send currency or currency_id, not both.",
            ));
        }
        (currency, currency_id) => currency.or(currency_id),
    };
    let title = p.string("title", 200)?;
    let description = p.string("description", 5000)?;
    let multiple = p.boolean("multiple")?;
    let promotion_code = p.string("promotion_code", 64)?;
    let allow_promotion_codes = p.boolean("allow_promotion_codes")?.unwrap_or(false);
    let collect_payment_method = p
        .one_of("collect_payment_method", MODES_OF_PAYMENT)?
        .unwrap_or("always");
    let success_url = read_success_url(p, sandbox)?.flatten();
    let after_completion = read_after_completion(p, sandbox)?.flatten();
    let (success_url, after_completion) =
        reconcile_redirect(success_url, after_completion).map_err(redirect_refused)?;
    Ok(Settings {
        name,
        currency,
        title,
        description,
        multiple,
        promotion_code,
        allow_promotion_codes,
        collect_payment_method,
        success_url,
        after_completion,
        custom_fields: read_custom_fields(p)?.unwrap_or_default(),
        billing_address_collection: p
            .one_of("billing_address_collection", ADDRESS_COLLECTION)?
            .unwrap_or("auto"),
        customer_creation: p
            .one_of("customer_creation", MODES_OF_PAYMENT)?
            .unwrap_or("if_required"),
        submit_type: p.one_of("submit_type", SUBMIT_TYPES)?.unwrap_or("auto"),
        max_completions: p.integer("max_completions", 1, 1_000_000_000)?,
        metadata: p.metadata("metadata")?,
        active: p.boolean("active")?.unwrap_or(true),
    })
}

/// The family's lines, priced now; a product link also answers its product.
async fn price_family(
    call: &Call<'_>,
    family: Family,
    settings: &Settings,
) -> ApiResult<(&'static str, Option<ProductRow>, Vec<LineItem>)> {
    match family {
        Family::Lines(items) => Ok(("line_items", None, price_lines(call, items).await?)),
        Family::Amount(amount) => {
            let currency = settings
                .currency
                .ok_or_else(|| ApiError::invalid("currency", "An amount link needs a currency."))?;
            if amount < 1 {
                return Err(ApiError::invalid(
                    "amount",
                    "The amount must be at least 1 minor unit.",
                ));
            }
            let title = settings
                .title
                .clone()
                .or(settings.name.clone())
                .ok_or_else(|| ApiError::invalid("title", "An amount link needs a title."))?;
            let amount = Money::from_minor(amount, currency)
                .map_err(|e| ApiError::invalid("amount", e.to_string()))?;
            Ok((
                "amount",
                None,
                vec![LineItem::for_amount(amount, Some(title))],
            ))
        }
        Family::Product { id, slug } => {
            let (product, param) = match (id, slug) {
                (Some(id), _) => (
                    products::load(call, &id, Some("product_id")).await?,
                    "product_id",
                ),
                (_, Some(slug)) => (
                    products::load_by_slug(call, &slug, "product_slug").await?,
                    "product_slug",
                ),
                _ => {
                    return Err(ApiError::internal(
                        "a product link with neither id nor slug",
                    ));
                }
            };
            let price =
                products::default_price(call.ctx, call.principal()?.seller(), &product, param)
                    .await?;
            let line = price.line(1, Some(product.name.clone()))?;
            Ok(("product", Some(product), vec![line]))
        }
    }
}

fn new_link(
    kind: &'static str,
    product: Option<ProductRow>,
    lines: Vec<LineItem>,
    settings: Settings,
) -> NewLink {
    let currency = lines.first().map(|l| l.currency);
    NewLink {
        kind,
        name: settings
            .name
            .or_else(|| product.as_ref().map(|p| p.name.clone()))
            .or(settings.title.clone()),
        product_id: product.as_ref().map(|p| p.id.clone()),
        product,
        amount: (kind == "amount")
            .then(|| lines.first().map(|l| l.amount))
            .flatten(),
        currency,
        line_items: if kind == "product" { Vec::new() } else { lines },
        title: settings.title,
        description: settings.description,
        // Amount links are single use unless told otherwise, as the links document has it.
        multiple: settings.multiple.unwrap_or(kind != "amount"),
        promotion_code: settings.promotion_code,
        allow_promotion_codes: settings.allow_promotion_codes,
        collect_payment_method: settings.collect_payment_method,
        success_url: settings.success_url,
        after_completion: settings.after_completion,
        custom_fields: settings.custom_fields,
        billing_address_collection: settings.billing_address_collection,
        customer_creation: settings.customer_creation,
        submit_type: settings.submit_type,
        max_completions: settings.max_completions,
        metadata: settings.metadata,
        active: settings.active,
        created_via: "api",
    }
}

/// A PATCH of a link's settings onto `row`: the link as the change would leave it (its
/// `updated_at` is the caller's). What a link sells cannot change.
pub fn read_patch(mut params: Params, row: &LinkRow, sandbox: bool) -> ApiResult<LinkRow> {
    let p = &mut params;
    if let Some(fixed) = FIXED.iter().find(|f| p.has(f)) {
        return Err(ApiError::invalid(
            *fixed,
            "This cannot change after the link is created; create a new link.",
        ));
    }
    let text = |p: &mut Params, field: &str, max: usize, stored: &Option<String>| {
        Ok::<_, ApiError>(
            p.patch(field, |p, f| p.string(f, max))?
                .unwrap_or(stored.clone()),
        )
    };
    let choice = |p: &mut Params, field: &str, allowed: &[&'static str], stored: &String| {
        Ok::<_, ApiError>(
            p.one_of(field, allowed)?
                .map_or(stored.clone(), str::to_owned),
        )
    };
    let flag = |p: &mut Params, field: &str, stored: bool| {
        Ok::<_, ApiError>(p.boolean(field)?.unwrap_or(stored))
    };
    let mut after = LinkRow {
        active: flag(p, "active", row.active)?,
        name: text(p, "name", 200, &row.name)?,
        title: text(p, "title", 200, &row.title)?,
        description: text(p, "description", 5000, &row.description)?,
        promotion_code: text(p, "promotion_code", 64, &row.promotion_code)?,
        allow_promotion_codes: flag(p, "allow_promotion_codes", row.allow_promotion_codes)?,
        collect_payment_method: choice(
            p,
            "collect_payment_method",
            MODES_OF_PAYMENT,
            &row.collect_payment_method,
        )?,
        ..row.clone()
    };
    patch_redirect(p, row, &mut after, sandbox)?;
    if let Some(fields) = read_custom_fields(p)? {
        after.custom_fields = serde_json::to_string(&fields)?;
    }
    after.billing_address_collection = choice(
        p,
        "billing_address_collection",
        ADDRESS_COLLECTION,
        &row.billing_address_collection,
    )?;
    after.customer_creation = choice(
        p,
        "customer_creation",
        MODES_OF_PAYMENT,
        &row.customer_creation,
    )?;
    after.submit_type = choice(p, "submit_type", SUBMIT_TYPES, &row.submit_type)?;
    after.max_completions = p
        .patch("max_completions", |p, f| p.integer(f, 1, 1_000_000_000))?
        .unwrap_or(row.max_completions);
    after.metadata = crate::api::list::patch_metadata(p, row.metadata.as_deref())?;
    after.multiple = flag(p, "multiple", row.multiple)?;
    params.finish()?;
    Ok(after)
}

/// `success_url` and `after_completion` of a PATCH, reconciled with each other (and kept
/// as stored when neither is sent).
fn patch_redirect(
    p: &mut Params,
    row: &LinkRow,
    after: &mut LinkRow,
    sandbox: bool,
) -> ApiResult<()> {
    let url = read_success_url(p, sandbox)?;
    let completion = read_after_completion(p, sandbox)?;
    let stored = (
        row.success_url.clone(),
        AfterCompletion::from_stored(row.after_completion.as_deref()),
    );
    let (url, completion) = reconcile_patch(stored, url, completion).map_err(redirect_refused)?;
    after.success_url = url;
    after.after_completion = completion.map(|c| serde_json::to_string(&c)).transpose()?;
    Ok(())
}

/// `success_url`: not sent, sent as null, or a checked URL.
fn read_success_url(p: &mut Params, sandbox: bool) -> ApiResult<Option<Option<String>>> {
    let Some(url) = p.patch("success_url", |p, f| p.string(f, 2048))? else {
        return Ok(None);
    };
    url.map(|u| validate_redirect_url(&u, sandbox).map_err(|m| ApiError::invalid("success_url", m)))
        .transpose()
        .map(Some)
}

/// `after_completion`: not sent, sent as null, `{type: redirect, redirect: {url}}` or
/// `{type: hosted_confirmation, hosted_confirmation: {custom_message?}}`.
fn read_after_completion(
    p: &mut Params,
    sandbox: bool,
) -> ApiResult<Option<Option<AfterCompletion>>> {
    if !p.has("after_completion") {
        return Ok(None);
    }
    let Some(mut after) = p.object("after_completion")? else {
        return Ok(Some(None));
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
        AfterCompletion::redirect(url)
    } else {
        let message = match after.object("hosted_confirmation")? {
            Some(mut confirmation) => {
                let message = confirmation.string("custom_message", 1000)?;
                confirmation.finish()?;
                message
            }
            None => None,
        };
        AfterCompletion::hosted(message)
    };
    after.finish()?;
    Ok(Some(Some(value)))
}

/// Up to three fields the shopper fills in: text, numeric, or a dropdown of options.
fn read_custom_fields(p: &mut Params) -> ApiResult<Option<Vec<Value>>> {
    let Some(fields) = p.objects("custom_fields", 3)? else {
        return Ok(None);
    };
    let mut keys = HashSet::new();
    let mut out = Vec::new();
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
        out.push(read_custom_field(field, key)?);
    }
    Ok(Some(out))
}

/// One custom field after its key: label, type, whether optional, dropdown options.
fn read_custom_field(mut field: Params, key: String) -> ApiResult<Value> {
    let label = read_label(&mut field)?;
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
    Ok(json!({
        "key": key,
        "label": {"type": "custom", "custom": label},
        "type": kind,
        "optional": optional,
        "dropdown": if kind == "dropdown" { json!({"options": options}) } else { Value::Null },
    }))
}

/// A label as text, or as Stripe's `{type: custom, custom: text}`: 1–50 characters.
fn read_label(field: &mut Params) -> ApiResult<String> {
    let fits = |text: &str| !text.trim().is_empty() && text.chars().count() <= 50;
    match field.raw("label") {
        Some(Value::String(text)) if fits(&text) => Ok(text),
        Some(Value::Object(map)) => match map.get("custom").and_then(Value::as_str) {
            Some(text) if fits(text) => Ok(text.to_owned()),
            _ => Err(ApiError::invalid(
                field.name("label"),
                "A label is 1–50 characters.",
            )),
        },
        _ => Err(ApiError::invalid(
            field.name("label"),
            "A label is 1–50 characters.",
        )),
    }
}
