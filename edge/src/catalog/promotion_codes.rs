//! Promotion codes: a case-insensitive code, unique per account, taking a percentage or a
//! fixed amount off; optionally limited in redemptions, time and products. Redemptions are
//! counted by a conditional update at payment time (the database refuses one too many).

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::catalog::{Discount, is_valid_promotion_code};
use till_shared::keys::Environment;
use till_shared::money::Currency;
use till_shared::params::{ParamError, ParamResult, Params};
use till_shared::pricing::LineItem as PricedLine;
use till_shared::promotion::{Promotion, PromotionError, stored_discount};
use till_shared::time::parse_request_time;

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::db::{self, Sql};
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize)]
pub struct PromotionCodeRow {
    pub id: String,
    pub code: String,
    pub percent_off: Option<i64>,
    pub amount_off: Option<i64>,
    pub currency: Option<String>,
    pub max_redemptions: Option<i64>,
    pub times_redeemed: i64,
    pub expires_at: Option<i64>,
    pub products: String,
    pub metadata: Option<String>,
    #[serde(deserialize_with = "crate::db::columns::flag")]
    pub active: bool,
    pub environment: Environment,
    pub created_at: i64,
}

impl PromotionCodeRow {
    pub fn discount(&self) -> ApiResult<Discount> {
        stored_discount(self.percent_off, self.amount_off, self.currency.as_deref())
            .map_err(ApiError::internal)
    }

    /// The code as `till_shared::promotion` applies it.
    pub fn promotion(&self) -> ApiResult<Promotion> {
        Ok(Promotion {
            discount: self.discount()?,
            product_ids: self.product_ids(),
            active: self.active,
            expires_at: self.expires_at,
            max_redemptions: self.max_redemptions,
            times_redeemed: self.times_redeemed,
        })
    }

    /// What the code takes off these lines at `now`, in minor units: computed on the lines
    /// it applies to only. Why it takes nothing, if it cannot be used or applies to none.
    pub fn discount_on(
        &self,
        lines: &[PricedLine],
        now: i64,
    ) -> ApiResult<Result<i64, PromotionError>> {
        let promotion = self.promotion()?;
        Ok(promotion.totals_at(lines, now).map(|t| t.discount.amount()))
    }

    /// The product ids the code is restricted to; empty means any product.
    pub fn product_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.products).unwrap_or_default()
    }
}

pub fn render(row: PromotionCodeRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "promotion_code",
        "code": row.code,
        "percent_off": row.percent_off,
        "amount_off": row.amount_off,
        "currency": row.currency,
        "max_redemptions": row.max_redemptions,
        "times_redeemed": row.times_redeemed,
        "expires_at": row.expires_at.map(iso).transpose()?,
        "products": db::parse_json(Some(&row.products)),
        "active": row.active,
        "metadata": db::parse_json(row.metadata.as_deref()),
        "livemode": row.environment == Environment::Production,
        "created_at": iso(row.created_at)?,
    }))
}

pub async fn load(call: &Call<'_>, id: &str) -> ApiResult<PromotionCodeRow> {
    db::find(call.ctx, "promotion_codes", call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("promotion code", id, None))
}

/// A code of the caller's by its text (any letter case), or 404 naming `param`.
pub async fn load_by_code(call: &Call<'_>, code: &str, param: &str) -> ApiResult<PromotionCodeRow> {
    let principal = call.principal()?;
    find_by_code(
        call.ctx,
        &principal.account_id,
        principal.environment.as_str(),
        code,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("promotion code", code, Some(param)))
}

/// A code of an account in one environment by its text (any letter case).
pub async fn find_by_code(
    ctx: &Ctx,
    account_id: &str,
    environment: &str,
    code: &str,
) -> ApiResult<Option<PromotionCodeRow>> {
    Ok(Sql::new(
        "SELECT * FROM promotion_codes
         WHERE code_key = :code_key AND account_id = :account AND environment = :environment",
    )
    .bind("code_key", code.to_ascii_uppercase())
    .bind("account", account_id)
    .bind("environment", environment)
    .prepare(&db::db(ctx)?)?
    .first(None)
    .await?)
}

fn read_expiry(p: &mut Params, now: i64) -> ParamResult<Option<i64>> {
    let Some(value) = p.raw("expires_at") else {
        return Ok(None);
    };
    let at =
        parse_request_time(&value).map_err(|e| ParamError::new("expires_at", e.to_string()))?;
    if at <= now {
        return Err(ParamError::new(
            "expires_at",
            "expires_at must be in the future.",
        ));
    }
    Ok(Some(at))
}

/// `percent_off` (1–100), or `amount_off` with its `currency`: exactly one discount.
fn read_discount(p: &mut Params) -> ApiResult<(Option<i64>, Option<i64>, Option<Currency>)> {
    let percent_off = p.integer("percent_off", 1, 100)?;
    let amount_off = p.integer("amount_off", 1, till_shared::money::MAX_MINOR_UNITS)?;
    let currency = p.currency("currency")?;
    match (percent_off, amount_off, currency) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => Ok((percent_off, amount_off, currency)),
        (Some(_), Some(_), _) => Err(ApiError::invalid(
            "amount_off",
            "Send percent_off or amount_off, not both.",
        )),
        (None, None, _) => Err(ApiError::invalid(
            "percent_off",
            "Send percent_off (1–100) or amount_off with currency.",
        )),
        (None, Some(_), None) => Err(ApiError::invalid(
            "currency",
            "amount_off needs a currency.",
        )),
        (Some(_), None, Some(_)) => Err(ApiError::invalid(
            "currency",
            "currency goes with amount_off only.",
        )),
    }
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let now = db::now_unix();
    let mut p = call.params()?;
    let code = p.required_string("code", 64)?;
    if !is_valid_promotion_code(&code) {
        return Err(ApiError::invalid(
            "code",
            "Codes are 1–64 letters, digits, hyphens or underscores.",
        ));
    }
    let (percent_off, amount_off, currency) = read_discount(&mut p)?;
    let max_redemptions = p.integer("max_redemptions", 1, 1_000_000_000)?;
    let expires_at = read_expiry(&mut p, now)?;
    let products = p.strings("products", 100)?.unwrap_or_default();
    let active = p.boolean("active")?.unwrap_or(true);
    let metadata = p.metadata("metadata")?;
    p.finish()?;
    for (i, product) in products.iter().enumerate() {
        crate::catalog::products::load(call, product, Some(&format!("products[{i}]"))).await?;
    }

    let principal = call.principal()?;
    let id = till_shared::ids::PromotionCodeId::generate().to_string();
    let outcome = Sql::new(
        "INSERT INTO promotion_codes (id, account_id, environment, code, code_key, percent_off,
             amount_off, currency, max_redemptions, expires_at, products, metadata, active, created_at)
         VALUES (:id, :account, :environment, :code, :code_key, :percent_off, :amount_off,
             :currency, :max_redemptions, :expires_at, :products, :metadata, :active, :now)",
    )
    .bind("id", id.as_str())
    .scoped(principal)
    .bind("code", code.as_str())
    .bind("code_key", code.to_ascii_uppercase())
    .bind("percent_off", percent_off)
    .bind("amount_off", amount_off)
    .bind("currency", currency.map(|c| c.code()))
    .bind("max_redemptions", max_redemptions)
    .bind("expires_at", expires_at)
    .bind("products", serde_json::to_string(&products)?)
    .bind("metadata", db::json_text(metadata.map(Value::Object).as_ref()))
    .bind("active", active)
    .bind("now", now)
    .prepare(&db::db(call.ctx)?)?
    .run()
    .await;
    match outcome {
        Ok(_) => Ok(Reply::created(render(load(call, &id).await?)?)),
        Err(error) if db::is_unique_violation(&error) => Err(ApiError::conflict(
            "code",
            format!("The code `{code}` already exists (codes ignore letter case)."),
        )),
        Err(error) => Err(error.into()),
    }
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(load(call, call.id()?).await?)?))
}

pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    filters.extend(Filter::active(call));
    if let Some(code) = call.query("code") {
        filters.push(Filter::eq("code_key = :code", code.to_ascii_uppercase()));
    }
    Ok(Reply::ok(
        crate::api::list::list(call, "promotion_codes_view", filters, render).await?,
    ))
}

pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id).await?;
    let now = db::now_unix();
    let mut p = call.params()?;
    let active = p.boolean("active")?.unwrap_or(row.active);
    let max_redemptions = p
        .patch("max_redemptions", |p, f| p.integer(f, 1, 1_000_000_000))?
        .unwrap_or(row.max_redemptions);
    if max_redemptions.is_some_and(|max| max < row.times_redeemed) {
        return Err(ApiError::invalid(
            "max_redemptions",
            format!(
                "The code was already redeemed {} times.",
                row.times_redeemed
            ),
        ));
    }
    let expires_at = p
        .patch("expires_at", |p, _| read_expiry(p, now))?
        .unwrap_or(row.expires_at);
    let metadata = crate::api::list::patch_metadata(&mut p, row.metadata.as_deref())?;
    p.finish()?;
    let principal = call.principal()?;
    Sql::new(
        "UPDATE promotion_codes SET active = :active, max_redemptions = :max_redemptions,
             expires_at = :expires_at, metadata = :metadata
         WHERE id = :id AND account_id = :account AND environment = :environment
           AND (:max_redemptions IS NULL OR times_redeemed <= :max_redemptions)",
    )
    .bind("active", active)
    .bind("max_redemptions", max_redemptions)
    .bind("expires_at", expires_at)
    .bind("metadata", metadata)
    .bind("id", id.as_str())
    .scoped(principal)
    .prepare(&db::db(call.ctx)?)?
    .run()
    .await?;
    Ok(Reply::ok(render(load(call, &id).await?)?))
}

pub async fn deactivate(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    load(call, &id).await?;
    db::update_scoped(
        call.ctx,
        call.principal()?,
        "promotion_codes",
        "active = 0",
        &id,
        Vec::new(),
    )
    .await?;
    Ok(Reply::ok(render(load(call, &id).await?)?))
}
