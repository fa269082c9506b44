//! The Worker's front door. Routes come from `till_shared::routes::ROUTES` (the same table
//! the OpenAPI document is built from); each operation has exactly one handler below.
//! Static assets (the demo shop, docs, the widget files) are served by the platform before
//! the Worker runs.

use std::future::Future;
use std::pin::Pin;

use till_shared::api::ErrorCode;
use till_shared::locale::Text;
use till_shared::routes::{Access, Operation, path_of, resolve};
use worker::worker_sys::web_sys;
use worker::{Context, Env, Request, Response, Result};

pub mod auth;
pub mod body;
mod demo;
mod idempotency;
mod test_hooks;

use crate::accounts::{account as accounts, dashboard, health, openapi};
use crate::api::call::Call;
use crate::api::page::PageRequest;
use crate::api::reply::{Dialect, Reply};
use crate::billing::{customers, payment_methods, portal, subscriptions, test_clocks};
use crate::catalog::{prices, products, promotion_codes};
use crate::checkout::{buy, page as checkout_page, sessions as checkout_sessions};
use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::events::{event as events, webhooks};
use crate::links::{omise, payment_links, shortlinks};
use crate::pages;
use crate::sales::{orders, payments, receipts, reconcile, refunds, stats};
use body::read_body;
use idempotency::Claim;

pub async fn handle(raw: web_sys::Request, env: Env, ctx: Context) -> Result<Response> {
    let ctx = Ctx { env, ctx };
    let method = raw.method();
    let url = raw.url();
    let path = path_of(&url).to_owned();
    // The benchmark's ceiling: the same entry, no storage (only with BENCH_ROUTES=enabled).
    if path == "/__bench/constant"
        && ctx
            .env
            .var("BENCH_ROUTES")
            .is_ok_and(|v| v.to_string() == "enabled")
    {
        return Response::ok("ok");
    }
    // The shopper's side: short links, the hottest path, read the raw request.
    if matches!(method.as_str(), "GET" | "HEAD")
        && let Some(code) = shortlinks::short_code(&path)
    {
        let header = |name: &str| raw.headers().get(name).ok().flatten();
        let visitor = shortlinks::Visitor {
            head: method == "HEAD",
            preview: till_shared::visit::is_preview(&method, header),
            accept_language: header("Accept-Language"),
            url,
        };
        return match boxed(shortlinks::visit(visitor, &ctx, code.clone())).await {
            Ok(shortlinks::Visit::Answered(response)) => Ok(response),
            Ok(shortlinks::Visit::Unsigned(visit)) => {
                boxed(crate::checkout::open::during_visit(
                    &ctx,
                    code.as_str(),
                    *visit,
                ))
                .await
            }
            Err(error) => ApiError::from(error)
                .into_reply(Dialect::Till)
                .into_response(),
        };
    }
    let req = Request::from(raw);
    if path.starts_with("/__test/") && method == "POST" && test_hooks::enabled(&ctx) {
        return boxed(test_hook(req, &ctx, &path)).await;
    }
    if path.starts_with("/c/") {
        return boxed(checkout_page(req, &ctx, &method, &path)).await;
    }
    if let Some(key) = path.strip_prefix("/receipts/")
        && method == "GET"
    {
        return match page_request(req).await? {
            Ok(req) => boxed(receipts::show(req, &ctx, key)).await,
            Err(refused) => refused,
        };
    }
    if let Some(account) = path.strip_prefix("/v1/processor_webhooks/stripe/")
        && method == "POST"
        && !account.contains('/')
    {
        return boxed(stripe_webhook(req, &ctx, account))
            .await?
            .into_response();
    }
    if path == "/portal" || path.starts_with("/portal/") {
        let post = method == "POST";
        if !(post || method == "GET") {
            return pages::message(till_shared::locale::Locale::En, 405, Text::LinkNotFound);
        }
        let rest = path["/portal".len()..].to_owned();
        return match page_request(req).await? {
            Ok(req) => boxed(crate::billing::portal_pages::handle(req, &ctx, post, &rest)).await,
            Err(refused) => refused,
        };
    }
    if path == "/dashboard/login" && matches!(method.as_str(), "GET" | "POST") {
        let same_origin = same_origin(&req);
        return match page_request(req).await? {
            Ok(req) => boxed(dashboard_login(req, &ctx, method == "POST" && same_origin)).await,
            Err(refused) => refused,
        };
    }
    if let Some(rest) = path.strip_prefix("/dashboard/")
        && method == "GET"
        && !rest.is_empty()
    {
        // A screen of the dashboard's router, opened or reloaded at its own address: the
        // dashboard's page (the static files themselves are served before the Worker runs).
        return boxed(dashboard_page(&ctx)).await;
    }
    if path == "/demo.json" && method == "GET" {
        return demo::shop(&ctx)
            .unwrap_or_else(|error| error.into_reply(Dialect::Till))
            .into_response();
    }
    if let Some(product) = path.strip_prefix("/b/")
        && method == "GET"
        && !product.contains('/')
    {
        return match page_request(req).await? {
            Ok(req) => boxed(buy::visit(req, &ctx, product)).await,
            Err(refused) => refused,
        };
    }
    boxed(api(req, &ctx, &method, &path)).await?.into_response()
}

/// Whether a request comes from a page of this origin (`Sec-Fetch-Site`, else `Origin`).
fn same_origin(req: &Request) -> bool {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    if let Some(site) = header("Sec-Fetch-Site") {
        return site == "same-origin";
    }
    let own = req.url().map(|u| u.origin().ascii_serialization());
    matches!((header("Origin"), own), (Some(sent), Ok(own)) if sent == own)
}

/// `GET /dashboard/login?token=…` asks to confirm; the confirmation (a POST from that page,
/// this origin only) spends the login link once, signs the browser in (the session cookie)
/// and sends it to the dashboard. A link is never spent by a GET: mail scanners and link
/// previews open links too. A used, expired or unknown link gets a page that says so.
async fn dashboard_login(req: PageRequest, ctx: &Ctx, confirmed: bool) -> Result<Response> {
    let locale = till_shared::locale::Locale::negotiate(None, req.accept_language.as_deref());
    let token = if confirmed {
        req.form
            .get("token")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    } else {
        req.query("token")
    }
    .unwrap_or_default();
    if !dashboard::looks_like_login_token(&token) {
        return pages::message(locale, 410, Text::LoginLinkUsed);
    }
    if !confirmed {
        // Which account and view the link opens, read without spending it: a merchant sent
        // someone else's link sees whose dashboard it is before signing in to it.
        let shown = match crate::db::db(ctx) {
            Ok(db) => dashboard::peek(&db, &token).await.ok().flatten(),
            Err(_) => None,
        };
        let Some((account, livemode)) = shown else {
            return pages::message(locale, 410, Text::LoginLinkUsed);
        };
        let mode = if livemode { "live" } else { "test" };
        let title = locale.text(Text::DashboardSignIn);
        let body = format!(
            "<div class=\"card center\"><h1>{title}</h1><p><strong>{}</strong> ({mode})</p><p>{}</p>\
             <form method=\"post\" action=\"/dashboard/login\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button id=\"pay\" type=\"submit\">{title}</button></form></div>",
            pages::escape(&account),
            pages::escape(locale.text(Text::DashboardSignInWhy)),
            pages::escape(&token),
            title = pages::escape(title),
        );
        return pages::page(
            &till_shared::embed::Frame::default(),
            200,
            locale,
            title,
            &body,
            None,
            None,
        );
    }
    let redeemed = match crate::db::db(ctx) {
        Ok(db) => dashboard::redeem(&db, &token).await,
        Err(error) => Err(error),
    };
    match redeemed {
        Ok(dashboard::Redeemed::Session(token)) => {
            let response = Response::empty()?.with_status(303);
            let headers = response.headers();
            headers.set("Location", "/dashboard/")?;
            headers.set("Set-Cookie", &dashboard::cookie(&token, 12 * 3600))?;
            headers.set("Cache-Control", "no-store")?;
            headers.set("Referrer-Policy", "no-referrer")?;
            Ok(response)
        }
        Ok(dashboard::Redeemed::Refused) => pages::message(locale, 410, Text::LoginLinkUsed),
        Err(_) => pages::message(locale, 503, Text::TryAgainShortly),
    }
}

/// The dashboard's page, from the static assets.
async fn dashboard_page(ctx: &Ctx) -> Result<Response> {
    let assets = ctx.env.assets("ASSETS")?;
    let mut page = assets
        .fetch("https://assets.invalid/dashboard/", None)
        .await?;
    if page.status_code() != 200 {
        return pages::message(till_shared::locale::Locale::En, 404, Text::LinkNotFound);
    }
    let response = Response::from_html(page.text().await?)?;
    let headers = response.headers();
    headers.set("Content-Security-Policy", DASHBOARD_CSP)?;
    headers.set("X-Frame-Options", "DENY")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set("Cache-Control", "no-cache")?;
    Ok(response)
}

/// The dashboard's Content-Security-Policy, as `www/_headers` sets it for its files.
const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'";

/// Stripe's events about an account's connection: the raw body (its signature covers the
/// bytes) within its cap, and the `Stripe-Signature` header.
async fn stripe_webhook(mut req: Request, ctx: &Ctx, account: &str) -> Result<Reply> {
    let signature = req.headers().get("Stripe-Signature").ok().flatten();
    let origin = req
        .url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let answer = match body::read_capped(&mut req, reconcile::MAX_EVENT_BYTES).await {
        Ok(Ok(bytes)) => match String::from_utf8(bytes) {
            Ok(text) => reconcile::stripe(ctx, account, signature.as_deref(), &text, &origin).await,
            Err(_) => Err(ApiError::invalid("body", "The body is not UTF-8 text.")),
        },
        Ok(Err(body::TooLarge)) => Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            "The event is larger than any Stripe sends.",
        )),
        Err(error) => Err(error.into()),
    };
    Ok(answer.unwrap_or_else(|error| error.into_reply(Dialect::Till)))
}

/// The test suite's hooks (only with `TEST_HOOKS=enabled`, and the operator token).
async fn test_hook(req: Request, ctx: &Ctx, path: &str) -> Result<Response> {
    let outcome = match path {
        "/__test/d1" => test_hooks::query(req, ctx).await,
        "/__test/kv" => test_hooks::kv(req, ctx).await,
        "/__test/panic" => test_hooks::panic(&req, ctx),
        "/__test/overflow" => test_hooks::overflow(&req, ctx),
        _ => Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            "No such test hook.",
        )),
    };
    outcome
        .unwrap_or_else(|error| error.into_reply(Dialect::Till))
        .into_response()
}

/// Hosted checkout pages (HTML, not the JSON API): `/c/{session_id}` and its forms.
async fn checkout_page(req: Request, ctx: &Ctx, method: &str, path: &str) -> Result<Response> {
    let req = match page_request(req).await? {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    let rest = path.strip_prefix("/c/").unwrap_or_default();
    match (method, rest.split_once('/')) {
        ("GET", None) => checkout_page::show(req, ctx, rest).await,
        ("POST", None) => checkout_page::pay(req, ctx, rest).await,
        ("POST", Some((id, "challenge"))) => checkout_page::challenge(req, ctx, id).await,
        ("POST", Some((id, "promotion"))) => checkout_page::apply_promotion(req, ctx, id).await,
        _ => pages::message(
            till_shared::locale::Locale::En,
            404,
            till_shared::locale::Text::LinkNotFound,
        ),
    }
}

/// What a shopper page reads of its request; a POST's form is read here, within
/// [`body::MAX_PAGE_BODY_BYTES`] (else 413) and the parameters' depth limit (else 400),
/// both answered as a page in the shopper's language.
async fn page_request(
    mut req: Request,
) -> Result<std::result::Result<PageRequest, Result<Response>>> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let (accept_language, client_address) = (header("Accept-Language"), header("CF-Connecting-IP"));
    let locale = till_shared::locale::Locale::negotiate(None, accept_language.as_deref());
    let refuse = |status, text| Err(pages::message(locale, status, text));
    let mut form = serde_json::Map::new();
    if req.method() == worker::Method::Post {
        let Ok(body) = body::read_capped(&mut req, body::MAX_PAGE_BODY_BYTES).await? else {
            return Ok(refuse(413, Text::FormTooLarge));
        };
        match till_shared::params::form_to_json(&body) {
            Ok(serde_json::Value::Object(fields)) => form = fields,
            _ => return Ok(refuse(400, Text::FormMalformed)),
        }
    }
    let cookies = req.headers().get("Cookie").ok().flatten();
    Ok(Ok(PageRequest {
        same_origin: same_origin(&req),
        url: req.url()?,
        accept_language,
        client_address,
        form,
        cookies,
    }))
}

/// What a page on another origin may send to a publishable-key route (its preflight's
/// answer): no cookies, only these headers.
const CORS_HEADERS: &str = "Content-Type, Authorization, X-Recur-Publishable-Key, Idempotency-Key";

/// The JSON API: the route table decides the operation, [`serve`] runs it.
async fn api(req: Request, ctx: &Ctx, method: &str, path: &str) -> Result<Reply> {
    let origin = req.headers().get("Origin").ok().flatten();
    // Publishable-key routes answer pages on other origins (a merchant's checkout button);
    // which origins may read the answer is decided per account, in `serve`.
    let cross_origin = |route: &till_shared::routes::Route| route.access == Access::AnyKey;
    if method == "OPTIONS" {
        let methods: Vec<&str> = ["GET", "POST"]
            .into_iter()
            .filter(|m| matches!(resolve(m, path), Some(Ok((route, _))) if cross_origin(route)))
            .collect();
        if let (Some(origin), false) = (origin.clone(), methods.is_empty()) {
            return Ok(Reply::text("text/plain", String::new())
                .with_header("Access-Control-Allow-Origin", origin)
                .with_header("Access-Control-Allow-Methods", methods.join(", "))
                .with_header("Access-Control-Allow-Headers", CORS_HEADERS)
                .with_header("Access-Control-Max-Age", "600")
                .with_header("Vary", "Origin"));
        }
    }
    // Only a publishable key's answer is readable from another origin: a secret key or a
    // dashboard session is never for a page's script.
    let publishable = auth::presents_publishable_key(&req);
    let reply = match resolve(method, path) {
        Some(Ok((route, _))) if cross_origin(route) && publishable => origin,
        _ => None,
    };
    let answer = api_reply(req, ctx, method, path).await?;
    Ok(match reply {
        Some(origin) => answer
            .with_header("Access-Control-Allow-Origin", origin)
            .with_header("Vary", "Origin"),
        None => answer,
    })
}

async fn api_reply(req: Request, ctx: &Ctx, method: &str, path: &str) -> Result<Reply> {
    Ok(match resolve(method, path) {
        None => ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("Unrecognized request URL ({method} {path})."),
        )
        .into_reply(Dialect::Till),
        Some(Err(allowed)) => ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "{method} is not supported on {path}; use {}.",
                allowed.join(", ")
            ),
        )
        .into_reply(Dialect::Till)
        .with_header("Allow", allowed.join(", ")),
        Some(Ok((route, id))) => {
            let dialect = if route.access == Access::BasicSecret {
                Dialect::Omise
            } else {
                Dialect::Till
            };
            serve(req, ctx, route, id, dialect)
                .await
                .unwrap_or_else(|error| error.into_reply(dialect))
        }
    })
}

async fn serve(
    mut req: Request,
    ctx: &Ctx,
    route: &'static till_shared::routes::Route,
    id: Option<String>,
    dialect: Dialect,
) -> ApiResult<Reply> {
    let (principal, dashboard) = auth::authorize(&req, ctx, route.access).await?;
    // A page on another origin may use a publishable key only from one of the account's
    // allowed hosts (the rule its redirects follow).
    if let (Some(origin), Some(principal)) = (req.headers().get("Origin")?, &principal)
        && principal.key_kind == till_shared::keys::KeyKind::Publishable
        && !same_origin(&req)
    {
        let hosts = crate::accounts::settings::allowed_hosts(ctx, principal.seller()).await?;
        let sandbox = principal.environment == till_shared::keys::Environment::Sandbox;
        if !hosts.allows_origin(&origin, sandbox) {
            return Err(ApiError::forbidden(format!(
                "Pages on {origin} may not use this publishable key: add the host to the account's {} (PATCH /v1/account).",
                crate::accounts::settings::FIELD
            )));
        }
    }
    // Signing in takes JSON only: a form on another site cannot send it (no CORS), so it
    // cannot sign a visitor in to someone else's account.
    if route.operation == Operation::SignIn
        && !req.headers().get("Content-Type")?.is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
    {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Sign in with a JSON body (Content-Type: application/json).",
        ));
    }
    let (body, raw) = read_body(&mut req).await?;
    let idempotency_key = req.headers().get("Idempotency-Key")?;
    let mut call = Call::new(ctx, route, principal, id, &req.url()?, body);
    call.client_address = req.headers().get("CF-Connecting-IP")?;
    call.dashboard = dashboard;
    call.operator = match route.access {
        Access::Operator => true,
        Access::Public | Access::SecretOrOperator => auth::presents_operator_token(&req, ctx),
        _ => false,
    };

    // The operator's requests (creating accounts) have keys of their own scope.
    let scope = match (&call.principal, route.access) {
        (Some(principal), _) => Some(idempotency::Scope::of(principal)),
        (None, Access::Operator) => Some(idempotency::Scope::operator()),
        (None, _) => None,
    };
    let (Some(scope), Some(key), "POST") = (scope, idempotency_key, route.method) else {
        return dispatch(&mut call).await;
    };
    // The same key must come with the same request: method, path and body bytes.
    let mut fingerprint = format!("{} {}\0", route.method, req.path()).into_bytes();
    fingerprint.extend_from_slice(&raw);
    let request_hash = till_shared::keys::sha256_hex(&fingerprint);
    match idempotency::claim(ctx, scope, &key, &request_hash).await? {
        Claim::Replay(reply) => Ok(reply),
        Claim::Fresh(held) => {
            let reply = dispatch(&mut call)
                .await
                .unwrap_or_else(|error| error.into_reply(dialect));
            idempotency::finish(ctx, held, &reply).await?;
            Ok(reply)
        }
    }
}

/// `future`, boxed: each page's and the API's state machine is its own function, so the
/// entry's future is not all of them inlined into one (it was 167 KB of wasm).
fn boxed<'a, T>(future: impl Future<Output = T> + 'a) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(future)
}

/// A handler's future, boxed: each has its own size, and the router's own future stays
/// small instead of inlining every handler's state machine into one.
type Handling<'c> = Pin<Box<dyn Future<Output = ApiResult<Reply>> + 'c>>;

fn dispatch<'c>(call: &'c mut Call<'_>) -> Handling<'c> {
    match call.route.operation {
        Operation::Health => Box::pin(health::check(call.ctx, call.operator)),
        Operation::OpenApi => Box::pin(std::future::ready(Ok(openapi::document(call)))),
        Operation::CreateAccount => Box::pin(accounts::create(call)),
        Operation::GetAccount => Box::pin(accounts::current(call)),
        Operation::UpdateAccount => Box::pin(accounts::update(call)),
        Operation::CreateCustomer => Box::pin(customers::create(call)),
        Operation::ListCustomers => Box::pin(customers::list(call)),
        Operation::GetCustomer => Box::pin(customers::get(call)),
        Operation::UpdateCustomer => Box::pin(customers::update(call)),
        Operation::DeleteCustomer => Box::pin(customers::delete(call)),
        Operation::CreatePaymentMethod => Box::pin(payment_methods::create(call)),
        Operation::ListPaymentMethods => Box::pin(payment_methods::list(call)),
        Operation::GetPaymentMethod => Box::pin(payment_methods::get(call)),
        Operation::DetachPaymentMethod => Box::pin(payment_methods::detach(call)),
        Operation::CreateSubscription => Box::pin(subscriptions::create(call)),
        Operation::ListSubscriptions => Box::pin(subscriptions::list(call)),
        Operation::GetSubscription => Box::pin(subscriptions::get(call)),
        Operation::UpdateSubscription => Box::pin(subscriptions::update(call)),
        Operation::CancelSubscription => Box::pin(subscriptions::cancel(call)),
        Operation::RetrySubscription => Box::pin(subscriptions::retry(call)),
        Operation::ListBillingOrders => Box::pin(subscriptions::billing_orders(call)),
        Operation::CreateTestClock => Box::pin(test_clocks::create(call)),
        Operation::ListTestClocks => Box::pin(test_clocks::list(call)),
        Operation::GetTestClock => Box::pin(test_clocks::get(call)),
        Operation::DeleteTestClock => Box::pin(test_clocks::delete(call)),
        Operation::AdvanceTestClock => Box::pin(test_clocks::advance(call)),
        Operation::RollSecretKey => Box::pin(accounts::roll_secret_key(call)),
        Operation::CreateLoginLink => Box::pin(dashboard::create_login_link(call)),
        Operation::SignIn => Box::pin(dashboard::sign_in(call)),
        Operation::GetDashboardSession => Box::pin(dashboard::current(call)),
        Operation::SignOut => Box::pin(dashboard::sign_out(call)),
        Operation::CreateProduct => Box::pin(products::create(call)),
        Operation::ListProducts => Box::pin(products::list(call)),
        Operation::GetProduct => Box::pin(products::get(call)),
        Operation::UpdateProduct => Box::pin(products::update(call)),
        Operation::ArchiveProduct => Box::pin(products::archive(call)),
        Operation::CreatePrice => Box::pin(prices::create(call)),
        Operation::ListPrices => Box::pin(prices::list(call)),
        Operation::GetPrice => Box::pin(prices::get(call)),
        Operation::UpdatePrice => Box::pin(prices::update(call)),
        Operation::CreatePromotionCode => Box::pin(promotion_codes::create(call)),
        Operation::ListPromotionCodes => Box::pin(promotion_codes::list(call)),
        Operation::GetPromotionCode => Box::pin(promotion_codes::get(call)),
        Operation::UpdatePromotionCode => Box::pin(promotion_codes::update(call)),
        Operation::DeactivatePromotionCode => Box::pin(promotion_codes::deactivate(call)),
        Operation::CreatePaymentLink => Box::pin(payment_links::create(call)),
        Operation::ListPaymentLinks => Box::pin(payment_links::list(call)),
        Operation::GetPaymentLink => Box::pin(payment_links::get(call)),
        Operation::PaymentLinkQr => Box::pin(crate::links::qr::svg(call)),
        Operation::PaymentLinkStats => Box::pin(stats::of_link(call)),
        Operation::Stats => Box::pin(stats::of_account(call)),
        Operation::UpdatePaymentLink => Box::pin(payment_links::update(call)),
        Operation::DeletePaymentLink => Box::pin(payment_links::delete(call)),
        Operation::ArchivePaymentLink => Box::pin(payment_links::archive(call)),
        Operation::CreateCheckoutSession => Box::pin(checkout_sessions::create(call)),
        Operation::ListCheckoutSessions => Box::pin(checkout_sessions::list(call)),
        Operation::GetCheckoutSession => Box::pin(checkout_sessions::get(call)),
        Operation::ExpireCheckoutSession => Box::pin(checkout_sessions::expire(call)),
        Operation::ListOrders => Box::pin(orders::list_orders(call)),
        Operation::GetOrder => Box::pin(orders::get(call)),
        Operation::ListPayments => Box::pin(payments::list_payments(call)),
        Operation::GetPayment => Box::pin(payments::get(call)),
        Operation::CreateRefund => Box::pin(refunds::create(call)),
        Operation::ListRefunds => Box::pin(refunds::list_refunds(call)),
        Operation::GetRefund => Box::pin(refunds::get(call)),
        Operation::ListEvents => Box::pin(events::list(call)),
        Operation::CreateWebhookEndpoint => Box::pin(webhooks::create(call)),
        Operation::ListWebhookEndpoints => Box::pin(webhooks::list(call)),
        Operation::GetWebhookEndpoint => Box::pin(webhooks::get(call)),
        Operation::UpdateWebhookEndpoint => Box::pin(webhooks::update(call)),
        Operation::DeleteWebhookEndpoint => Box::pin(webhooks::delete(call)),
        Operation::RollWebhookSecret => Box::pin(webhooks::roll_secret(call)),
        Operation::ListWebhookDeliveries => Box::pin(webhooks::deliveries(call)),
        Operation::ReplayEvent => Box::pin(webhooks::replay_event(call)),
        Operation::ReplayEvents => Box::pin(webhooks::replay_range(call)),
        Operation::GetEvent => Box::pin(events::get(call)),
        Operation::CreatePortalSession => Box::pin(portal::create_session(call)),
        Operation::Entitlements => Box::pin(portal::entitlements(call)),
        Operation::OmiseCreateLink => Box::pin(omise::create(call)),
        Operation::OmiseListLinks => Box::pin(omise::list(call)),
        Operation::OmiseGetLink => Box::pin(omise::get(call)),
        Operation::OmiseDestroyLink => Box::pin(omise::destroy(call)),
    }
}
