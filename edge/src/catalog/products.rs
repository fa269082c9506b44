//! Products: what a merchant sells, with a unique slug per account and a default price.
//! Created with the price nested (`price: {amount, currency, …}`) or in the subscription
//! document's flat form (`txamt`, `txcurrcd`, `interval`, …).

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::catalog::{is_valid_slug, slugify};
use till_shared::ids::{PriceId, ProductId, random_base62};
use till_shared::keys::Environment;
use till_shared::params::Params;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::catalog::prices::{self, PriceSpec};
use crate::ctx::Ctx;
use crate::db::{self, Bind, Seller, Sql};
use crate::error::{ApiError, ApiResult};

#[derive(Clone, Deserialize)]
pub struct ProductRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub images: String,
    pub metadata: Option<String>,
    #[serde(deserialize_with = "crate::db::columns::flag")]
    pub active: bool,
    pub default_price_id: Option<String>,
    pub environment: Environment,
    pub created_at: i64,
    pub updated_at: i64,
    pub price_amount: Option<i64>,
    pub price_currency: Option<String>,
    pub price_type: Option<String>,
    pub price_interval: Option<String>,
    pub price_interval_count: Option<i64>,
    /// The prices a subscriber may switch between in the customer portal (JSON array).
    #[serde(default)]
    pub portal_prices: Option<String>,
}

/// What a product sells by default: its default price, while the product is active and
/// has one. The one place that decides it, for links, sessions and subscriptions by
/// product.
pub async fn default_price(
    ctx: &Ctx,
    seller: Seller<'_>,
    product: &ProductRow,
    param: &str,
) -> ApiResult<prices::PriceRow> {
    if !product.active {
        return Err(ApiError::conflict(param, "This product is archived."));
    }
    let price_id = product.default_price_id.as_deref().ok_or_else(|| {
        ApiError::conflict(
            param,
            "This product has no price yet; add one with POST /v1/prices.",
        )
    })?;
    prices::sellable(ctx, seller, price_id, param).await
}

/// `ONE_TIME` or `SUBSCRIPTION`, as the payment-link document's product summary says.
pub fn summary_type(price_type: Option<&str>) -> &'static str {
    if price_type == Some("recurring") {
        "SUBSCRIPTION"
    } else {
        "ONE_TIME"
    }
}

pub fn render(row: ProductRow) -> ApiResult<Value> {
    let default_price = row.default_price_id.as_ref().map(|id| {
        json!({
            "id": id,
            "amount": row.price_amount,
            "currency": row.price_currency,
            "type": row.price_type,
            "recurring": row.price_interval.as_ref().map(|interval| json!({
                "interval": interval,
                "interval_count": row.price_interval_count.unwrap_or(1),
            })),
        })
    });
    Ok(json!({
        "id": row.id,
        "object": "product",
        "name": row.name,
        "slug": row.slug,
        "description": row.description,
        "images": db::parse_json(Some(&row.images)),
        "metadata": db::parse_json(row.metadata.as_deref()),
        "active": row.active,
        "default_price": default_price,
        "price": row.price_amount,
        "currency": row.price_currency,
        "type": summary_type(row.price_type.as_deref()),
        "portal_prices": db::parse_json(row.portal_prices.as_deref()),
        "livemode": row.environment == Environment::Production,
        "environment": row.environment,
        "created_at": iso(row.created_at)?,
        "updated_at": iso(row.updated_at)?,
    }))
}

/// A product of the caller's, or 404 naming `param`.
pub async fn load(call: &Call<'_>, id: &str, param: Option<&str>) -> ApiResult<ProductRow> {
    find(call.ctx, call.principal()?.seller(), id, param).await
}

/// A product of `seller`'s, or 404 naming `param`.
pub async fn find(
    ctx: &Ctx,
    seller: Seller<'_>,
    id: &str,
    param: Option<&str>,
) -> ApiResult<ProductRow> {
    db::find_in(ctx, "products_view", seller, id)
        .await?
        .ok_or_else(|| ApiError::not_found("product", id, param))
}

/// A product of the caller's by slug, or 404 naming `param`.
pub async fn load_by_slug(call: &Call<'_>, slug: &str, param: &str) -> ApiResult<ProductRow> {
    find_by_slug(call.ctx, call.principal()?.seller(), slug, param).await
}

/// A product of `seller`'s by slug, or 404 naming `param`.
pub async fn find_by_slug(
    ctx: &Ctx,
    seller: Seller<'_>,
    slug: &str,
    param: &str,
) -> ApiResult<ProductRow> {
    Sql::new(
        "SELECT * FROM products_view
         WHERE slug = :slug AND account_id = :account AND environment = :environment",
    )
    .bind("slug", slug)
    .selling(seller)
    .prepare(&db::db(ctx)?)?
    .first(None)
    .await?
    .ok_or_else(|| ApiError::not_found("product with slug", slug, Some(param)))
}

fn read_images(p: &mut Params) -> ApiResult<Option<Vec<String>>> {
    let Some(images) = p.strings("images", 8)? else {
        return Ok(None);
    };
    for (i, image) in images.iter().enumerate() {
        if !till_shared::catalog::is_image_url(image) {
            return Err(ApiError::invalid(
                format!("images[{i}]"),
                "Images must be https URLs on a named host.",
            ));
        }
    }
    Ok(Some(images))
}

fn read_slug(p: &mut Params) -> ApiResult<Option<String>> {
    let Some(slug) = p.string("slug", 64)? else {
        return Ok(None);
    };
    if !is_valid_slug(&slug) {
        return Err(ApiError::invalid(
            "slug",
            "Slugs are 1–64 lower-case letters, digits and single hyphens.",
        ));
    }
    Ok(Some(slug))
}

/// A product about to be stored, with its first price if one was sent.
struct NewProduct {
    name: String,
    slug: Option<String>,
    description: Option<String>,
    images: Vec<String>,
    metadata: Option<String>,
    active: bool,
    price: Option<PriceSpec>,
}

/// The product and its price, nested (`price: {amount, currency, …}`) or flat (`txamt`,
/// `txcurrcd`, …), not both.
fn read_new_product(mut p: Params, sandbox: bool) -> ApiResult<NewProduct> {
    let name = p.required_string("name", 200)?;
    let slug = read_slug(&mut p)?;
    let description = p.string("description", 5000)?;
    let images = read_images(&mut p)?.unwrap_or_default();
    let metadata = db::json_text(p.metadata("metadata")?.map(Value::Object).as_ref());
    let active = p.boolean("active")?.unwrap_or(true);
    let flat = prices::read_flat_spec(&mut p, sandbox)?;
    let nested: Option<PriceSpec> = match p.object("price")? {
        Some(mut price) => {
            let spec = prices::read_spec(&mut price, sandbox)?;
            price.finish()?;
            Some(spec)
        }
        None => None,
    };
    p.finish()?;
    if flat.is_some() && nested.is_some() {
        return Err(ApiError::invalid(
            "price",
            "Send the price nested in `price` or as txamt/txcurrcd, not both.",
        ));
    }
    Ok(NewProduct {
        name,
        slug,
        description,
        images,
        metadata,
        active,
        price: flat.or(nested),
    })
}

/// A slug made from the name, with a random suffix when `suffixed` (the plain one was
/// taken) or when the name has nothing to make one of.
fn derived_slug(name: &str, suffixed: bool) -> String {
    let base = slugify(name);
    let suffix = random_base62(6).to_ascii_lowercase();
    match (base.is_empty(), suffixed) {
        (true, _) => format!("product-{suffix}"),
        (false, false) => base,
        (false, true) => format!("{base}-{suffix}"),
    }
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let sandbox = call.sandbox();
    let product = read_new_product(call.params()?, sandbox)?;
    let principal = call.principal()?.clone();
    let product_id = ProductId::generate();
    let price_id = product.price.as_ref().map(|_| PriceId::generate());
    let now = db::now_unix();
    let db = db::db(call.ctx)?;
    // A derived slug that is taken gets a short random suffix; a chosen one is the merchant's
    // to fix (409).
    let mut slug = product
        .slug
        .clone()
        .unwrap_or_else(|| derived_slug(&product.name, false));
    for attempt in 0..3 {
        let mut statements = vec![
            Sql::new(
                "INSERT INTO products (id, account_id, environment, name, slug, description, images,
                     metadata, active, default_price_id, created_at, updated_at)
                 VALUES (:id, :account, :environment, :name, :slug, :description, :images,
                     :metadata, :active, :default_price_id, :now, :now)",
            )
            .bind("id", product_id.as_str())
            .scoped(&principal)
            .bind("name", product.name.as_str())
            .bind("slug", slug.as_str())
            .bind("description", product.description.clone())
            .bind("images", serde_json::to_string(&product.images)?)
            .bind("metadata", product.metadata.clone())
            .bind("active", product.active)
            .bind("default_price_id", price_id.as_ref().map(|id| id.to_string()))
            .bind("now", now)
            .prepare(&db)?,
        ];
        if let (Some(spec), Some(price_id)) = (&product.price, &price_id) {
            statements.push(prices::insert(
                &db,
                &principal,
                price_id.as_str(),
                product_id.as_str(),
                spec,
                now,
            )?);
        }
        match db.batch(statements).await {
            Ok(_) => break,
            Err(error) if db::is_unique_violation(&error) && product.slug.is_some() => {
                return Err(ApiError::conflict(
                    "slug",
                    format!("The slug `{slug}` is already used by another product."),
                ));
            }
            Err(error) if db::is_unique_violation(&error) && attempt < 2 => {
                slug = derived_slug(&product.name, true);
            }
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Ok(Reply::created(render(
        load(call, product_id.as_str(), None).await?,
    )?))
}

/// A publishable key sees an active product only, without the merchant's metadata.
pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?;
    let product = load(call, id, None).await?;
    if call.publishable() {
        if !product.active {
            return Err(ApiError::not_found("product", id, None));
        }
        return Ok(Reply::ok(prices::shown_to(true, render(product)?)));
    }
    Ok(Reply::ok(render(product)?))
}

pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    if call.publishable() {
        filters.push(Filter::always("active = 1"));
    } else {
        filters.extend(Filter::active(call));
    }
    if let Some(name) = call.query("name") {
        filters.push(Filter::eq("name = :name", name));
    }
    if let Some(currency) = call.query("currency").or(call.query("txcurrcd")) {
        filters.push(Filter::eq(
            "price_currency = :currency",
            currency.to_ascii_uppercase(),
        ));
    }
    let publishable = call.publishable();
    let shown = |row| render(row).map(|product| prices::shown_to(publishable, product));
    Ok(Reply::ok(
        crate::api::list::list(call, "products_view", filters, shown).await?,
    ))
}

/// The prices a subscriber may switch between in the portal: recurring prices of this
/// product, each once (an empty list turns switching off).
async fn switchable_prices(
    call: &Call<'_>,
    product_id: &str,
    ids: Vec<String>,
) -> ApiResult<Vec<String>> {
    let mut kept: Vec<String> = Vec::with_capacity(ids.len());
    for price_id in ids {
        let price = prices::load(call, &price_id, Some("portal_prices")).await?;
        if price.product_id != product_id || price.kind != "recurring" {
            return Err(ApiError::invalid(
                "portal_prices",
                format!("`{price_id}` is not a recurring price of this product."),
            ));
        }
        if !kept.contains(&price_id) {
            kept.push(price_id);
        }
    }
    Ok(kept)
}

pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id, None).await?;
    let mut p = call.params()?;
    let name = p
        .string("name", 200)?
        .filter(|n| !n.is_empty())
        .unwrap_or(row.name);
    let slug = read_slug(&mut p)?.unwrap_or(row.slug);
    let description = p
        .patch("description", |p, f| p.string(f, 5000))?
        .unwrap_or(row.description);
    let images = match read_images(&mut p)? {
        Some(images) => serde_json::to_string(&images)?,
        None => row.images,
    };
    let metadata = crate::api::list::patch_metadata(&mut p, row.metadata.as_deref())?;
    let active = p.boolean("active")?.unwrap_or(row.active);
    let default_price = p.string("default_price", 100)?;
    let portal_prices = p.patch("portal_prices", |p, f| p.strings(f, 20))?;
    p.finish()?;
    let portal_prices = match portal_prices {
        Some(Some(ids)) => Some(Some(switchable_prices(call, &id, ids).await?)),
        Some(None) => Some(None),
        None => None,
    }
    .map_or(row.portal_prices, |ids| {
        ids.map(|ids| json!(ids).to_string())
    });
    let default_price = match default_price {
        Some(price_id) => {
            let price = prices::load(call, &price_id, Some("default_price")).await?;
            if price.product_id != id {
                return Err(ApiError::invalid(
                    "default_price",
                    "The default price must belong to this product.",
                ));
            }
            Some(price_id)
        }
        None => row.default_price_id,
    };
    let outcome = db::update_scoped(
        call.ctx,
        call.principal()?,
        "products",
        "name = :name, slug = :slug, description = :description, images = :images,
         metadata = :metadata, active = :active, default_price_id = :default_price_id,
         portal_prices = :portal_prices, updated_at = :now",
        &id,
        vec![
            ("name", name.js()),
            ("slug", slug.js()),
            ("description", description.js()),
            ("images", images.js()),
            ("metadata", metadata.js()),
            ("active", active.js()),
            ("default_price_id", default_price.js()),
            ("portal_prices", portal_prices.js()),
            ("now", db::now_unix().js()),
        ],
    )
    .await;
    match outcome {
        Ok(_) => {
            links_of_product_changed(call, &id)?;
            Ok(Reply::ok(render(load(call, &id, None).await?)?))
        }
        Err(error) if db::violated_unique(&error) => Err(ApiError::conflict(
            "slug",
            "That slug is already used by another product.",
        )),
        Err(error) => Err(error),
    }
}

pub async fn archive(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    load(call, &id, None).await?;
    db::update_scoped(
        call.ctx,
        call.principal()?,
        "products",
        "active = 0, updated_at = :now",
        &id,
        vec![("now", db::now_unix().js())],
    )
    .await?;
    links_of_product_changed(call, &id)?;
    Ok(Reply::ok(render(load(call, &id, None).await?)?))
}

/// After a change to product `id`: the short-link snapshots of its links are written
/// again (what a link page and a preview show is the product's name and price).
pub fn links_of_product_changed(call: &Call<'_>, id: &str) -> ApiResult<()> {
    let ctx = call.ctx;
    till_links::snapshot::refresh_product(&ctx.env, &ctx.ctx, &call.principal()?.account_id, id);
    Ok(())
}
