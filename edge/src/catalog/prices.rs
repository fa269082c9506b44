//! Prices: an amount in minor units of a currency, one-time or recurring, belonging to a
//! product. Amounts never change once created (sessions and links rely on that); a new
//! price replaces an old one.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use till_shared::catalog::{Interval, purchasable};
use till_shared::ids::PriceId;
use till_shared::keys::Environment;
use till_shared::money::Currency;
use till_shared::params::Params;
use till_shared::pricing::{LineItem, PriceRecord, PriceType};
use worker::{D1Database, D1PreparedStatement};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::db::{self, Bind, Principal, Seller, Sql};
use crate::error::{ApiError, ApiResult};

/// A price as it is about to be stored.
pub struct PriceSpec {
    pub amount: i64,
    pub currency: Currency,
    pub recurring: Option<Recurring>,
    pub nickname: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

pub struct Recurring {
    pub interval: Interval,
    pub interval_count: i64,
    pub usage_type: String,
}

/// The nested form: `{amount, currency, type?, interval?, interval_count?, usage_type?,
/// nickname?, metadata?}`.
pub fn read_spec(p: &mut Params, sandbox: bool) -> ApiResult<PriceSpec> {
    let amount = p
        .amount("amount")?
        .ok_or_else(|| ApiError::invalid(p.name("amount"), "This field is required."))?;
    let currency = p
        .currency("currency")?
        .ok_or_else(|| ApiError::invalid(p.name("currency"), "This field is required."))?;
    let kind = p.one_of("type", &["one_time", "recurring"])?;
    let recurring = read_recurring(p, "interval", sandbox, kind)?;
    let spec = PriceSpec {
        amount,
        currency,
        recurring,
        nickname: p.string("nickname", 200)?,
        metadata: p.metadata("metadata")?,
    };
    check_amount(p, "amount", &spec)?;
    Ok(spec)
}

/// The subscription document's flat product form: `txamt`, `txcurrcd`, `interval`
/// (`monthly`, `yearly`, `minutes`…), `interval_count`, `usage_type`, `type: recurring`.
/// `None` when the body does not use it.
pub fn read_flat_spec(p: &mut Params, sandbox: bool) -> ApiResult<Option<PriceSpec>> {
    if !p.sent("txamt") && !p.sent("txcurrcd") {
        p.forget_nulls(&[
            "txamt",
            "txcurrcd",
            "type",
            "interval",
            "interval_count",
            "usage_type",
        ]);
        return Ok(None);
    }
    let amount = p
        .amount("txamt")?
        .ok_or_else(|| ApiError::invalid("txamt", "This field is required."))?;
    let currency = p
        .currency("txcurrcd")?
        .ok_or_else(|| ApiError::invalid("txcurrcd", "This field is required."))?;
    let kind = p.one_of("type", &["one_time", "recurring"])?;
    let recurring = read_recurring(p, "interval", sandbox, kind.or(Some("recurring")))?;
    let spec = PriceSpec {
        amount,
        currency,
        recurring,
        nickname: None,
        metadata: None,
    };
    check_amount(p, "txamt", &spec)?;
    Ok(Some(spec))
}

fn check_amount(p: &Params, field: &str, spec: &PriceSpec) -> ApiResult<()> {
    if spec.amount < 1 {
        return Err(ApiError::invalid(
            p.name(field),
            "Prices must be at least 1 minor unit of the currency.",
        ));
    }
    Ok(())
}

fn read_recurring(
    p: &mut Params,
    field: &str,
    sandbox: bool,
    kind: Option<&str>,
) -> ApiResult<Option<Recurring>> {
    let interval_text = p.string(field, 32)?;
    let count = p.integer("interval_count", 1, 1000)?;
    let usage_type = p
        .one_of("usage_type", &["licensed"])?
        .unwrap_or("licensed")
        .to_owned();
    let Some(text) = interval_text else {
        if kind == Some("recurring") {
            return Err(ApiError::invalid(
                p.name(field),
                "Recurring prices need an interval (DAY, WEEK, MONTH, YEAR).",
            ));
        }
        if count.is_some() {
            return Err(ApiError::invalid(
                p.name("interval_count"),
                "interval_count needs an interval.",
            ));
        }
        return Ok(None);
    };
    if kind == Some("one_time") {
        return Err(ApiError::invalid(
            p.name(field),
            "One-time prices have no interval.",
        ));
    }
    let interval = Interval::parse(&text).ok_or_else(|| {
        ApiError::invalid(
            p.name(field),
            "Must be one of DAY, WEEK, MONTH, YEAR (MINUTE and HOUR with test keys).",
        )
    })?;
    if !interval.allowed(sandbox) {
        return Err(ApiError::invalid(
            p.name(field),
            "MINUTE and HOUR intervals are available only with test keys.",
        ));
    }
    Ok(Some(Recurring {
        interval,
        interval_count: count.unwrap_or(1),
        usage_type,
    }))
}

/// The INSERT for a new price.
pub fn insert(
    db: &D1Database,
    principal: &Principal,
    id: &str,
    product_id: &str,
    spec: &PriceSpec,
    now: i64,
) -> ApiResult<D1PreparedStatement> {
    let recurring = spec.recurring.as_ref();
    let price_type = if recurring.is_some() {
        PriceType::Recurring
    } else {
        PriceType::OneTime
    };
    Sql::new(
        "INSERT INTO prices (id, account_id, environment, product_id, nickname, amount, currency,
             type, interval, interval_count, usage_type, metadata, created_at)
         VALUES (:id, :account, :environment, :product_id, :nickname, :amount, :currency,
             :type, :interval, :interval_count, :usage_type, :metadata, :now)",
    )
    .bind("id", id)
    .scoped(principal)
    .bind("product_id", product_id)
    .bind("nickname", spec.nickname.clone())
    .bind("amount", spec.amount)
    .bind("currency", spec.currency.code())
    .bind("type", price_type.as_str())
    .bind("interval", recurring.map(|r| r.interval.as_str()))
    .bind("interval_count", recurring.map(|r| r.interval_count))
    .bind("usage_type", recurring.map(|r| r.usage_type.clone()))
    .bind(
        "metadata",
        db::json_text(spec.metadata.clone().map(Value::Object).as_ref()),
    )
    .bind("now", now)
    .prepare(db)
}

#[derive(Deserialize)]
pub struct PriceRow {
    pub id: String,
    pub product_id: String,
    pub nickname: Option<String>,
    pub amount: i64,
    pub currency: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub interval: Option<String>,
    pub interval_count: Option<i64>,
    pub usage_type: Option<String>,
    pub metadata: Option<String>,
    #[serde(deserialize_with = "crate::db::columns::flag")]
    pub active: bool,
    pub environment: Environment,
    pub created_at: i64,
}

impl PriceRow {
    /// `quantity` units of this price: a line of a link, a session or a subscription.
    pub fn line(&self, quantity: i64, name: Option<String>) -> ApiResult<LineItem> {
        let price = PriceRecord {
            price_id: Some(&self.id),
            product_id: Some(&self.product_id),
            amount: self.amount,
            currency: &self.currency,
            price_type: &self.kind,
            interval: self.interval.as_deref(),
            interval_count: self.interval_count,
        };
        LineItem::from_price(&price, quantity, name).map_err(ApiError::internal)
    }
}

pub fn render(row: PriceRow) -> ApiResult<Value> {
    let recurring = row.interval.as_ref().map(|interval| {
        json!({
            "interval": interval,
            "interval_count": row.interval_count.unwrap_or(1),
            "usage_type": row.usage_type.as_deref().unwrap_or("licensed"),
        })
    });
    Ok(json!({
        "id": row.id,
        "object": "price",
        "product": row.product_id,
        "product_id": row.product_id,
        "active": row.active,
        "amount": row.amount,
        "currency": row.currency,
        "type": row.kind,
        "recurring": recurring,
        "nickname": row.nickname,
        "metadata": db::parse_json(row.metadata.as_deref()),
        "livemode": row.environment == Environment::Production,
        "created_at": iso(row.created_at)?,
    }))
}

/// A price of the caller's, or 404 naming `param`.
pub async fn load(call: &Call<'_>, id: &str, param: Option<&str>) -> ApiResult<PriceRow> {
    find(call.ctx, call.principal()?.seller(), id, param).await
}

/// A price of `seller`'s that can be sold now ([`till_shared::catalog::purchasable`]): a 409
/// naming `param` when there is none (`resource_missing`) or when the price or its product
/// is archived (`conflict`): a well-formed request at odds with the catalogue.
pub async fn sellable(ctx: &Ctx, seller: Seller<'_>, id: &str, param: &str) -> ApiResult<PriceRow> {
    #[derive(serde::Deserialize)]
    struct ProductState {
        #[serde(deserialize_with = "crate::db::columns::flag")]
        active: bool,
    }
    let price = find(ctx, seller, id, Some(param)).await?;
    let product: Option<ProductState> =
        db::find_in(ctx, "products", seller, &price.product_id).await?;
    purchasable(price.active, product.is_some_and(|p| p.active))
        .map_err(|refused| ApiError::conflict(param, refused.to_string()))?;
    Ok(price)
}

/// Whether every priced line of `lines` (a link's, as its snapshot has them) can still be
/// sold: one query for all of them.
pub async fn all_sellable(ctx: &Ctx, seller: Seller<'_>, lines: &[LineItem]) -> ApiResult<bool> {
    let ids: Vec<&str> = lines.iter().filter_map(|l| l.price_id.as_deref()).collect();
    if ids.is_empty() {
        return Ok(true);
    }
    #[derive(serde::Deserialize)]
    struct Sellable {
        n: i64,
    }
    let found: Option<Sellable> = Sql::new(
        "SELECT count(*) AS n FROM prices p JOIN products pr ON pr.id = p.product_id
         WHERE p.id IN (SELECT value FROM json_each(:ids))
           AND p.account_id = :account AND p.environment = :environment
           AND p.active = 1 AND pr.active = 1",
    )
    .bind("ids", serde_json::to_string(&ids)?)
    .selling(seller)
    .prepare(&db::db(ctx)?)?
    .first(None)
    .await?;
    let distinct = ids.iter().collect::<std::collections::BTreeSet<_>>().len();
    Ok(found.is_some_and(|f| f.n == distinct as i64))
}

/// A price of `seller`'s, or 404 naming `param`.
pub async fn find(
    ctx: &Ctx,
    seller: Seller<'_>,
    id: &str,
    param: Option<&str>,
) -> ApiResult<PriceRow> {
    db::find_in(ctx, "prices", seller, id)
        .await?
        .ok_or_else(|| ApiError::not_found("price", id, param))
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let sandbox = call.sandbox();
    let mut p = call.params()?;
    let product_id = match (p.string("product", 100)?, p.string("product_id", 100)?) {
        (Some(id), None) | (None, Some(id)) if !id.is_empty() => id,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "product_id",
                "Send product or product_id, not both.",
            ));
        }
        _ => return Err(ApiError::invalid("product", "This field is required.")),
    };
    let spec = read_spec(&mut p, sandbox)?;
    p.finish()?;
    let principal = call.principal()?;
    crate::catalog::products::load(call, &product_id, Some("product")).await?;
    let id = PriceId::generate();
    let db = db::db(call.ctx)?;
    insert(
        &db,
        principal,
        id.as_str(),
        &product_id,
        &spec,
        db::now_unix(),
    )?
    .run()
    .await?;
    Ok(Reply::created(render(
        load(call, id.as_str(), None).await?,
    )?))
}

/// A price as a publishable key sees it: only one that can be sold, and without the
/// merchant's metadata.
pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?;
    if call.publishable() {
        let seller = call.principal()?.seller();
        // Not for sale reads as not there; a failure on our side stays one.
        let price = sellable(call.ctx, seller, id, "id")
            .await
            .map_err(|error| match error {
                ApiError::Client { .. } => ApiError::not_found("price", id, None),
                internal => internal,
            })?;
        return Ok(Reply::ok(shown_to(true, render(price)?)));
    }
    Ok(Reply::ok(render(load(call, id, None).await?)?))
}

/// A catalogue object as the caller is shown it: to a publishable key (`publishable`),
/// without `metadata`.
pub fn shown_to(publishable: bool, mut object: Value) -> Value {
    if publishable && let Some(fields) = object.as_object_mut() {
        fields.remove("metadata");
    }
    object
}

/// With a publishable key, only prices that can be sold, without metadata.
pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    if let Some(product) = call.query("product").or(call.query("product_id")) {
        filters.push(Filter::eq("product_id = :product", product));
    }
    let publishable = call.publishable();
    if publishable {
        filters.push(Filter::always("active = 1"));
        filters.push(Filter::always(
            "product_id IN (SELECT id FROM products WHERE active = 1)",
        ));
    } else {
        filters.extend(Filter::active(call));
    }
    let shown = |row| render(row).map(|price| shown_to(publishable, price));
    Ok(Reply::ok(
        crate::api::list::list(call, "prices_view", filters, shown).await?,
    ))
}

pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id, None).await?;
    let mut p = call.params()?;
    let active = p.boolean("active")?.unwrap_or(row.active);
    let nickname = p
        .patch("nickname", |p, f| p.string(f, 200))?
        .unwrap_or(row.nickname.clone());
    let metadata = crate::api::list::patch_metadata(&mut p, row.metadata.as_deref())?;
    p.finish()?;
    db::update_scoped(
        call.ctx,
        call.principal()?,
        "prices",
        "active = :active, nickname = :nickname, metadata = :metadata",
        &id,
        vec![
            ("active", active.js()),
            ("nickname", nickname.js()),
            ("metadata", metadata.js()),
        ],
    )
    .await?;
    crate::catalog::products::links_of_product_changed(call, &row.product_id)?;
    Ok(Reply::ok(render(load(call, &id, None).await?)?))
}
