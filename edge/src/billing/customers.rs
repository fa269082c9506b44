//! Customers, as the subscription document has them: an id the merchant chooses (or one
//! generated, `cus_…`), name, phone, email, a billing address and metadata; queried by any
//! of those with page / page_size. A customer with a live subscription cannot be deleted.
//! In SANDBOX a customer may follow a test clock; its subscriptions then bill on that
//! clock's time.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::catalog::is_plausible_email;
use till_shared::params::{ParamError, ParamResult, Params};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Bind};
use crate::error::{ApiError, ApiResult};

/// A row of `customers_view`: `id` is the merchant's id, `internal_id` the row's key.
#[derive(Deserialize)]
pub struct CustomerRow {
    pub id: String,
    pub internal_id: String,
    pub environment: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<String>,
    pub metadata: Option<String>,
    pub test_clock_id: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

pub fn render(row: CustomerRow) -> ApiResult<Value> {
    Ok(json!({
        "id": row.id,
        "object": "customer",
        "customer_id": row.id,
        "name": row.name,
        "email": row.email,
        "phone": row.phone,
        "billing_address": db::parse_json(row.billing_address.as_deref()),
        "metadata": db::parse_json(row.metadata.as_deref()),
        "test_clock": row.test_clock_id,
        "livemode": row.environment == "PRODUCTION",
        "created_at": iso(row.created_at)?,
        "updated_at": iso(row.updated_at.unwrap_or(row.created_at))?,
    }))
}

/// A customer of the caller's by the merchant's id, or 404 naming `param`.
pub async fn load(
    call: &Call<'_>,
    customer_id: &str,
    param: Option<&str>,
) -> ApiResult<CustomerRow> {
    db::find(call.ctx, "customers_view", call.principal()?, customer_id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer", customer_id, param))
}

/// Merchant-chosen ids: 1–64 letters, digits, `_`, `-` or `.`.
fn valid_customer_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `billing_address` as a JSON object, or a string holding one (the document sends it as
/// a JSON string on create and an object on update).
fn read_address(p: &mut Params) -> ParamResult<Option<Option<String>>> {
    let field = p.name("billing_address");
    p.patch("billing_address", |p, f| {
        let Some(value) = p.raw(f) else {
            return Ok(None);
        };
        let value = match value {
            Value::String(text) => serde_json::from_str(&text)
                .map_err(|_| ParamError::new(&field, "billing_address must be a JSON object."))?,
            other => other,
        };
        match value {
            Value::Object(map) if map.len() <= 20 && value.to_string().len() <= 2_000 => {
                Ok(Some(Value::Object(map).to_string()))
            }
            _ => Err(ParamError::new(
                &field,
                "billing_address must be a JSON object of at most 20 fields.",
            )),
        }
    })
}

fn read_email(p: &mut Params) -> ParamResult<Option<Option<String>>> {
    p.patch("email", |p, f| {
        let email = p.string(f, 254)?;
        if let Some(email) = &email
            && !is_plausible_email(email)
        {
            return Err(ParamError::new(p.name(f), "This is not an email address."));
        }
        Ok(email)
    })
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let now = db::now_unix();
    let mut p = call.params()?;
    let chosen = p.string("customer_id", 64)?;
    if let Some(id) = &chosen
        && !valid_customer_id(id)
    {
        return Err(ApiError::invalid(
            "customer_id",
            "customer_id is 1–64 letters, digits, `_`, `-` or `.`.",
        ));
    }
    let name = p.string("name", 200)?;
    let phone = p.string("phone", 40)?;
    let email = read_email(&mut p)?.flatten();
    let address = read_address(&mut p)?.flatten();
    let metadata = p.metadata("metadata")?;
    let test_clock = p.string("test_clock", 64)?;
    p.finish()?;
    if let Some(clock) = &test_clock {
        crate::billing::test_clocks::load(call, clock, Some("test_clock")).await?;
    }

    let principal = call.principal()?;
    let internal = till_shared::ids::CustomerId::generate().to_string();
    let customer_id = chosen.unwrap_or_else(|| internal.clone());
    let scope = Scope {
        account_id: &principal.account_id,
        environment: principal.environment.as_str(),
    };
    let metadata = db::json_text(metadata.map(Value::Object).as_ref());
    let data = json!({
        "id": customer_id, "object": "customer", "customer_id": customer_id, "name": name,
        "email": email, "phone": phone, "test_clock": test_clock,
        "billing_address": db::parse_json(address.as_deref()),
        "metadata": db::parse_json(metadata.as_deref()),
    });
    let db = db::db(call.ctx)?;
    let outcome = db
        .batch(vec![
            db.prepare(
                "INSERT INTO customers (id, customer_id, account_id, environment, email, name, phone, billing_address,
                                        metadata, test_clock_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
            )
            .bind(&[
                internal.js(),
                customer_id.js(),
                scope.account_id.js(),
                scope.environment.js(),
                email.js(),
                name.js(),
                phone.js(),
                address.js(),
                metadata.js(),
                test_clock.js(),
                now.js(),
            ])?,
            events::insert(
&db, scope, Event { kind: "customer.created", object_id: &customer_id, data: &data }, now, Guard::Always)?,
            events::fan_out(&db, now)?,
        ])
        .await;
    match outcome {
        Ok(_) => {
            crate::events::delivery::send_soon(call.ctx);
            Ok(Reply::created(render(
                load(call, &customer_id, None).await?,
            )?))
        }
        Err(error) if db::is_unique_violation(&error) => Err(ApiError::conflict(
            "customer_id",
            format!("A customer with customer_id `{customer_id}` already exists."),
        )),
        Err(error) => Err(error.into()),
    }
}

pub async fn get(call: &mut Call<'_>) -> ApiResult<Reply> {
    Ok(Reply::ok(render(load(call, call.id()?, None).await?)?))
}

/// `customer_id`, `name`, `phone`, `email` (exact), with cursor or page paging.
pub async fn list(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut filters = Vec::new();
    for (name, condition) in [
        ("customer_id", "id = ?"),
        ("name", "name = ?"),
        ("phone", "phone = ?"),
        ("email", "email = ?"),
    ] {
        if let Some(value) = call.query(name) {
            filters.push(Filter::eq(condition, value.to_owned()));
        }
    }
    Ok(Reply::ok(
        crate::api::list::list(call, "customers_view", filters, render).await?,
    ))
}

pub async fn update(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id, None).await?;
    let now = db::now_unix();
    let mut p = call.params()?;
    let name = p
        .patch("name", |p, f| p.string(f, 200))?
        .unwrap_or(row.name);
    let phone = p
        .patch("phone", |p, f| p.string(f, 40))?
        .unwrap_or(row.phone);
    let email = read_email(&mut p)?.unwrap_or(row.email);
    let address = read_address(&mut p)?.unwrap_or(row.billing_address);
    let metadata = crate::api::list::patch_metadata(&mut p, row.metadata.as_deref())?;
    p.finish()?;
    let principal = call.principal()?;
    let scope = Scope {
        account_id: &principal.account_id,
        environment: principal.environment.as_str(),
    };
    let db = db::db(call.ctx)?;
    let data = json!({
        "id": id, "object": "customer", "customer_id": id, "name": name, "email": email,
        "phone": phone, "test_clock": row.test_clock_id,
        "billing_address": db::parse_json(address.as_deref()),
        "metadata": db::parse_json(metadata.as_deref()),
    });
    db.batch(vec![
        db.prepare(
            "UPDATE customers SET name = ?2, phone = ?3, email = ?4, billing_address = ?5, metadata = ?6, updated_at = ?7
             WHERE id = ?1 AND deleted_at IS NULL",
        )
        .bind(&[
            row.internal_id.js(),
            name.js(),
            phone.js(),
            email.js(),
            address.js(),
            metadata.js(),
            now.js(),
        ])?,
        events::insert(
&db, scope, Event { kind: "customer.updated", object_id: &id, data: &data }, now, Guard::Applied)?,
        events::fan_out(&db, now)?,
    ])
    .await?;
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(load(call, &id, None).await?)?))
}

/// Deletes a customer that has no live subscription (one conditional statement, so a
/// subscription created meanwhile wins). Orders keep their history: the row stays,
/// marked deleted, and the merchant may reuse the id.
pub async fn delete(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id, None).await?;
    let now = db::now_unix();
    let principal = call.principal()?;
    let scope = Scope {
        account_id: &principal.account_id,
        environment: principal.environment.as_str(),
    };
    let db = db::db(call.ctx)?;
    let data = json!({"id": id, "object": "customer", "customer_id": id, "deleted": true});
    let results = db
        .batch(vec![
            db.prepare(
                "UPDATE customers SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM subscriptions s
                                   WHERE s.account_id = customers.account_id AND s.environment = customers.environment
                                     AND s.customer_id = customers.customer_id
                                     AND s.state NOT IN ('CANCELED', 'COMPLETED'))",
            )
            .bind(&[row.internal_id.js(), now.js()])?,
            events::insert(
&db, scope, Event { kind: "customer.deleted", object_id: &id, data: &data }, now, Guard::Applied)?,
            events::fan_out(&db, now)?,
        ])
        .await?;
    let changed = results
        .first()
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    if changed != 1 {
        return Err(ApiError::conflict(
            "customer_id",
            "This customer has a live subscription; cancel it before deleting the customer.",
        ));
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(
        json!({"id": id, "object": "customer", "customer_id": id, "deleted": true}),
    ))
}
