//! `GET /b/{product_id}?key=pk_…`: a checkout for one product, opened with a publishable
//! key instead of a payment link. Buy buttons with `data-product` and `data-key` open it,
//! in the overlay or as a plain navigation (so the fallback needs no API call, and no CORS).
//!
//! The session is created exactly as `POST /v1/checkout/sessions` with that key would
//! create it (same validation, same rules for publishable keys), from the query's
//! `prefilled_email`, `prefilled_name`, `client_reference_id` and `locale`.

use serde_json::{Map, Value, json};
use till_shared::catalog::Prefill;
use till_shared::embed::Frame;
use till_shared::keys::KeyKind;
use till_shared::locale::{Locale, Text};
use till_shared::routes::{Operation, ROUTES};
use worker::{Request, Response};

use crate::accounts::account;
use crate::api::call::Call;
use crate::checkout::sessions;
use crate::ctx::Ctx;
use crate::pages;

pub async fn visit(req: Request, ctx: &Ctx, product_id: &str) -> worker::Result<Response> {
    let url = req.url()?;
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let frame = Frame::from_query(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let accept = req.headers().get("Accept-Language")?;
    let locale = Locale::negotiate(param("locale").as_deref(), accept.as_deref());
    let not_found = || pages::message_in(&frame, locale, 404, Text::LinkNotFound);

    // Only a publishable key belongs in a page; a secret key here is refused like a wrong one.
    let Some(key) = param("key") else {
        return not_found();
    };
    let principal = match account::authenticate(&key, ctx).await {
        Ok(principal) if principal.key_kind == KeyKind::Publishable => principal,
        _ => return not_found(),
    };
    let Some(route) = ROUTES
        .iter()
        .find(|r| r.operation == Operation::CreateCheckoutSession)
    else {
        return pages::message_in(&frame, locale, 500, Text::ProcessingError);
    };
    let mut body = Map::new();
    body.insert("product_id".into(), json!(product_id));
    let prefill = Prefill::read(param);
    for (field, value) in [
        ("customer_email", prefill.email),
        ("customer_name", prefill.name),
        ("client_reference_id", prefill.client_reference_id),
        ("locale", prefill.locale),
    ] {
        if let Some(value) = value {
            body.insert(field.into(), json!(value));
        }
    }
    let mut call = Call::new(ctx, route, Some(principal), None, &url, Value::Object(body));
    let created = sessions::create(&mut call).await;
    let session_id = match created {
        Ok(reply) => reply.body["id"].as_str().map(str::to_owned),
        // A product that does not exist, is archived or has no price reads like a missing link.
        Err(_) => None,
    };
    let Some(session_id) = session_id else {
        return not_found();
    };
    let response = Response::empty()?.with_status(302);
    let headers = response.headers();
    headers.set(
        "Location",
        &format!(
            "{}/c/{session_id}{}",
            url.origin().ascii_serialization(),
            frame.query()
        ),
    )?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set("X-Robots-Tag", "noindex")?;
    Ok(response)
}
