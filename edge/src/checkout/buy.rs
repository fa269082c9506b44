//! `GET /b/{product_id}?key=pk_…`: a checkout for one product, opened with a publishable
//! key instead of a payment link. Buy buttons with `data-product` and `data-key` open it,
//! in the overlay or as a plain navigation (so the fallback needs no API call, and no CORS).
//!
//! The session is opened by the same use case as `POST /v1/checkout/sessions` with that
//! key (same validation; a publishable key sets no metadata), from the query's
//! `prefilled_email`, `prefilled_name`, `client_reference_id` and `locale`. Nothing in the
//! query sets where the shopper goes after paying or cancelling; inside the overlay the
//! page is framed only as the key's account allows.
//!
//! Anyone holding the page's public key can open sessions here, so each client address
//! (`CF-Connecting-IP`, an IPv6 address by its /64) may open at most 20 a minute, counted by
//! the platform's rate limiter (the `CHECKOUT_THROTTLE` binding in `wrangler.toml`) before
//! anything is read or written; beyond that it gets a page saying so, 429 with
//! `Retry-After`.

use till_shared::catalog::Prefill;
use till_shared::embed::{Frame, FrameRequest};
use till_shared::keys::KeyKind;
use till_shared::locale::{Locale, Text};
use till_shared::throttle::client_bucket;
use worker::{Response, console_error};

use crate::api::page::PageRequest;

use crate::accounts::{account, settings};
use crate::checkout::open::{self, NewCheckout, Sold};
use crate::ctx::Ctx;
use crate::pages;

pub async fn visit(req: PageRequest, ctx: &Ctx, product_id: &str) -> worker::Result<Response> {
    let query = req.query_pairs();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let asked = FrameRequest::from_query(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let locale = Locale::negotiate(param("locale").as_deref(), req.accept_language.as_deref());
    let not_found = |frame: &Frame| pages::message_in(frame, locale, 404, Text::LinkNotFound);

    if !may_open(ctx, req.client_address.as_deref()).await {
        let response = pages::message_in(&asked.unowned(), locale, 429, Text::TooManyCheckouts)?;
        response
            .headers()
            .set("Retry-After", &THROTTLE_PERIOD_SECS.to_string())?;
        return Ok(response);
    }
    // Only a publishable key belongs in a page; a secret key here is refused like a wrong one.
    let Some(key) = param("key") else {
        return not_found(&asked.unowned());
    };
    let principal = match account::authenticate(&key, ctx).await {
        Ok(principal) if principal.key_kind == KeyKind::Publishable => principal,
        _ => return not_found(&asked.unowned()),
    };
    let seller = principal.seller();
    let frame = match settings::allowed(ctx, seller).await {
        Ok(allowed) => allowed.frame(&asked),
        Err(_) => asked.unowned(),
    };
    let checkout = NewCheckout {
        prefill: trimmed(Prefill::read(param)),
        origin: req.origin(),
        ..NewCheckout::default()
    };
    let sold = Sold::Product(product_id.to_owned());
    // A product that does not exist, is archived or has no price reads like a missing link.
    let Ok(session) = open::open(ctx, seller, sold, checkout).await else {
        return not_found(&frame);
    };
    let response = Response::empty()?.with_status(302);
    let headers = response.headers();
    headers.set(
        "Location",
        &format!(
            "{}/c/{}{}",
            req.origin(),
            session.id.as_str(),
            frame.query()
        ),
    )?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set("X-Robots-Tag", "noindex")?;
    Ok(response)
}

/// The window of the `CHECKOUT_THROTTLE` limiter (`simple.period` in `wrangler.toml`).
const THROTTLE_PERIOD_SECS: u32 = 60;

/// Whether this address may open another session now. A Worker deployed without the
/// limiter, or a limiter that fails, lets the visit through (and says so in the log): a
/// buy button must not stop working with it.
async fn may_open(ctx: &Ctx, address: Option<&str>) -> bool {
    let limiter = match ctx.env.rate_limiter("CHECKOUT_THROTTLE") {
        Ok(limiter) => limiter,
        Err(error) => {
            console_error!("buy: no CHECKOUT_THROTTLE rate limiter: {error:?}");
            return true;
        }
    };
    match limiter
        .limit(format!("buy:{}", client_bucket(address)))
        .await
    {
        Ok(outcome) => outcome.success,
        Err(error) => {
            console_error!("buy: the rate limiter failed: {error:?}");
            true
        }
    }
}

/// The prefills as the API reads its string fields: trimmed.
fn trimmed(prefill: Prefill) -> Prefill {
    let trim = |value: Option<String>| value.map(|v| v.trim().to_owned());
    Prefill {
        email: trim(prefill.email),
        name: trim(prefill.name),
        client_reference_id: trim(prefill.client_reference_id),
        locale: trim(prefill.locale),
    }
}
