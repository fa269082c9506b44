//! Customers, as the subscription document has them: an id the merchant chooses (or one
//! generated, `cus_…`), name, phone, email, a billing address and metadata; queried by any
//! of those with page / page_size. A customer with a live subscription cannot be deleted.
//! In SANDBOX a customer may follow a test clock; its subscriptions then bill on that
//! clock's time.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::catalog::is_plausible_email;
use till_shared::keys::Environment;
use till_shared::params::{ParamError, ParamResult, Params};
use worker::{D1Database, D1PreparedStatement};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::list::Filter;
use crate::api::reply::Reply;
use crate::db::events::{self, Event, Guard, Scope};
use crate::db::{self, Sql};
use crate::error::{ApiError, ApiResult};

/// A row of `customers_view`: `id` is the merchant's id, `internal_id` the row's key.
#[derive(Deserialize, Clone)]
pub struct CustomerRow {
    pub id: String,
    pub internal_id: String,
    pub environment: Environment,
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
        "livemode": row.environment == Environment::Production,
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
        // Lines of text: at most 20, each named in 1–40 characters, 200 characters long.
        let lines = |map: &serde_json::Map<String, Value>| {
            map.len() <= 20
                && map.iter().all(|(key, line)| {
                    (1..=40).contains(&key.chars().count())
                        && line.as_str().is_some_and(|l| l.trim().chars().count() <= 200)
                })
        };
        match value {
            Value::Object(map) if lines(&map) => Ok(Some(Value::Object(map).to_string())),
            _ => Err(ParamError::new(
                &field,
                "billing_address must be a JSON object of at most 20 text fields (keys of 1–40 characters, values of at most 200).",
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

/// `change` of a customer and its event (whose `data` is the customer as `GET` renders it
/// after the change), with the fan-out, for one batch.
fn with_event(
    db: &D1Database,
    change: D1PreparedStatement,
    scope: Scope<'_>,
    event: Event<'_>,
    now: i64,
    guard: Guard<'_>,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let mut batch = vec![change];
    batch.extend(events::record(db, scope, vec![(event, guard)], now)?);
    Ok(batch)
}

fn insert(db: &D1Database, row: &CustomerRow, account_id: &str) -> ApiResult<D1PreparedStatement> {
    Sql::new(
        "INSERT INTO customers (id, customer_id, account_id, environment, email, name, phone, billing_address,
                                metadata, test_clock_id, created_at, updated_at)
         VALUES (:id, :customer_id, :account_id, :environment, :email, :name, :phone, :billing_address,
                 :metadata, :test_clock_id, :created_at, :updated_at)",
    )
    .bind("id", row.internal_id.as_str())
    .bind("customer_id", row.id.as_str())
    .bind("account_id", account_id)
    .bind("environment", row.environment.as_str())
    .bind("email", row.email.as_deref())
    .bind("name", row.name.as_deref())
    .bind("phone", row.phone.as_deref())
    .bind("billing_address", row.billing_address.as_deref())
    .bind("metadata", row.metadata.as_deref())
    .bind("test_clock_id", row.test_clock_id.as_deref())
    .bind("created_at", row.created_at)
    .bind("updated_at", row.updated_at)
    .prepare(db)
}

/// A merchant's customer id, when one was chosen: 1–64 letters, digits, `_`, `-` or `.`.
fn read_customer_id(p: &mut Params) -> ApiResult<Option<String>> {
    let chosen = p.string("customer_id", 64)?;
    if let Some(id) = &chosen
        && !valid_customer_id(id)
    {
        return Err(ApiError::invalid(
            "customer_id",
            "customer_id is 1–64 letters, digits, `_`, `-` or `.`.",
        ));
    }
    Ok(chosen)
}

pub async fn create(call: &mut Call<'_>) -> ApiResult<Reply> {
    let now = db::now_unix();
    let mut p = call.params()?;
    let chosen = read_customer_id(&mut p)?;
    let name = p.string("name", 200)?;
    let phone = p.string("phone", 40)?;
    let email = read_email(&mut p)?.flatten();
    let billing_address = read_address(&mut p)?.flatten();
    let metadata = db::json_text(p.metadata("metadata")?.map(Value::Object).as_ref());
    let test_clock_id = p.string("test_clock", 64)?;
    p.finish()?;
    if let Some(clock) = &test_clock_id {
        crate::billing::test_clocks::load(call, clock, Some("test_clock")).await?;
    }

    let principal = call.principal()?;
    let internal_id = till_shared::ids::CustomerId::generate().to_string();
    let customer = CustomerRow {
        id: chosen.unwrap_or_else(|| internal_id.clone()),
        internal_id,
        environment: principal.environment,
        email,
        name,
        phone,
        billing_address,
        metadata,
        test_clock_id,
        created_at: now,
        updated_at: Some(now),
    };
    let db = db::db(call.ctx)?;
    let data = render(customer.clone())?;
    let event = Event {
        kind: "customer.created",
        object_id: &customer.id,
        data: &data,
    };
    let batch = with_event(
        &db,
        insert(&db, &customer, &principal.account_id)?,
        crate::billing::scope(principal),
        event,
        now,
        Guard::Always,
    )?;
    match db.batch(batch).await {
        Ok(_) => {
            crate::events::delivery::send_soon(call.ctx);
            Ok(Reply::created(render(
                load(call, &customer.id, None).await?,
            )?))
        }
        Err(error) if db::is_unique_violation(&error) => Err(ApiError::conflict(
            "customer_id",
            format!(
                "A customer with customer_id `{}` already exists.",
                customer.id
            ),
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
        ("customer_id", "id = :customer"),
        ("name", "name = :name"),
        ("phone", "phone = :phone"),
        ("email", "email = :email"),
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
    let name = p.patch("name", |p, f| p.string(f, 200))?;
    let phone = p.patch("phone", |p, f| p.string(f, 40))?;
    let email = read_email(&mut p)?;
    let billing_address = read_address(&mut p)?;
    let metadata = crate::api::list::patch_metadata(&mut p, row.metadata.as_deref())?;
    p.finish()?;
    let after = CustomerRow {
        name: name.unwrap_or_else(|| row.name.clone()),
        phone: phone.unwrap_or_else(|| row.phone.clone()),
        email: email.unwrap_or_else(|| row.email.clone()),
        billing_address: billing_address.unwrap_or_else(|| row.billing_address.clone()),
        metadata,
        updated_at: Some(now),
        ..row.clone()
    };
    let db = db::db(call.ctx)?;
    let change = Sql::new(
        "UPDATE customers SET name = :name, phone = :phone, email = :email, billing_address = :billing_address,
             metadata = :metadata, updated_at = :updated_at
         WHERE id = :id AND deleted_at IS NULL",
    )
    .bind("id", row.internal_id.as_str())
    .bind("name", after.name.as_deref())
    .bind("phone", after.phone.as_deref())
    .bind("email", after.email.as_deref())
    .bind("billing_address", after.billing_address.as_deref())
    .bind("metadata", after.metadata.as_deref())
    .bind("updated_at", now)
    .prepare(&db)?;
    let data = render(after)?;
    let event = Event {
        kind: "customer.updated",
        object_id: &id,
        data: &data,
    };
    let scope = crate::billing::scope(call.principal()?);
    let batch = with_event(&db, change, scope, event, now, Guard::Applied)?;
    db.batch(batch).await?;
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(render(load(call, &id, None).await?)?))
}

/// A deleted customer, as the deletion answers and its event carries it (no `GET` finds
/// it any more).
fn deleted(id: &str) -> Value {
    json!({"id": id, "object": "customer", "customer_id": id, "deleted": true})
}

/// Deletes a customer that has no live subscription (one conditional statement, so a
/// subscription created meanwhile wins). Orders keep their history: the row stays,
/// marked deleted, and the merchant may reuse the id.
pub async fn delete(call: &mut Call<'_>) -> ApiResult<Reply> {
    let id = call.id()?.to_owned();
    let row = load(call, &id, None).await?;
    let now = db::now_unix();
    let db = db::db(call.ctx)?;
    let change = Sql::new(
        "UPDATE customers SET deleted_at = :now WHERE id = :id AND deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM subscriptions s
                           WHERE s.account_id = customers.account_id AND s.environment = customers.environment
                             AND s.customer_id = customers.customer_id
                             AND s.state NOT IN ('CANCELED', 'COMPLETED'))",
    )
    .bind("id", row.internal_id.as_str())
    .bind("now", now)
    .prepare(&db)?;
    let data = deleted(&id);
    let event = Event {
        kind: "customer.deleted",
        object_id: &id,
        data: &data,
    };
    let scope = crate::billing::scope(call.principal()?);
    let mut batch = with_event(&db, change, scope, event, now, Guard::Applied)?;
    // Its saved cards go with it (only if the deletion applied), so a new customer the
    // merchant gives the same `customer_id` starts without them.
    batch.push(
        Sql::new(
            "UPDATE payment_methods SET detached_at = :now
             WHERE account_id = :account AND environment = :environment AND customer_id = :customer
               AND detached_at IS NULL
               AND EXISTS (SELECT 1 FROM customers WHERE id = :internal AND deleted_at = :now)",
        )
        .bind("now", now)
        .bind("customer", id.as_str())
        .bind("internal", row.internal_id.as_str())
        .scoped(call.principal()?)
        .prepare(&db)?,
    );
    let results = db.batch(batch).await?;
    if db::changes(&results, 0) != 1 {
        return Err(ApiError::conflict(
            "customer_id",
            "This customer has a live subscription; cancel it before deleting the customer.",
        ));
    }
    crate::events::delivery::send_soon(call.ctx);
    Ok(Reply::ok(deleted(&id)))
}
