//! The Worker's front door. Routes come from `till_shared::routes::ROUTES` (the same table
//! the OpenAPI document is built from); each operation has exactly one handler below.
//! Static assets (the demo shop, docs, the widget files) are served by the platform before
//! the Worker runs.

use till_shared::api::ErrorCode;
use till_shared::routes::{Access, Operation, path_of, resolve};
use worker::worker_sys::web_sys;
use worker::{Context, Env, Request, Response, Result};

pub mod auth;
pub mod body;
mod idempotency;
mod test_hooks;

use crate::accounts::{account as accounts, health, openapi};
use crate::api::call::Call;
use crate::api::reply::{Dialect, Reply};
use crate::billing::{customers, payment_methods, subscriptions, test_clocks};
use crate::catalog::{prices, products, promotion_codes};
use crate::checkout::{buy, page as checkout_page, sessions as checkout_sessions};
use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::events::{event as events, webhooks};
use crate::links::{omise, payment_links, shortlinks};
use crate::pages;
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
        return match shortlinks::visit(&raw, url, &ctx, code.clone()).await? {
            shortlinks::Visit::Answered(response) => Ok(response),
            shortlinks::Visit::Unsigned(visit) => {
                crate::checkout::open::during_visit(&ctx, code.as_str(), *visit).await
            }
        };
    }
    let req = Request::from(raw);
    if path.starts_with("/__test/") && method == "POST" && test_hooks::enabled(&ctx) {
        let outcome = match path.as_str() {
            "/__test/d1" => test_hooks::query(req, &ctx).await,
            "/__test/scheduled" => test_hooks::scheduled(req, &ctx).await,
            "/__test/kv" => test_hooks::kv(req, &ctx).await,
            "/__test/panic" => test_hooks::panic(&req, &ctx),
            _ => Err(ApiError::new(
                ErrorCode::ResourceNotFound,
                "No such test hook.",
            )),
        };
        return outcome
            .unwrap_or_else(|error| error.into_reply(Dialect::Till))
            .into_response();
    }
    // Hosted checkout pages (HTML, not the JSON API).
    if let Some(rest) = path.strip_prefix("/c/") {
        return match (method.as_str(), rest.split_once('/')) {
            ("GET", None) => checkout_page::show(req, &ctx, rest).await,
            ("POST", None) => checkout_page::pay(req, &ctx, rest).await,
            ("POST", Some((id, "challenge"))) => checkout_page::challenge(req, &ctx, id).await,
            ("POST", Some((id, "promotion"))) => {
                checkout_page::apply_promotion(req, &ctx, id).await
            }
            _ => pages::message(
                till_shared::locale::Locale::En,
                404,
                till_shared::locale::Text::LinkNotFound,
            ),
        };
    }
    if let Some(product) = path.strip_prefix("/b/")
        && method == "GET"
        && !product.contains('/')
    {
        return buy::visit(req, &ctx, product).await;
    }
    let reply = match resolve(&method, &path) {
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
            match serve(req, &ctx, route, id, dialect).await {
                Ok(reply) => reply,
                Err(error) => error.into_reply(dialect),
            }
        }
    };
    reply.into_response()
}

async fn serve(
    mut req: Request,
    ctx: &Ctx,
    route: &'static till_shared::routes::Route,
    id: Option<String>,
    dialect: Dialect,
) -> ApiResult<Reply> {
    let principal = auth::authorize(&req, ctx, route.access).await?;
    let (body, raw) = read_body(&mut req).await?;
    let idempotency_key = req.headers().get("Idempotency-Key")?;
    let mut call = Call::new(ctx, route, principal, id, &req.url()?, body);

    let keyed = match (&call.principal, idempotency_key) {
        (Some(principal), Some(key)) if route.method == "POST" => Some((principal.clone(), key)),
        _ => None,
    };
    let Some((principal, key)) = keyed else {
        return dispatch(&mut call).await;
    };
    // The same key must come with the same request: method, path and body bytes.
    let mut fingerprint = format!("{} {}\0", route.method, req.path()).into_bytes();
    fingerprint.extend_from_slice(&raw);
    let request_hash = till_shared::keys::sha256_hex(&fingerprint);
    match idempotency::claim(ctx, &principal, &key, &request_hash).await? {
        Claim::Replay(reply) => Ok(reply),
        Claim::Fresh => {
            let reply = dispatch(&mut call)
                .await
                .unwrap_or_else(|error| error.into_reply(dialect));
            idempotency::finish(ctx, &principal, &key, &reply).await?;
            Ok(reply)
        }
    }
}

async fn dispatch(call: &mut Call<'_>) -> ApiResult<Reply> {
    match call.route.operation {
        Operation::Health => health::check(call.ctx).await,
        Operation::OpenApi => Ok(openapi::document(call)),
        Operation::CreateAccount => accounts::create(call).await,
        Operation::GetAccount => accounts::current(call).await,
        Operation::UpdateAccount => accounts::update(call).await,
        Operation::CreateCustomer => customers::create(call).await,
        Operation::ListCustomers => customers::list(call).await,
        Operation::GetCustomer => customers::get(call).await,
        Operation::UpdateCustomer => customers::update(call).await,
        Operation::DeleteCustomer => customers::delete(call).await,
        Operation::CreatePaymentMethod => payment_methods::create(call).await,
        Operation::ListPaymentMethods => payment_methods::list(call).await,
        Operation::GetPaymentMethod => payment_methods::get(call).await,
        Operation::DetachPaymentMethod => payment_methods::detach(call).await,
        Operation::CreateSubscription => subscriptions::create(call).await,
        Operation::ListSubscriptions => subscriptions::list(call).await,
        Operation::GetSubscription => subscriptions::get(call).await,
        Operation::UpdateSubscription => subscriptions::update(call).await,
        Operation::CancelSubscription => subscriptions::cancel(call).await,
        Operation::RetrySubscription => subscriptions::retry(call).await,
        Operation::ListBillingOrders => subscriptions::billing_orders(call).await,
        Operation::CreateTestClock => test_clocks::create(call).await,
        Operation::ListTestClocks => test_clocks::list(call).await,
        Operation::GetTestClock => test_clocks::get(call).await,
        Operation::DeleteTestClock => test_clocks::delete(call).await,
        Operation::AdvanceTestClock => test_clocks::advance(call).await,
        Operation::RollSecretKey => accounts::roll_secret_key(call).await,
        Operation::CreateProduct => products::create(call).await,
        Operation::ListProducts => products::list(call).await,
        Operation::GetProduct => products::get(call).await,
        Operation::UpdateProduct => products::update(call).await,
        Operation::ArchiveProduct => products::archive(call).await,
        Operation::CreatePrice => prices::create(call).await,
        Operation::ListPrices => prices::list(call).await,
        Operation::GetPrice => prices::get(call).await,
        Operation::UpdatePrice => prices::update(call).await,
        Operation::CreatePromotionCode => promotion_codes::create(call).await,
        Operation::ListPromotionCodes => promotion_codes::list(call).await,
        Operation::GetPromotionCode => promotion_codes::get(call).await,
        Operation::UpdatePromotionCode => promotion_codes::update(call).await,
        Operation::DeactivatePromotionCode => promotion_codes::deactivate(call).await,
        Operation::CreatePaymentLink => payment_links::create(call).await,
        Operation::ListPaymentLinks => payment_links::list(call).await,
        Operation::GetPaymentLink => payment_links::get(call).await,
        Operation::UpdatePaymentLink => payment_links::update(call).await,
        Operation::DeletePaymentLink => payment_links::delete(call).await,
        Operation::ArchivePaymentLink => payment_links::archive(call).await,
        Operation::CreateCheckoutSession => checkout_sessions::create(call).await,
        Operation::ListCheckoutSessions => checkout_sessions::list(call).await,
        Operation::GetCheckoutSession => checkout_sessions::get(call).await,
        Operation::ExpireCheckoutSession => checkout_sessions::expire(call).await,
        Operation::ListEvents => events::list(call).await,
        Operation::CreateWebhookEndpoint => webhooks::create(call).await,
        Operation::ListWebhookEndpoints => webhooks::list(call).await,
        Operation::GetWebhookEndpoint => webhooks::get(call).await,
        Operation::UpdateWebhookEndpoint => webhooks::update(call).await,
        Operation::DeleteWebhookEndpoint => webhooks::delete(call).await,
        Operation::RollWebhookSecret => webhooks::roll_secret(call).await,
        Operation::ListWebhookDeliveries => webhooks::deliveries(call).await,
        Operation::ReplayEvent => webhooks::replay_event(call).await,
        Operation::ReplayEvents => webhooks::replay_range(call).await,
        Operation::GetEvent => events::get(call).await,
        Operation::OmiseCreateLink => omise::create(call).await,
        Operation::OmiseListLinks => omise::list(call).await,
        Operation::OmiseGetLink => omise::get(call).await,
        Operation::OmiseDestroyLink => omise::destroy(call).await,
    }
}
