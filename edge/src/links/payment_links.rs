//! Payment links: one model for the three ways the documents define a link — by a product
//! (`productId` / `productSlug`), by line items (`line_items` of prices and quantities), or
//! by an amount (`amount`, `currency`, `title`). Every link has a Base62 short code whose
//! URL is the shareable link.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use till_shared::ids::{PaymentLinkId, ShortCode};
use till_shared::keys::Environment;
use till_shared::money::{Currency, Money};
use till_shared::redirect::AfterCompletion;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::catalog::products::ProductRow;
use crate::catalog::products::summary_type;
use crate::ctx::Ctx;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Principal, Sql};
use crate::error::{ApiError, ApiResult};
use crate::links::definition;

pub use crate::catalog::lines::{LineItem, check_promotion, price_lines, subtotal};
pub use till_shared::links::LinkRow;

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
    pub after_completion: Option<AfterCompletion>,
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
            multiple: self.multiple,
            promotion_code: self.promotion_code.clone(),
            allow_promotion_codes: self.allow_promotion_codes,
            collect_payment_method: self.collect_payment_method.to_owned(),
            success_url: self.success_url.clone(),
            after_completion: self
                .after_completion
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
            custom_fields: serde_json::to_string(&self.custom_fields)?,
            billing_address_collection: self.billing_address_collection.to_owned(),
            customer_creation: self.customer_creation.to_owned(),
            submit_type: self.submit_type.to_owned(),
            max_completions: self.max_completions,
            metadata: db::json_text(self.metadata.clone().map(Value::Object).as_ref()),
            active: self.active,
            deleted: false,
            view_count: 0,
            session_count: 0,
            completed_count: 0,
            reserved_count: 0,
            created_via: self.created_via.to_owned(),
            environment: principal.environment,
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
    let rows: Vec<Charge> = Sql::new(
        "SELECT p.id, p.amount, p.currency, p.card_brand, p.card_last4, p.order_id,
                o.checkout_session_id, p.created_at
         FROM payments p JOIN orders o ON o.id = p.order_id
         WHERE o.payment_link_id = :link ORDER BY p.rowid LIMIT 20",
    )
    .bind("link", link_id)
    .prepare(&db::db(ctx)?)?
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
        "active": row.active,
        "deleted": row.deleted,
        "livemode": row.environment == Environment::Production,
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
        "multiple": row.multiple,
        "used": row.completed_count > 0,
        "charges": charges,
        "promotion_code": row.promotion_code,
        "allow_promotion_codes": row.allow_promotion_codes,
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
        environment: after.environment.as_str(),
    };
    let event = Event {
        kind,
        object_id: &after.id,
        data: &data,
    };
    events::record(db, scope, vec![(event, guard)], now)
}

/// The INSERT of a link as `row` holds it.
fn insert_statement(
    db: &worker::D1Database,
    row: &LinkRow,
) -> ApiResult<worker::D1PreparedStatement> {
    Sql::new(
        "INSERT INTO payment_links (id, account_id, environment, url_id, kind, name, product_id, line_items,
             amount, currency, title, description, multiple, promotion_code, allow_promotion_codes,
             collect_payment_method, success_url, after_completion, custom_fields,
             billing_address_collection, customer_creation, submit_type, max_completions, metadata,
             active, created_via, created_at, updated_at)
         VALUES (:id, :account, :environment, :url_id, :kind, :name, :product_id, :line_items,
             :amount, :currency, :title, :description, :multiple, :promotion_code,
             :allow_promotion_codes, :collect_payment_method, :success_url, :after_completion,
             :custom_fields, :billing_address_collection, :customer_creation, :submit_type,
             :max_completions, :metadata, :active, :created_via, :created_at, :created_at)",
    )
    .bind("id", row.id.as_str())
    .bind("account", row.account_id.as_str())
    .bind("environment", row.environment.as_str())
    .bind("url_id", row.url_id.as_str())
    .bind("kind", row.kind.as_str())
    .bind("product_id", row.product_id.clone())
    .bind("line_items", row.line_items.as_str())
    .bind("amount", row.amount)
    .bind("currency", row.currency.clone())
    .bind("created_via", row.created_via.as_str())
    .bind("created_at", row.created_at)
    .settings(row)
    .prepare(db)
}

/// The columns a PATCH may change, bound from `row`.
trait LinkSettings {
    fn settings(self, row: &LinkRow) -> Self;
}

impl LinkSettings for Sql {
    fn settings(self, row: &LinkRow) -> Sql {
        self.bind("name", row.name.clone())
            .bind("title", row.title.clone())
            .bind("description", row.description.clone())
            .bind("multiple", row.multiple)
            .bind("promotion_code", row.promotion_code.clone())
            .bind("allow_promotion_codes", row.allow_promotion_codes)
            .bind(
                "collect_payment_method",
                row.collect_payment_method.as_str(),
            )
            .bind("success_url", row.success_url.clone())
            .bind("after_completion", row.after_completion.clone())
            .bind("custom_fields", row.custom_fields.as_str())
            .bind(
                "billing_address_collection",
                row.billing_address_collection.as_str(),
            )
            .bind("customer_creation", row.customer_creation.as_str())
            .bind("submit_type", row.submit_type.as_str())
            .bind("max_completions", row.max_completions)
            .bind("metadata", row.metadata.clone())
            .bind("active", row.active)
    }
}

/// Stores a link with a fresh short code, with its `payment_link.created` event; answers
/// its id.
pub async fn insert(call: &Call<'_>, link: &NewLink) -> ApiResult<String> {
    let principal = call.principal()?;
    let id = PaymentLinkId::generate();
    let now = db::now_unix();
    let db = db::db(call.ctx)?;
    for _ in 0..3 {
        let created = link.row(id.as_str(), principal, ShortCode::generate().as_str(), now)?;
        let mut batch = vec![insert_statement(&db, &created)?];
        batch.extend(link_event(
            &db,
            "payment_link.created",
            &created,
            &call.link_base(),
            now,
            Guard::Always,
        )?);
        match db.batch(batch).await {
            Ok(_) => {
                crate::events::delivery::send_soon(call.ctx);
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
    let link = definition::read_new_link(call).await?;
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
    let mut filters = vec![Filter::always("deleted = 0")];
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
    let mut after = definition::read_patch(call.params()?, &row, sandbox)?;
    if let Some(code) = &after.promotion_code
        && Some(code) != row.promotion_code.as_ref()
    {
        check_promotion(call, code, &row.priced_lines(), "promotion_code").await?;
    }
    if after
        .max_completions
        .is_some_and(|max| max < row.completed_count)
    {
        return Err(ApiError::invalid(
            "max_completions",
            format!(
                "The link already has {} completed payments.",
                row.completed_count
            ),
        ));
    }
    let db = db::db(call.ctx)?;
    let now = db::now_unix();
    after.updated_at = now;
    let mut batch = vec![update_statement(&db, &after)?];
    batch.extend(link_event(
        &db,
        "payment_link.updated",
        &after,
        &call.link_base(),
        now,
        Guard::Applied,
    )?);
    let results = db.batch(batch).await?;
    crate::links::shortlinks::refresh(call.ctx, &row.url_id).await;
    if db::changes(&results, 0) == 0 {
        return Err(ApiError::conflict(
            "id",
            "The link was deleted or completed payments changed meanwhile; retry.",
        ));
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(
        load(call, &id).await?,
        &call.link_base(),
    )?))
}

/// The UPDATE of a link's settings to `after`. Its WHERE repeats the completions check, so
/// a payment completing meanwhile cannot leave the limit below the count.
fn update_statement(
    db: &worker::D1Database,
    after: &LinkRow,
) -> ApiResult<worker::D1PreparedStatement> {
    Sql::new(
        "UPDATE payment_links SET active = :active, name = :name, title = :title,
             description = :description, promotion_code = :promotion_code,
             allow_promotion_codes = :allow_promotion_codes,
             collect_payment_method = :collect_payment_method, success_url = :success_url,
             after_completion = :after_completion, custom_fields = :custom_fields,
             billing_address_collection = :billing_address_collection,
             customer_creation = :customer_creation, submit_type = :submit_type,
             max_completions = :max_completions, metadata = :metadata, multiple = :multiple,
             updated_at = :now
         WHERE id = :id AND account_id = :account AND environment = :environment AND deleted = 0
           AND (:max_completions IS NULL OR completed_count <= :max_completions)
           AND (:multiple = 1 OR completed_count <= 1)",
    )
    .settings(after)
    .bind("now", after.updated_at)
    .bind("id", after.id.as_str())
    .bind("account", after.account_id.as_str())
    .bind("environment", after.environment.as_str())
    .prepare(db)
}

/// Sets `active = 0` (and `deleted = 1` when deleting); both stop new payments at once.
/// A link that was already inactive (and deleted, when deleting) changes nothing and
/// makes no event.
async fn deactivate(call: &Call<'_>, id: &str, delete: bool) -> ApiResult<()> {
    let row = load(call, id).await?;
    let db = db::db(call.ctx)?;
    let now = db::now_unix();
    let after = LinkRow {
        active: false,
        deleted: row.deleted || delete,
        updated_at: now,
        ..row.clone()
    };
    let mut batch = vec![
        Sql::new(
            "UPDATE payment_links SET active = 0, deleted = MAX(deleted, :deleted), updated_at = :now
             WHERE id = :id AND account_id = :account AND environment = :environment
               AND (active = 1 OR deleted < :deleted)",
        )
        .bind("deleted", delete)
        .bind("now", now)
        .bind("id", id)
        .bind("account", row.account_id.as_str())
        .bind("environment", row.environment.as_str())
        .prepare(&db)?,
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
    crate::links::shortlinks::refresh(call.ctx, &row.url_id).await;
    crate::events::delivery::send_soon(call.ctx);
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
