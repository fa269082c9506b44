//! The customer portal's API side: `POST /v1/portal/sessions` opens a short-lived portal
//! for one customer (its pages are [`super::portal_pages`]), and `GET
//! /v1/customers/entitlements` answers what a customer may use. Both name the customer by
//! `customer_id` (Till's id, generated or the merchant's own), `external_id` (the same
//! id, as Recur's clients call it) or `email`, in that priority.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::billing::State;
use till_shared::catalog::{LOCALES, is_plausible_email};
use till_shared::keys::{Environment, sha256_hex};
use till_shared::params::{Params, validate_redirect_url};
use till_shared::plan::PlanItem;
use till_shared::portal::{self, Flow, Held};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::reply::Reply;
use crate::billing::customers::CustomerRow;
use crate::db::{self, Sql, columns};
use crate::error::{ApiError, ApiResult};

/// A portal session row.
#[derive(Deserialize, Clone)]
pub struct PortalRow {
    pub id: String,
    pub account_id: String,
    pub environment: Environment,
    pub customer_key: String,
    pub customer_id: String,
    pub return_url: Option<String>,
    pub locale: Option<String>,
    pub configuration_id: Option<String>,
    pub flow: Option<String>,
    pub flow_subscription_id: Option<String>,
    pub expires_at: i64,
    pub accessed_at: Option<i64>,
    pub browse_until: Option<i64>,
    pub created_at: i64,
}

impl PortalRow {
    pub fn flow(&self) -> Option<Flow> {
        self.flow.as_deref().and_then(Flow::parse)
    }

    /// The page the session opens on: its flow's, else the overview.
    pub fn landing(&self) -> String {
        let rest = self
            .flow()
            .map(|f| f.path(self.flow_subscription_id.as_deref()))
            .unwrap_or_default();
        format!("/portal{rest}")
    }
}

fn render(row: &PortalRow, url: &str, now: i64) -> ApiResult<Value> {
    let status = portal::status(row.expires_at, row.accessed_at, row.browse_until, now);
    let expires_at = iso(row.expires_at)?;
    let accessed_at = row.accessed_at.map(iso).transpose()?;
    let created_at = iso(row.created_at)?;
    let flow = row
        .flow
        .as_ref()
        .map(|kind| json!({"type": kind, "subscription_id": row.flow_subscription_id}));
    Ok(json!({
        "id": row.id,
        "object": "portal.session",
        "url": url,
        "customer_id": row.customer_id,
        "return_url": row.return_url,
        "locale": row.locale.as_deref().unwrap_or("auto"),
        "configuration_id": row.configuration_id,
        "flow": flow,
        "status": status,
        "expires_at": expires_at,
        "accessed_at": accessed_at,
        "created_at": created_at,
        "livemode": row.environment == Environment::Production,
        "customerId": row.customer_id,
        "returnUrl": row.return_url,
        "expiresAt": expires_at,
        "accessedAt": accessed_at,
        "createdAt": created_at,
    }))
}

/// Which customer a request names: `customer_id`, else `external_id`, else `email`.
fn read_customer(p: &mut Params) -> ApiResult<Named> {
    let customer_id = p.string("customer_id", 64)?;
    let external_id = p.string("external_id", 64)?;
    let email = p.string("email", 254)?;
    named(customer_id, external_id, email)
}

/// What names a customer in a request.
pub enum Named {
    Id(String, &'static str),
    Email(String),
}

fn named(
    customer_id: Option<String>,
    external_id: Option<String>,
    email: Option<String>,
) -> ApiResult<Named> {
    for (param, value, max) in [
        ("customer_id", &customer_id, 64),
        ("external_id", &external_id, 64),
        ("email", &email, 254),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            return Err(ApiError::invalid(
                param,
                format!("At most {max} characters."),
            ));
        }
    }
    match (customer_id, external_id, email) {
        (Some(id), _, _) => Ok(Named::Id(id, "customer_id")),
        (None, Some(id), _) => Ok(Named::Id(id, "external_id")),
        (None, None, Some(email)) if is_plausible_email(&email) => Ok(Named::Email(email)),
        (None, None, Some(_)) => Err(ApiError::invalid("email", "Not an email address.")),
        (None, None, None) => Err(ApiError::invalid(
            "customer_id",
            "Name the customer: customer_id (or customerId), external_id (or externalId), or email.",
        )),
    }
}

/// The customer a request names, of the caller's; an email that several customers share
/// is a 409 (name the customer by id instead).
pub async fn find_customer(call: &Call<'_>, named: &Named) -> ApiResult<CustomerRow> {
    match named {
        Named::Id(id, param) => crate::billing::customers::load(call, id, Some(param)).await,
        Named::Email(email) => {
            let rows: Vec<CustomerRow> = Sql::new(
                "SELECT * FROM customers_view WHERE account_id = :account AND environment = :environment
                   AND lower(email) = lower(:email) LIMIT 2",
            )
            .bind("email", email.as_str())
            .scoped(call.principal()?)
            .prepare(&db::db(call.ctx)?)?
            .all()
            .await?
            .results()?;
            let mut rows = rows.into_iter();
            match (rows.next(), rows.next()) {
                (Some(one), None) => Ok(one),
                (None, _) => Err(ApiError::not_found(
                    "customer with email",
                    email,
                    Some("email"),
                )),
                (Some(_), Some(_)) => Err(ApiError::conflict(
                    "email",
                    "Several customers have this email; name the customer by customer_id.",
                )),
            }
        }
    }
}

/// `POST /v1/portal/sessions`: the customer, `return_url`, `locale`, `configuration_id`
/// (kept and echoed), and a `flow` (`cancel` and `switch_plan` with a `subscription_id`;
/// `update_payment_method` with or without one). The URL works once, within an hour.
pub async fn create_session(call: &mut Call<'_>) -> ApiResult<Reply> {
    let mut p = call.params()?;
    let named = read_customer(&mut p)?;
    let sandbox = call.sandbox();
    let return_url = p
        .string("return_url", 2048)?
        .map(|u| validate_redirect_url(&u, sandbox).map_err(|m| ApiError::invalid("return_url", m)))
        .transpose()?;
    let locale = p.one_of("locale", LOCALES)?;
    let configuration_id = p.string("configuration_id", 100)?;
    let flow = p
        .one_of("flow", &Flow::ALL.map(Flow::as_str))?
        .and_then(Flow::parse);
    let subscription_id = p.string("subscription_id", 64)?;
    p.finish()?;
    if flow.is_some_and(Flow::needs_subscription) && subscription_id.is_none() {
        return Err(ApiError::invalid(
            "subscription_id",
            "This flow is about one subscription: send its subscription_id.",
        ));
    }
    let customer = find_customer(call, &named).await?;
    if let Some(id) = &subscription_id {
        let sub = crate::billing::subscriptions::load(call, id).await;
        if !sub.is_ok_and(|s| s.customer_id == customer.id) {
            return Err(ApiError::not_found(
                "subscription of this customer",
                id,
                Some("subscription_id"),
            ));
        }
    }
    let principal = call.principal()?;
    let now = db::now_unix();
    let token = format!("bpt_{}", till_shared::ids::random_base62(32));
    let row = PortalRow {
        id: till_shared::ids::PortalSessionId::generate().to_string(),
        account_id: principal.account_id.clone(),
        environment: principal.environment,
        customer_key: customer.internal_id.clone(),
        customer_id: customer.id.clone(),
        return_url,
        locale: locale.map(str::to_owned),
        configuration_id,
        flow: flow.map(|f| f.as_str().to_owned()),
        flow_subscription_id: subscription_id,
        expires_at: now + portal::SESSION_SECS,
        accessed_at: None,
        browse_until: None,
        created_at: now,
    };
    Sql::new(
        "INSERT INTO portal_sessions (id, account_id, environment, customer_key, customer_id, token_hash,
             return_url, locale, configuration_id, flow, flow_subscription_id, expires_at, created_at)
         VALUES (:id, :account, :environment, :customer_key, :customer_id, :token_hash, :return_url,
             :locale, :configuration_id, :flow, :flow_subscription_id, :expires_at, :now)",
    )
    .bind("id", row.id.as_str())
    .scoped(principal)
    .bind("customer_key", row.customer_key.as_str())
    .bind("customer_id", row.customer_id.as_str())
    .bind("token_hash", sha256_hex(token.as_bytes()))
    .bind("return_url", row.return_url.as_deref())
    .bind("locale", row.locale.as_deref())
    .bind("configuration_id", row.configuration_id.as_deref())
    .bind("flow", row.flow.as_deref())
    .bind("flow_subscription_id", row.flow_subscription_id.as_deref())
    .bind("expires_at", row.expires_at)
    .bind("now", now)
    .prepare(&db::db(call.ctx)?)?
    .run()
    .await?;
    let url = format!("{}/portal/s/{token}", call.origin);
    Ok(Reply::created(render(&row, &url, now)?))
}

/// What entitlements read of a subscription, with its product summaries.
#[derive(Deserialize)]
struct HeldRow {
    id: String,
    state: State,
    #[serde(deserialize_with = "columns::json")]
    items: Vec<PlanItem>,
    #[serde(deserialize_with = "columns::flag")]
    cancel_at_period_end: bool,
    current_period_end: Option<i64>,
    ended_at: Option<i64>,
    test_clock_id: Option<String>,
}

#[derive(Deserialize)]
struct ProductSummary {
    id: String,
    slug: String,
    name: String,
}

/// `GET /v1/customers/entitlements?customer_id=…|external_id=…|email=…`: one entry per
/// product of the customer's live or just-ended subscriptions ([`Held::entitled`]), and
/// the subscription behind the first.
pub async fn entitlements(call: &mut Call<'_>) -> ApiResult<Reply> {
    let query = |names: [&str; 2]| {
        call.query
            .iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let named = named(
        query(["customer_id", "customerId"]),
        query(["external_id", "externalId"]),
        query(["email", "email"]),
    )?;
    let customer = find_customer(call, &named).await?;
    let db = db::db(call.ctx)?;
    // An id deleted and given again: the earlier customer's subscriptions are not theirs.
    let rows: Vec<HeldRow> = Sql::new(
        "SELECT id, state, items, cancel_at_period_end, current_period_end, ended_at, test_clock_id
         FROM subscriptions WHERE account_id = :account AND environment = :environment
           AND customer_id = :customer
           AND created_at > coalesce((SELECT max(deleted_at) FROM customers
               WHERE account_id = :account AND environment = :environment AND customer_id = :customer
                 AND deleted_at IS NOT NULL), -1)
         ORDER BY created_at DESC, id DESC LIMIT 100",
    )
    .bind("customer", customer.id.as_str())
    .scoped(call.principal()?)
    .prepare(&db)?
    .all()
    .await?
    .results()?;
    let mut held = Vec::with_capacity(rows.len());
    let mut clocks: Vec<(String, i64)> = Vec::new();
    for row in rows {
        // The subscription's test clock's time; a clock deleted since (its subscriptions
        // ended then) is read as now.
        let now = match &row.test_clock_id {
            None => db::now_unix(),
            Some(clock) => match clocks.iter().find(|(id, _)| id == clock) {
                Some((_, at)) => *at,
                None => {
                    let at = match crate::billing::test_clocks::load(call, clock, None).await {
                        Ok(found) => found.frozen_time,
                        Err(ApiError::Client { .. }) => db::now_unix(),
                        Err(other) => return Err(other),
                    };
                    clocks.push((clock.clone(), at));
                    at
                }
            },
        };
        held.push(Held {
            subscription_id: row.id,
            product_ids: row
                .items
                .iter()
                .filter_map(|i| i.product_id.clone())
                .collect(),
            state: row.state,
            cancel_at_period_end: row.cancel_at_period_end,
            current_period_end: row.current_period_end,
            ended_at: row.ended_at,
            now,
        });
    }
    let list = portal::entitlements(&held);
    let mut products = Vec::with_capacity(list.len());
    for entitlement in &list {
        let product: Option<ProductSummary> = db::find(
            call.ctx,
            "products",
            call.principal()?,
            &entitlement.product_id,
        )
        .await?;
        products.push(product);
    }
    let entries: Vec<Value> = list
        .iter()
        .zip(&products)
        .map(|(e, product)| {
            json!({
                "product": product.as_ref().map(|p| p.slug.as_str()),
                "product_id": e.product_id,
                "status": e.status.as_str(),
                "subscription_id": e.subscription_id,
            })
        })
        .collect();
    let subscription = match list.first() {
        Some(first) => {
            let sub = crate::billing::subscriptions::load(call, &first.subscription_id).await?;
            let product = products.first().and_then(Option::as_ref);
            Some(json!({
                "id": sub.id,
                "status": first.status.as_str(),
                "state": sub.state,
                "product": product.map(|p| json!({"id": p.id, "slug": p.slug, "name": p.name})),
                "current_period_end": sub.current_period_end.map(iso).transpose()?,
            }))
        }
        None => None,
    };
    Ok(Reply::ok(json!({
        "object": "entitlements",
        "customer_id": customer.id,
        "entitlements": entries,
        "subscription": subscription,
    })))
}

/// Portal sessions a day after they ended (their URL unused past its hour, or their
/// browser session over), in bounded steps.
pub async fn forget_ended(db: &worker::D1Database, now: i64) -> ApiResult<()> {
    let before = now - 86_400;
    Sql::new(
        "DELETE FROM portal_sessions WHERE id IN (SELECT id FROM portal_sessions
           WHERE expires_at < :before AND (browse_until IS NULL OR browse_until < :before) LIMIT 500)",
    )
    .bind("before", before)
    .prepare(db)?
    .run()
    .await?;
    Ok(())
}
