//! The customer portal's pages, `/portal/…`, rendered at the edge like checkout.
//!
//! `GET /portal/s/{token}` spends the URL a merchant's server made (once, within its hour)
//! and gives the browser a cookie of its own for an hour (`__Host-`, `HttpOnly`,
//! `SameSite=Lax`), then lands on the session's flow or the overview. Every page after
//! that reads the cookie; every change is a same-origin form POST with the session's CSRF
//! token. Changes run through the subscription, payment-method and customer use cases
//! the API runs, as the session's account and environment, so their checks and events are
//! the API's; every subscription named in a path is first checked to be this customer's.

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::billing::State;
use till_shared::catalog::Interval;
use till_shared::keys::{Environment, KeyKind, sha256_hex};
use till_shared::locale::{Locale, Text, format_money};
use till_shared::money::{Currency, Money};
use till_shared::portal::{self, csrf_token};
use till_shared::routes::{Operation, ROUTES};
use worker::{Response, Url};

use crate::api::call::Call;
use crate::api::iso;
use crate::api::page::PageRequest;
use crate::api::reply::Reply;
use crate::billing::portal::PortalRow;
use crate::billing::subscriptions::SubscriptionRow;
use crate::billing::{customers, payment_methods, subscriptions};
use crate::ctx::Ctx;
use crate::db::{self, Principal, Sql};
use crate::error::{ApiError, ApiResult};
use crate::pages;
use crate::pages::portal::{Details, HistoryRow, Overview, Shell, SubscriptionView};

/// The browser session's cookie: `__Host-`, so only this origin (never a sibling
/// subdomain) can set it.
pub const COOKIE: &str = "__Host-till_portal";

/// Subscriptions and payments a page lists, newest first.
const LISTED: i64 = 50;

/// Cards one portal session may try (as its table's CHECK allows).
const MAX_CARD_ATTEMPTS: i64 = 10;
/// Cards one customer's portal sessions may try in a UTC day (as `customers` allows).
const MAX_CARD_ATTEMPTS_A_DAY: i64 = 20;

/// A signed-in browser: its session, the account it acts in, and its cookie token.
struct Signed {
    row: PortalRow,
    principal: Principal,
    token: String,
    merchant_name: String,
    brand: String,
    /// Whose portal this is, as every page says (the email, else the name).
    customer_label: String,
    /// Rows of this merchant id created up to this time were another customer's (the id
    /// was deleted then and given again); -1 when it never was.
    customer_since: i64,
}

#[derive(Deserialize)]
struct MerchantRow {
    account_name: String,
    merchant_name: String,
    brand_logo_url: Option<String>,
    brand_color: Option<String>,
    customer_email: Option<String>,
    customer_name: Option<String>,
    customer_reused_after: Option<i64>,
}

/// `/portal/…` (after `/portal`): the router hands every portal page here.
pub async fn handle(
    req: PageRequest,
    ctx: &Ctx,
    post: bool,
    rest: &str,
) -> worker::Result<Response> {
    let locale = Locale::negotiate(None, req.accept_language.as_deref());
    if let Some(token) = rest.strip_prefix("/s/") {
        return match post {
            false => open(ctx, locale, token).await,
            true => pages::message(locale, 404, Text::LinkNotFound),
        };
    }
    let signed = match signed_in(&req, ctx).await {
        Ok(Some(signed)) => signed,
        Ok(None) => return pages::message(locale, 401, Text::PortalLinkUsed),
        Err(error) => {
            worker::console_error!("portal: {error:?}");
            return pages::message(locale, 503, Text::TryAgainShortly);
        }
    };
    let locale = Locale::negotiate(signed.row.locale.as_deref(), req.accept_language.as_deref());
    if post && !(req.same_origin && form_text(&req, "csrf") == csrf_token(&signed.token)) {
        return pages::message(locale, 403, Text::FormMalformed);
    }
    let answer = route(&req, ctx, &signed, locale, post, rest).await;
    answer.unwrap_or_else(|error| {
        worker::console_error!("portal: {error:?}");
        pages::message(locale, 503, Text::TryAgainShortly)
    })
}

async fn route(
    req: &PageRequest,
    ctx: &Ctx,
    signed: &Signed,
    locale: Locale,
    post: bool,
    rest: &str,
) -> ApiResult<worker::Result<Response>> {
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let done = |result: ApiResult<()>| -> ApiResult<Result<(), String>> {
        match result {
            Ok(()) => Ok(Ok(())),
            Err(ApiError::Client { message, .. }) => Ok(Err(message)),
            Err(other) => Err(other),
        }
    };
    match (post, parts.as_slice()) {
        (false, [""]) => {
            let notice = req.query("saved").map(|_| Ok(()));
            overview(req, ctx, signed, locale, notice).await
        }
        (false, ["card"]) => {
            let card = current_card(ctx, signed).await?.map(|(_, shown)| shown);
            let target = req.query("subscription");
            if let Some(id) = &target
                && own_subscription(ctx, signed, id).await?.is_none()
            {
                return Ok(pages::message(locale, 404, Text::PortalNotYours));
            }
            let stripe = stripe_fields(ctx, signed).await?;
            Ok(pages::portal::card(
                locale,
                &shell(signed, None),
                card.as_deref(),
                target.as_deref(),
                stripe.as_ref(),
            ))
        }
        (true, ["card"]) => {
            let target = form_text(req, "subscription");
            if !target.is_empty() && own_subscription(ctx, signed, &target).await?.is_none() {
                return Ok(pages::message(locale, 404, Text::PortalNotYours));
            }
            let target = (!target.is_empty()).then_some(target);
            let result = update_card(req, ctx, signed, target.clone()).await;
            match done(result)? {
                Ok(()) => Ok(saved()),
                Err(reason) => {
                    let card = current_card(ctx, signed).await?.map(|(_, shown)| shown);
                    let stripe = stripe_fields(ctx, signed).await?;
                    let shell = shell(signed, Some(Err(reason)));
                    let page = pages::portal::card(
                        locale,
                        &shell,
                        card.as_deref(),
                        target.as_deref(),
                        stripe.as_ref(),
                    );
                    Ok(page.map(|r| r.with_status(409)))
                }
            }
        }
        (true, ["signout"]) => sign_out(ctx, signed, locale).await,
        (true, ["details"]) => {
            let result = update_details(req, ctx, signed).await;
            finish(req, ctx, signed, locale, done(result)?).await
        }
        (_, ["subscriptions", id, action]) => {
            let Some(sub) = own_subscription(ctx, signed, id).await? else {
                return Ok(pages::message(locale, 404, Text::PortalNotYours));
            };
            let view = subscription_view(ctx, signed, locale, &sub).await?;
            match (post, *action) {
                (false, "cancel") => Ok(pages::portal::cancel(locale, &shell(signed, None), &view)),
                (false, "switch") => {
                    let choices = switch_choices(ctx, signed, locale, &sub).await?;
                    Ok(pages::portal::switch(
                        locale,
                        &shell(signed, None),
                        &view,
                        &choices,
                    ))
                }
                (true, action) => {
                    let result = match action {
                        "cancel" => {
                            let body = json!({"at_period_end": true});
                            let op = Operation::CancelSubscription;
                            run(ctx, req, signed, op, Some(id), body).await.map(drop)
                        }
                        "resume" => {
                            let body = json!({"cancel_at_period_end": false});
                            let op = Operation::UpdateSubscription;
                            run(ctx, req, signed, op, Some(id), body).await.map(drop)
                        }
                        "resubscribe" => resubscribe(ctx, req, signed, &sub).await,
                        "switch" => switch(ctx, req, signed, locale, &sub).await,
                        _ => return Ok(pages::message(locale, 404, Text::LinkNotFound)),
                    };
                    finish(req, ctx, signed, locale, done(result)?).await
                }
                _ => Ok(pages::message(locale, 404, Text::LinkNotFound)),
            }
        }
        _ => Ok(pages::message(locale, 404, Text::LinkNotFound)),
    }
}

/// After a change: to the overview (a GET, so a reload sends nothing again), or the
/// overview with the reason it was refused.
async fn finish(
    req: &PageRequest,
    ctx: &Ctx,
    signed: &Signed,
    locale: Locale,
    outcome: Result<(), String>,
) -> ApiResult<worker::Result<Response>> {
    match outcome {
        Ok(()) => Ok(saved()),
        Err(reason) => overview(req, ctx, signed, locale, Some(Err(reason))).await,
    }
}

/// Ends the browser's session at once, and sends it back to the merchant's site.
async fn sign_out(
    ctx: &Ctx,
    signed: &Signed,
    locale: Locale,
) -> ApiResult<worker::Result<Response>> {
    Sql::new("UPDATE portal_sessions SET browse_until = :now WHERE id = :id")
        .bind("now", db::now_unix())
        .bind("id", signed.row.id.as_str())
        .prepare(&db::db(ctx)?)?
        .run()
        .await?;
    let response = match &signed.row.return_url {
        Some(url) => Response::empty().map(|r| r.with_status(303)).and_then(|r| {
            r.headers().set("Location", url)?;
            Ok(r)
        }),
        None => pages::message(locale, 200, Text::PortalSignedOut),
    };
    Ok(response.and_then(|r| {
        r.headers().set(
            "Set-Cookie",
            &format!("{COOKIE}=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0"),
        )?;
        Ok(r)
    }))
}

fn saved() -> worker::Result<Response> {
    let response = Response::empty()?.with_status(303);
    response.headers().set("Location", "/portal?saved=1")?;
    response.headers().set("Cache-Control", "no-store")?;
    Ok(response)
}

fn form_text(req: &PageRequest, name: &str) -> String {
    req.form
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn looks_like_token(token: &str) -> bool {
    token.starts_with("bpt_")
        && token.len() <= 64
        && token[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Spends the URL's token once, within its hour, and signs the browser in.
async fn open(ctx: &Ctx, locale: Locale, token: &str) -> worker::Result<Response> {
    if !looks_like_token(token) {
        return pages::message(locale, 410, Text::PortalLinkUsed);
    }
    let browser = till_shared::ids::random_base62(32);
    let now = db::now_unix();
    let spent = async {
        let db = db::db(ctx)?;
        let landing: Option<PortalRow> = Sql::new(
            "UPDATE portal_sessions SET accessed_at = :now, browse_until = :until, browser_hash = :browser
             WHERE token_hash = :token AND accessed_at IS NULL AND expires_at > :now
             RETURNING *",
        )
        .bind("now", now)
        .bind("until", now + portal::SESSION_SECS)
        .bind("browser", sha256_hex(browser.as_bytes()))
        .bind("token", sha256_hex(token.as_bytes()))
        .prepare(&db)?
        .first(None)
        .await?;
        ApiResult::Ok(landing)
    };
    match spent.await {
        Ok(Some(row)) => {
            let response = Response::empty()?.with_status(303);
            let headers = response.headers();
            headers.set("Location", &row.landing())?;
            headers.set(
                "Set-Cookie",
                &format!(
                    "{COOKIE}={browser}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={}",
                    portal::SESSION_SECS
                ),
            )?;
            headers.set("Cache-Control", "no-store")?;
            headers.set("Referrer-Policy", "no-referrer")?;
            Ok(response)
        }
        Ok(None) => pages::message(locale, 410, Text::PortalLinkUsed),
        Err(error) => {
            worker::console_error!("portal open: {error:?}");
            pages::message(locale, 503, Text::TryAgainShortly)
        }
    }
}

/// The browser's session, from its cookie, while it lasts.
async fn signed_in(req: &PageRequest, ctx: &Ctx) -> ApiResult<Option<Signed>> {
    let Some(token) = req.cookie(COOKIE) else {
        return Ok(None);
    };
    if token.is_empty() || token.len() > 64 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(None);
    }
    let db = db::db(ctx)?;
    let row: Option<PortalRow> = Sql::new(
        "SELECT * FROM portal_sessions WHERE browser_hash = :browser AND browse_until > :now",
    )
    .bind("browser", sha256_hex(token.as_bytes()))
    .bind("now", db::now_unix())
    .prepare(&db)?
    .first(None)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    // The customer the session was opened for, still there: an id that was deleted and
    // given to someone else since is not theirs.
    let merchant: Option<MerchantRow> = Sql::new(
        "SELECT a.name AS account_name, coalesce(e.brand_name, a.name) AS merchant_name,
                e.brand_logo_url, e.brand_color, c.email AS customer_email, c.name AS customer_name,
                (SELECT max(d.deleted_at) FROM customers d WHERE d.account_id = a.id
                   AND d.environment = :environment AND d.customer_id = :customer_id
                   AND d.deleted_at IS NOT NULL) AS customer_reused_after
         FROM accounts a JOIN customers c
             ON c.id = :customer_key AND c.customer_id = :customer_id AND c.deleted_at IS NULL
           LEFT JOIN environment_settings e
             ON e.account_id = a.id AND e.environment = :environment
         WHERE a.id = :account",
    )
    .bind("customer_key", row.customer_key.as_str())
    .bind("customer_id", row.customer_id.as_str())
    .bind("account", row.account_id.as_str())
    .bind("environment", row.environment.as_str())
    .prepare(&db)?
    .first(None)
    .await?;
    let Some(merchant) = merchant else {
        return Ok(None);
    };
    Ok(Some(Signed {
        principal: Principal {
            account_id: row.account_id.clone(),
            account_name: merchant.account_name,
            environment: row.environment,
            key_kind: KeyKind::Secret,
        },
        brand: pages::brand(
            merchant.brand_logo_url.as_deref(),
            merchant.brand_color.as_deref(),
        ),
        merchant_name: merchant.merchant_name,
        customer_since: merchant.customer_reused_after.unwrap_or(-1),
        customer_label: merchant
            .customer_email
            .or(merchant.customer_name)
            .unwrap_or_else(|| row.customer_id.clone()),
        row,
        token: token.to_owned(),
    }))
}

fn shell(signed: &Signed, notice: Option<Result<(), String>>) -> Shell {
    Shell {
        merchant_name: signed.merchant_name.clone(),
        brand: signed.brand.clone(),
        test_mode: signed.row.environment == Environment::Sandbox,
        csrf: csrf_token(&signed.token),
        return_url: signed.row.return_url.clone(),
        customer: signed.customer_label.clone(),
        notice,
    }
}

/// Runs one of the API's use cases as the session's account, and answers its body.
async fn run(
    ctx: &Ctx,
    req: &PageRequest,
    signed: &Signed,
    operation: Operation,
    id: Option<&str>,
    body: Value,
) -> ApiResult<Value> {
    let route = ROUTES
        .iter()
        .find(|r| r.operation == operation)
        .ok_or_else(|| ApiError::internal("portal operation without a route"))?;
    let url = Url::parse(&format!("{}{}", req.origin(), route.path))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut call = Call::new(
        ctx,
        route,
        Some(signed.principal.clone()),
        id.map(str::to_owned),
        &url,
        body,
    );
    let reply: Reply = match operation {
        Operation::CancelSubscription => subscriptions::cancel(&mut call).await?,
        Operation::UpdateSubscription => subscriptions::update(&mut call).await?,
        Operation::CreateSubscription => subscriptions::create(&mut call).await?,
        Operation::RetrySubscription => subscriptions::retry(&mut call).await?,
        Operation::CreatePaymentMethod => payment_methods::create(&mut call).await?,
        Operation::UpdateCustomer => customers::update(&mut call).await?,
        _ => return Err(ApiError::internal("not a portal operation")),
    };
    Ok(reply.body)
}

/// The newest rows of `sql` that are the session's customer's: it names `:customer`,
/// `:since` (rows of a deleted customer with the same id are older) and `:limit`, in the
/// account's scope.
async fn listed<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    signed: &Signed,
    sql: &str,
) -> ApiResult<Vec<T>> {
    Ok(Sql::new(sql)
        .bind("customer", signed.row.customer_id.as_str())
        .bind("since", signed.customer_since)
        .bind("limit", LISTED)
        .scoped(&signed.principal)
        .prepare(&db::db(ctx)?)?
        .all()
        .await?
        .results()?)
}

/// A subscription of the session's customer, or `None` (someone else's, or none).
async fn own_subscription(
    ctx: &Ctx,
    signed: &Signed,
    id: &str,
) -> ApiResult<Option<SubscriptionRow>> {
    if id.len() > 64 {
        return Ok(None);
    }
    let row: Option<SubscriptionRow> =
        db::find_in(ctx, "subscriptions", signed.principal.seller(), id).await?;
    Ok(row.filter(|s| {
        s.customer_id == signed.row.customer_id && s.created_at > signed.customer_since
    }))
}

async fn own_subscriptions(ctx: &Ctx, signed: &Signed) -> ApiResult<Vec<SubscriptionRow>> {
    const SQL: &str =
        "SELECT * FROM subscriptions WHERE account_id = :account AND environment = :environment
           AND customer_id = :customer AND created_at > :since
         ORDER BY created_at DESC, id DESC LIMIT :limit";
    listed(ctx, signed, SQL).await
}

#[derive(Deserialize)]
struct ProductRow {
    id: String,
    name: String,
    portal_prices: Option<String>,
}

impl ProductRow {
    fn switchable(&self) -> Vec<String> {
        db::parse_json(self.portal_prices.as_deref())
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn product(ctx: &Ctx, signed: &Signed, id: &str) -> ApiResult<Option<ProductRow>> {
    db::find_in(ctx, "products", signed.principal.seller(), id).await
}

/// The period's unit: alone ("/ month") or counted ("/ 3 months").
fn interval_text(interval: Interval, counted: bool) -> Text {
    match (interval, counted) {
        (Interval::Minute, false) => Text::EveryMinute,
        (Interval::Hour, false) => Text::EveryHour,
        (Interval::Day, false) => Text::EveryDay,
        (Interval::Week, false) => Text::EveryWeek,
        (Interval::Month, false) => Text::EveryMonth,
        (Interval::Year, false) => Text::EveryYear,
        (Interval::Minute, true) => Text::Minutes,
        (Interval::Hour, true) => Text::Hours,
        (Interval::Day, true) => Text::Days,
        (Interval::Week, true) => Text::Weeks,
        (Interval::Month, true) => Text::Months,
        (Interval::Year, true) => Text::Years,
    }
}

/// "NT$590 / month", "฿100.00 / 3 か月".
fn price_text(
    locale: Locale,
    amount: i64,
    currency: Currency,
    interval: Interval,
    count: u32,
) -> String {
    let money =
        Money::from_minor(amount, currency).map_or_else(|_| amount.to_string(), format_money);
    let unit = locale.text(interval_text(interval, count != 1));
    if count == 1 {
        format!("{money} / {unit}")
    } else {
        format!("{money} / {count} {unit}")
    }
}

fn state_text(state: State) -> Text {
    match state {
        State::Active => Text::StateActive,
        State::Trialing => Text::StateTrialing,
        State::PastDue => Text::StatePastDue,
        State::Unpaid => Text::StateUnpaid,
        State::Incomplete => Text::StateIncomplete,
        State::Canceled => Text::StateCanceled,
        State::Completed => Text::StateCompleted,
    }
}

fn date(at: i64) -> ApiResult<String> {
    Ok(iso(at)?.chars().take(10).collect())
}

async fn subscription_view(
    ctx: &Ctx,
    signed: &Signed,
    locale: Locale,
    sub: &SubscriptionRow,
) -> ApiResult<SubscriptionView> {
    let mut names = Vec::new();
    let mut can_switch = false;
    for item in &sub.items {
        let product = match &item.product_id {
            Some(id) => product(ctx, signed, id).await?,
            None => None,
        };
        let name = item
            .name
            .clone()
            .or_else(|| product.as_ref().map(|p| p.name.clone()))
            .unwrap_or_default();
        names.push(if item.quantity > 1 {
            format!("{name} × {}", item.quantity)
        } else {
            name
        });
        can_switch = sub.items.len() == 1
            && product.is_some_and(|p| {
                let allowed = p.switchable();
                allowed.len() > 1
                    && item
                        .price_id
                        .as_ref()
                        .is_some_and(|id| allowed.contains(id))
            });
    }
    let runs = sub.state.runs_to_period_end();
    let when = match sub.state {
        _ if sub.cancel_at_period_end && runs => {
            sub.current_period_end.map(|at| (Text::PortalEndsOn, at))
        }
        State::Canceled | State::Completed => sub.ended_at.map(|at| (Text::PortalEndedOn, at)),
        _ => sub
            .next_billing_time
            .map(|at| (Text::PortalNextPayment, at)),
    };
    Ok(SubscriptionView {
        id: sub.id.clone(),
        title: names.join(", "),
        state: state_text(sub.state),
        price: price_text(
            locale,
            sub.amount,
            sub.currency,
            sub.interval,
            sub.interval_count,
        ),
        when: when
            .map(|(label, at)| date(at).map(|d| (label, d)))
            .transpose()?,
        can_cancel: runs && !sub.cancel_at_period_end,
        can_resume: runs && sub.cancel_at_period_end,
        can_resubscribe: sub.state == State::Canceled
            && sub.payment_method_id.is_some()
            && sub.resubscribed_as.is_none(),
        can_switch: can_switch && runs,
        overdue: matches!(sub.state, State::PastDue | State::Unpaid),
    })
}

#[derive(Deserialize)]
struct ConnectionRow {
    publishable_key: Option<String>,
}

/// Stripe's card fields, when the session's environment charges through Stripe.
async fn stripe_fields(
    ctx: &Ctx,
    signed: &Signed,
) -> ApiResult<Option<pages::checkout::StripeView>> {
    let row: Option<ConnectionRow> = Sql::new(
        "SELECT publishable_key FROM processor_connections WHERE account_id = :account AND environment = :environment",
    )
    .scoped(&signed.principal)
    .prepare(&db::db(ctx)?)?
    .first(None)
    .await?;
    row.and_then(|r| r.publishable_key)
        .map(|key| crate::accounts::processor::page_fields(&ctx.env, key))
        .transpose()
}

#[derive(Deserialize)]
struct CardRow {
    id: String,
    card_brand: String,
    card_last4: String,
}

/// The customer's newest attached card: its id, and "Visa •••• 4242".
async fn current_card(ctx: &Ctx, signed: &Signed) -> ApiResult<Option<(String, String)>> {
    let row: Option<CardRow> = Sql::new(
        "SELECT id, card_brand, card_last4 FROM payment_methods WHERE account_id = :account
           AND environment = :environment AND customer_id = :customer AND detached_at IS NULL
           AND created_at > :since
         ORDER BY created_at DESC, rowid DESC LIMIT 1",
    )
    .bind("customer", signed.row.customer_id.as_str())
    .bind("since", signed.customer_since)
    .scoped(&signed.principal)
    .prepare(&db::db(ctx)?)?
    .first(None)
    .await?;
    Ok(row.map(|c| {
        let mut brand = c.card_brand;
        if let Some(first) = brand.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        (c.id, format!("{brand} •••• {}", c.card_last4))
    }))
}

#[derive(Deserialize)]
struct PaidRow {
    amount: i64,
    amount_refunded: i64,
    currency: Currency,
    receipt_key: String,
    created_at: i64,
}

async fn history(ctx: &Ctx, signed: &Signed, origin: &str) -> ApiResult<Vec<HistoryRow>> {
    const PAID: &str =
        "SELECT amount, amount_refunded, currency, receipt_key, created_at FROM payments
         WHERE account_id = :account AND environment = :environment AND customer_id = :customer
           AND created_at > :since
         ORDER BY created_at DESC, id DESC LIMIT :limit";
    let rows: Vec<PaidRow> = listed(ctx, signed, PAID).await?;
    let money = |amount, currency| {
        Money::from_minor(amount, currency).map_or_else(|_| amount.to_string(), format_money)
    };
    const UNPAID: &str = "SELECT b.billing_time, b.amount, b.currency, b.status FROM billing_orders b
           JOIN subscriptions s ON s.id = b.subscription_id
         WHERE b.account_id = :account AND b.environment = :environment AND s.customer_id = :customer
           AND s.created_at > :since AND b.status != 'PAID'
           AND s.state IN ('PAST_DUE', 'UNPAID') AND b.sequence_no = s.completed_billing_iteration + 1
         ORDER BY b.billing_time DESC, b.id DESC LIMIT :limit";
    let unpaid: Vec<UnpaidRow> = listed(ctx, signed, UNPAID).await?;
    let mut lines: Vec<(i64, HistoryRow)> = Vec::with_capacity(rows.len() + unpaid.len());
    for r in rows {
        lines.push((
            r.created_at,
            HistoryRow {
                date: date(r.created_at)?,
                amount: money(r.amount, r.currency),
                refunded: (r.amount_refunded > 0).then(|| money(r.amount_refunded, r.currency)),
                receipt_url: Some(format!("{origin}/receipts/{}", r.receipt_key)),
                unpaid: None,
            },
        ));
    }
    for b in unpaid {
        lines.push((
            b.billing_time,
            HistoryRow {
                date: date(b.billing_time)?,
                amount: money(b.amount, b.currency),
                refunded: None,
                receipt_url: None,
                unpaid: Some(if b.status == "FAILED" {
                    Text::PortalPaymentFailed
                } else {
                    Text::PortalPaymentDue
                }),
            },
        ));
    }
    lines.sort_by_key(|line| std::cmp::Reverse(line.0));
    Ok(lines.into_iter().map(|(_, line)| line).collect())
}

#[derive(Deserialize)]
struct UnpaidRow {
    billing_time: i64,
    amount: i64,
    currency: Currency,
    status: String,
}

/// The session's customer as it is now (gone if deleted since).
async fn session_customer(ctx: &Ctx, signed: &Signed) -> ApiResult<Option<customers::CustomerRow>> {
    db::find_in(
        ctx,
        "customers_view",
        signed.principal.seller(),
        &signed.row.customer_id,
    )
    .await
}

async fn overview(
    req: &PageRequest,
    ctx: &Ctx,
    signed: &Signed,
    locale: Locale,
    notice: Option<Result<(), String>>,
) -> ApiResult<worker::Result<Response>> {
    let customer = session_customer(ctx, signed).await?;
    let Some(customer) = customer else {
        return Ok(pages::message(locale, 410, Text::PortalLinkUsed));
    };
    let mut subscriptions = Vec::new();
    for sub in own_subscriptions(ctx, signed).await? {
        subscriptions.push(subscription_view(ctx, signed, locale, &sub).await?);
    }
    let address = db::parse_json(customer.billing_address.as_deref());
    let line = |key: &str| {
        address
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let view = Overview {
        subscriptions,
        card: current_card(ctx, signed).await?.map(|(_, shown)| shown),
        history: history(ctx, signed, &req.origin()).await?,
        details: Details {
            name: customer.name.clone().unwrap_or_default(),
            email: customer.email.clone().unwrap_or_default(),
            line1: line("line1"),
            city: line("city"),
            postal_code: line("postal_code"),
            country: line("country"),
        },
    };
    let status_of = |notice: &Option<Result<(), String>>| match notice {
        Some(Err(_)) => 409,
        _ => 200,
    };
    let status = status_of(&notice);
    Ok(
        pages::portal::overview(locale, &shell(signed, notice), &view)
            .map(|r| r.with_status(status)),
    )
}

/// A canceled subscription again: the same items, on the customer's current card (the
/// ended subscription's, unless a newer one was saved), its first period charged now.
///
/// The customer is held in D1 for the while ([`HOLD_SECS`], lapsing by itself if the
/// Worker stops), so two tabs cannot start two; inside the hold the ended subscription is
/// read again, must not have been started again already, and no subscription that bills
/// (ACTIVE, TRIALING, PAST_DUE, UNPAID) may cover its products. A first charge that fails
/// leaves nothing live: what was created is found by its mark and canceled.
async fn resubscribe(
    ctx: &Ctx,
    req: &PageRequest,
    signed: &Signed,
    sub: &SubscriptionRow,
) -> ApiResult<()> {
    let db = db::db(ctx)?;
    let now = db::now_unix();
    let held = Sql::new(
        "UPDATE customers SET portal_held_until = :until
         WHERE id = :key AND (portal_held_until IS NULL OR portal_held_until < :now)",
    )
    .bind("until", now + HOLD_SECS)
    .bind("now", now)
    .bind("key", signed.row.customer_key.as_str())
    .prepare(&db)?;
    if db::run(held).await? != 1 {
        return Err(ApiError::conflict(
            "id",
            "Another change of this subscription is under way; try again in a moment.",
        ));
    }
    let outcome = resubscribe_held(ctx, req, signed, &sub.id).await;
    let release = Sql::new("UPDATE customers SET portal_held_until = NULL WHERE id = :key")
        .bind("key", signed.row.customer_key.as_str())
        .prepare(&db)?;
    db::run(release).await?;
    outcome
}

/// How long the portal holds a customer while it starts a subscription again.
const HOLD_SECS: i64 = 60;

async fn resubscribe_held(
    ctx: &Ctx,
    req: &PageRequest,
    signed: &Signed,
    id: &str,
) -> ApiResult<()> {
    let Some(sub) = own_subscription(ctx, signed, id).await? else {
        return Err(ApiError::not_found("subscription", id, Some("id")));
    };
    if sub.state != State::Canceled || sub.resubscribed_as.is_some() {
        return Err(ApiError::invalid(
            "id",
            "Only an ended subscription can be started again, and only once.",
        ));
    }
    let items: Vec<Value> = sub
        .items
        .iter()
        .map(|i| match &i.price_id {
            Some(price) => Ok(json!({"price_id": price, "quantity": i.quantity})),
            None => Err(ApiError::invalid(
                "id",
                "This subscription cannot be started again here.",
            )),
        })
        .collect::<ApiResult<_>>()?;
    let products: Vec<&str> = sub
        .items
        .iter()
        .filter_map(|i| i.product_id.as_deref())
        .collect();
    let bills = |state: State| {
        !matches!(
            state,
            State::Canceled | State::Completed | State::Incomplete
        )
    };
    let covered = own_subscriptions(ctx, signed)
        .await?
        .into_iter()
        .any(|other| {
            bills(other.state)
                && other.items.iter().any(|i| {
                    i.product_id
                        .as_deref()
                        .is_some_and(|p| products.contains(&p))
                })
        });
    if covered {
        return Err(ApiError::conflict(
            "id",
            "You already have a subscription to this that has not ended.",
        ));
    }
    let method = current_card(ctx, signed)
        .await?
        .map(|(id, _)| id)
        .or_else(|| sub.payment_method_id.clone());
    // The new subscription carries the old one's metadata, and names where it came from.
    let mut metadata = match db::parse_json(sub.metadata.as_deref()) {
        Value::Object(kept) if kept.len() < till_shared::params::METADATA_MAX_KEYS => kept,
        _ => serde_json::Map::new(),
    };
    metadata.insert("resubscribed_from".to_owned(), json!(sub.id));
    let body = json!({"customer_id": signed.row.customer_id, "payment_method": method,
        "items": items, "metadata": metadata});
    let created = run(ctx, req, signed, Operation::CreateSubscription, None, body).await;
    let db = db::db(ctx)?;
    if let Ok(new) = &created
        && new.get("state").and_then(Value::as_str) != Some("INCOMPLETE")
        && let Some(new_id) = new.get("id").and_then(Value::as_str)
    {
        let mark = Sql::new(
            "UPDATE subscriptions SET resubscribed_as = :new
             WHERE id = :id AND account_id = :account AND environment = :environment",
        )
        .bind("new", new_id)
        .bind("id", sub.id.as_str())
        .scoped(&signed.principal)
        .prepare(&db)?;
        db::run(mark).await?;
        return Ok(());
    }
    // Whatever this attempt created (even if creating answered an error after the row was
    // written) ends now.
    let made: Vec<MadeRow> = Sql::new(
        "SELECT id FROM subscriptions WHERE account_id = :account AND environment = :environment
           AND customer_id = :customer AND state NOT IN ('CANCELED', 'COMPLETED')
           AND json_extract(metadata, '$.resubscribed_from') = :from",
    )
    .bind("customer", signed.row.customer_id.as_str())
    .bind("from", sub.id.as_str())
    .scoped(&signed.principal)
    .prepare(&db)?
    .all()
    .await?
    .results()?;
    for made in made {
        run(
            ctx,
            req,
            signed,
            Operation::CancelSubscription,
            Some(&made.id),
            json!({}),
        )
        .await?;
    }
    created?;
    Err(ApiError::invalid(
        "card",
        "The first payment failed, and nothing was started: update your card and try again.",
    ))
}

#[derive(Deserialize)]
struct MadeRow {
    id: String,
}

/// The prices the product allows switching between: (price id, label, is current).
async fn switch_choices(
    ctx: &Ctx,
    signed: &Signed,
    locale: Locale,
    sub: &SubscriptionRow,
) -> ApiResult<Vec<(String, String, bool)>> {
    let [item] = sub.items.as_slice() else {
        return Ok(Vec::new());
    };
    let Some(product) = (match &item.product_id {
        Some(id) => product(ctx, signed, id).await?,
        None => None,
    }) else {
        return Ok(Vec::new());
    };
    let mut choices = Vec::new();
    for price_id in product.switchable() {
        let price: Option<PriceRow> =
            db::find_in(ctx, "prices", signed.principal.seller(), &price_id).await?;
        let Some(price) = price.filter(|p| p.active == 1 && p.product_id == product.id) else {
            continue;
        };
        // A switch keeps the subscription's currency and period (no proration yet).
        let (Some(interval), Some(count)) = (price.interval, price.interval_count) else {
            continue;
        };
        if price.currency != sub.currency || interval != sub.interval || count != sub.interval_count
        {
            continue;
        }
        let mut label = price_text(locale, price.amount, price.currency, interval, count);
        if let Some(nickname) = price.nickname.filter(|n| !n.is_empty()) {
            label = format!("{nickname}: {label}");
        }
        let current = item.price_id.as_deref() == Some(price.id.as_str());
        choices.push((price.id, label, current));
    }
    Ok(choices)
}

#[derive(Deserialize)]
struct PriceRow {
    id: String,
    product_id: String,
    nickname: Option<String>,
    amount: i64,
    currency: Currency,
    interval: Option<Interval>,
    interval_count: Option<u32>,
    active: i64,
}

/// Moves the subscription to another allowed price of its product, from its next period.
async fn switch(
    ctx: &Ctx,
    req: &PageRequest,
    signed: &Signed,
    locale: Locale,
    sub: &SubscriptionRow,
) -> ApiResult<()> {
    let chosen = form_text(req, "price");
    let choices = switch_choices(ctx, signed, locale, sub).await?;
    let Some((price_id, _, current)) = choices.iter().find(|c| c.0 == chosen) else {
        return Err(ApiError::invalid("price", "Choose one of the plans shown."));
    };
    if *current || !sub.state.runs_to_period_end() {
        return Err(ApiError::invalid(
            "price",
            "This is already the plan, or the subscription cannot change now.",
        ));
    }
    let quantity = sub.items.first().map_or(1, |i| i.quantity);
    let body = json!({"items": [{"price_id": price_id, "quantity": quantity}]});
    run(
        ctx,
        req,
        signed,
        Operation::UpdateSubscription,
        Some(&sub.id),
        body,
    )
    .await?;
    Ok(())
}

/// Saves the card typed on the page (a test card: the sandbox's numbers) for the customer,
/// charges it from now on for one subscription or all live ones, and retries at once each
/// that was overdue.
async fn update_card(
    req: &PageRequest,
    ctx: &Ctx,
    signed: &Signed,
    target: Option<String>,
) -> ApiResult<()> {
    let targets = match &target {
        Some(id) => match own_subscription(ctx, signed, id).await? {
            Some(sub) => vec![sub],
            None => {
                return Err(ApiError::not_found(
                    "subscription",
                    id,
                    Some("subscription"),
                ));
            }
        },
        None => own_subscriptions(ctx, signed).await?,
    };
    // Stripe's fields made a PaymentMethod (its id only reaches Till); else a test card.
    let stripe_method = form_text(req, "payment_method");
    let body = if stripe_method.is_empty() {
        let (exp_month, exp_year) = till_shared::card::parse_expiry(&form_text(req, "card_expiry"))
            .ok_or_else(|| {
                ApiError::invalid("card_expiry", "The expiry date is not valid (MM / YY).")
            })?;
        let number: String = form_text(req, "card_number")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let card = json!({"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": form_text(req, "card_cvc")});
        json!({"customer_id": signed.row.customer_id, "card": card})
    } else {
        json!({"customer_id": signed.row.customer_id, "payment_method": stripe_method})
    };
    // Each card tried counts against the session, before anything reaches a processor.
    let counted = Sql::new(
        "UPDATE portal_sessions SET card_attempts = card_attempts + 1
         WHERE id = :id AND card_attempts < :most",
    )
    .bind("id", signed.row.id.as_str())
    .bind("most", MAX_CARD_ATTEMPTS)
    .prepare(&db::db(ctx)?)?;
    if db::run(counted).await? != 1 {
        return Err(ApiError::invalid(
            "card",
            "Too many cards were tried in this session: open the portal again from the site you came from.",
        ));
    }
    // And against the customer, over every session of the day: new sessions do not reset it.
    let day = db::now_unix() / 86_400;
    let counted = Sql::new(
        "UPDATE customers SET
             portal_card_attempts = CASE WHEN portal_card_day IS :day THEN portal_card_attempts + 1 ELSE 1 END,
             portal_card_day = :day
         WHERE id = :key AND (portal_card_day IS NOT :day OR portal_card_attempts < :most)",
    )
    .bind("day", day)
    .bind("key", signed.row.customer_key.as_str())
    .bind("most", MAX_CARD_ATTEMPTS_A_DAY)
    .prepare(&db::db(ctx)?)?;
    if db::run(counted).await? != 1 {
        return Err(ApiError::invalid(
            "card",
            "Too many cards were tried today: try again tomorrow, or contact the shop.",
        ));
    }
    let method = run(ctx, req, signed, Operation::CreatePaymentMethod, None, body).await?;
    let method_id = method
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::internal("payment method without id"))?
        .to_owned();
    // The card goes on every subscription that bills (an INCOMPLETE one, whose first
    // charge failed, is not revived by a new card), and an overdue renewal is charged on
    // it now. One that cannot take it does not stop the others; the page names it.
    let mut refused = Vec::new();
    for sub in targets
        .iter()
        .filter(|s| s.state.is_live() && s.state != State::Incomplete)
    {
        let body = json!({"payment_method": method_id});
        if let Err(error) = run(
            ctx,
            req,
            signed,
            Operation::UpdateSubscription,
            Some(&sub.id),
            body,
        )
        .await
        {
            refused.push(reason(&sub.id, error)?);
            continue;
        }
        if matches!(sub.state, State::PastDue | State::Unpaid) {
            match run(
                ctx,
                req,
                signed,
                Operation::RetrySubscription,
                Some(&sub.id),
                json!({}),
            )
            .await
            {
                Ok(order) if order.get("status").and_then(Value::as_str) == Some("PAID") => {}
                Ok(_) => refused.push(format!(
                    "{}: the overdue payment was declined on this card.",
                    sub.id
                )),
                Err(error) => refused.push(reason(&sub.id, error)?),
            }
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "card",
            format!("The card was saved. {}", refused.join(" ")),
        ))
    }
}

/// What a refused change of one subscription says on the page; other errors stop.
fn reason(id: &str, error: ApiError) -> ApiResult<String> {
    match error {
        ApiError::Client { message, .. } => Ok(format!("{id}: {message}")),
        other => Err(other),
    }
}

/// Name, email and billing address, as receipts then show them.
async fn update_details(req: &PageRequest, ctx: &Ctx, signed: &Signed) -> ApiResult<()> {
    let text = |name: &str| {
        let value = form_text(req, name);
        (!value.is_empty()).then_some(value)
    };
    // The fields the page shows replace theirs; the rest of the address (a `line2` or
    // `state` the merchant set) stays.
    let customer = session_customer(ctx, signed).await?;
    let current_email = customer.as_ref().and_then(|c| c.email.clone());
    let mut address = match customer.map(|c| db::parse_json(c.billing_address.as_deref())) {
        Some(Value::Object(kept)) => kept,
        _ => serde_json::Map::new(),
    };
    for key in ["line1", "city", "postal_code", "country"] {
        match text(key) {
            Some(value) => address.insert(key.to_owned(), Value::String(value)),
            None => address.remove(key),
        };
    }
    // An email is how a merchant may find its customer: one that another customer of the
    // shop has is refused, so a customer cannot make someone else's lookups ambiguous.
    if let Some(email) = text("email").filter(|e| {
        current_email
            .as_deref()
            .is_none_or(|current| !current.eq_ignore_ascii_case(e))
    }) {
        let taken: Option<MadeRow> = Sql::new(
            "SELECT id FROM customers_view WHERE account_id = :account AND environment = :environment
               AND lower(email) = lower(:email) AND id != :customer LIMIT 1",
        )
        .bind("email", email.as_str())
        .bind("customer", signed.row.customer_id.as_str())
        .scoped(&signed.principal)
        .prepare(&db::db(ctx)?)?
        .first(None)
        .await?;
        if taken.is_some() {
            return Err(ApiError::conflict(
                "email",
                "This email cannot be used here; keep the one you have, or contact the shop.",
            ));
        }
    }
    let body = json!({
        "name": text("name"),
        "email": text("email").ok_or_else(|| ApiError::invalid("email", "Enter a valid email address."))?,
        "billing_address": if address.is_empty() { Value::Null } else { Value::Object(address) },
    });
    run(
        ctx,
        req,
        signed,
        Operation::UpdateCustomer,
        Some(&signed.row.customer_id),
        body,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_portal_tokens_are_looked_up() {
        assert!(looks_like_token("bpt_abcDEF123"));
        assert!(!looks_like_token("bpt_abc-def"));
        assert!(!looks_like_token("cs_abc"));
        assert!(!looks_like_token(&format!("bpt_{}", "a".repeat(80))));
    }

    #[test]
    fn prices_read_with_their_interval() {
        let text = price_text(Locale::En, 590, Currency::Twd, Interval::Month, 1);
        assert_eq!(text, "NT$590 / month");
        let text = price_text(Locale::Ja, 10000, Currency::Thb, Interval::Month, 3);
        assert_eq!(text, "฿100.00 / 3 か月");
    }
}
