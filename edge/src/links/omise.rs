//! The Omise Links dialect: `/links` with HTTP Basic auth (secret key as user name), form
//! or JSON bodies, and Omise's object, list and error shapes, so code written for Omise
//! works with only its base URL changed. The links are ordinary Till payment links.

use serde_json::{Value, json};
use till_shared::keys::Environment;
use till_shared::time::{parse_request_time, to_iso8601};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::reply::Reply;
use crate::db::{self, Sql};
use crate::error::{ApiError, ApiResult};
use crate::links::payment_links::{self, LinkRow, NewLink};

fn render(row: LinkRow, base: &str, charges: Vec<Value>) -> ApiResult<Value> {
    let lines = row.priced_lines();
    let amount = row
        .amount
        .unwrap_or_else(|| till_shared::pricing::subtotal(&lines).map_or(0, |m| m.amount()));
    let currency = row
        .currency
        .clone()
        .or(lines.first().map(|l| l.currency.code().to_owned()))
        .unwrap_or_default();
    let created = iso(row.created_at)?;
    Ok(json!({
        "object": "link",
        "id": row.id,
        "livemode": row.environment == Environment::Production,
        "location": format!("/links/{}", row.id),
        "amount": amount,
        "currency": currency.to_ascii_lowercase(),
        "used": row.completed_count > 0,
        "multiple": row.multiple,
        "title": row.title.clone().or(row.name.clone()),
        "description": row.description,
        "charges": payment_links::charges_object(&row, charges)?,
        "payment_uri": row.url(base),
        "deleted": row.deleted,
        "created": created,
    }))
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let amount = p
        .amount("amount")?
        .ok_or_else(|| ApiError::invalid("amount", "amount is required."))?;
    if amount < 1 {
        return Err(ApiError::invalid(
            "amount",
            "amount must be a positive integer.",
        ));
    }
    let currency = p
        .currency("currency")?
        .ok_or_else(|| ApiError::invalid("currency", "currency is required."))?;
    let title = p.required_string("title", 200)?;
    let description = p.required_string("description", 5000)?;
    let multiple = p.boolean("multiple")?.unwrap_or(false);
    p.finish()?;
    let id = payment_links::insert(
        call,
        &NewLink::amount(amount, currency, title, Some(description), multiple),
    )
    .await?;
    Ok(Reply::ok(render(
        payment_links::load(call, &id).await?,
        &call.link_base(),
        Vec::new(),
    )?))
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    let row = payment_links::load(call, call.id()?).await?;
    let charges = payment_links::load_charges(call.ctx, &row.id).await?;
    Ok(Reply::ok(render(row, &call.link_base(), charges)?))
}

pub async fn destroy(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = payment_links::destroy(call, &id).await?;
    let charges = payment_links::load_charges(call.ctx, &row.id).await?;
    Ok(Reply::ok(render(row, &call.link_base(), charges)?))
}

/// `from`, `to` (ISO 8601), `offset`, `limit` (1–100, default 20), `order`
/// (`chronological` or `reverse_chronological`).
/// An Omise list query: the time range, the window and the order.
struct Range {
    from: i64,
    to: i64,
    offset: i64,
    limit: i64,
    order: &'static str,
}

fn read_range(call: &Call<'_>) -> ApiResult<Range> {
    let time = |name: &str, default: i64| -> ApiResult<i64> {
        match call.query(name) {
            None => Ok(default),
            Some(text) => parse_request_time(&Value::String(text.to_owned()))
                .map_err(|e| ApiError::invalid(name.to_owned(), e.to_string())),
        }
    };
    let number = |name: &str, default: i64, max: i64| -> ApiResult<i64> {
        match call.query(name) {
            None => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(name.to_owned(), format!("{name} must be from 0 to {max}."))
                }),
        }
    };
    let order = match call.query("order").unwrap_or("chronological") {
        "chronological" => "chronological",
        "reverse_chronological" => "reverse_chronological",
        _ => {
            return Err(ApiError::invalid(
                "order",
                "order must be chronological or reverse_chronological.",
            ));
        }
    };
    Ok(Range {
        from: time("from", 0)?,
        to: time("to", db::now_unix())?,
        offset: number("offset", 0, 1_000_000)?,
        limit: number("limit", 20, 100)?.max(1),
        order,
    })
}

pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let Range {
        from,
        to,
        offset,
        limit,
        order,
    } = read_range(call)?;
    let direction = if order == "chronological" {
        "ASC"
    } else {
        "DESC"
    };
    let principal = call.principal()?;
    let db = db::db(call.ctx)?;
    let condition = "account_id = :account AND environment = :environment
        AND created_at >= :from AND created_at <= :to AND deleted = 0";
    let ranged = |sql: String| {
        Sql::new(&sql)
            .scoped(principal)
            .bind("from", from)
            .bind("to", to)
            .prepare(&db)
    };
    let rows: Vec<LinkRow> = ranged(format!(
        "SELECT * FROM payment_links_view WHERE {condition} ORDER BY seq {direction} LIMIT {limit} OFFSET {offset}"
    ))?
    .all()
        .await?
        .results()?;
    #[derive(serde::Deserialize)]
    struct Count {
        n: i64,
    }
    let total: Option<Count> = ranged(format!(
        "SELECT count(*) AS n FROM payment_links WHERE {condition}"
    ))?
    .first(None)
    .await?;
    let base = call.link_base();
    let data = rows
        .into_iter()
        .map(|row| render(row, &base, Vec::new()))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Reply::ok(json!({
        "object": "list",
        "from": to_iso8601(from).map_err(ApiError::internal)?,
        "to": to_iso8601(to).map_err(ApiError::internal)?,
        "offset": offset,
        "limit": limit,
        "total": total.map_or(0, |c| c.n),
        "order": order,
        "location": "/links",
        "data": data,
    })))
}
