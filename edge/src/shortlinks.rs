//! The short-link hot path, `GET /{url_id}`: junk is refused before any read; the link
//! comes from this isolate's memory (10 s), else KV (60 s), else D1 (then cached, off the
//! response path). A human visit writes nothing: it gets a 302 to its checkout page with a
//! signed ticket (`till_shared::ticket`), and the page creates the session when the
//! shopper's browser loads it — conditionally on the link being payable in D1, counting
//! the view and the session in the same batch. Previews, prefetches and HEAD get a page
//! with the product's Open Graph tags and create nothing.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value};
use till_shared::catalog::Prefill;
use till_shared::embed::Frame;
use till_shared::ids::{CheckoutSessionId, ShortCode};
use till_shared::locale::{Locale, Text, format_money};
use till_shared::money::{Currency, Money};
use till_shared::ticket::{Signer, Ticket, TicketError};
use worker::worker_sys::web_sys;
use worker::{Response, Url};

use crate::checkout_sessions::{FromLink, NewSession, insert};
use crate::error::{ApiError, ApiResult};
use crate::pages::{self, escape};
use crate::payment_links::{LinkRow, subtotal};
use crate::promotion_codes::find_by_code;
use crate::router::Ctx;
use crate::store::{self, Bind};

/// Sessions made from links live 24 hours, like API sessions by default.
const SESSION_LIFETIME: i64 = 24 * 3600;
/// How long a cached link snapshot may be served; nothing that takes money trusts it.
const SNAPSHOT_TTL: u64 = 60;
/// How long this isolate keeps a snapshot in memory (it is also forgotten on changes made
/// through this isolate).
const MEMORY_TTL: i64 = 10;
/// At most this many snapshots in memory; past it the memory starts over.
const MEMORY_ENTRIES: usize = 2_000;

thread_local! {
    static MEMORY: RefCell<HashMap<String, (LinkRow, i64)>> = RefCell::new(HashMap::new());
}

fn remember(code: &str, link: &LinkRow) {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() >= MEMORY_ENTRIES {
            memory.clear();
        }
        memory.insert(
            code.to_owned(),
            (link.clone(), store::now_unix() + MEMORY_TTL),
        );
    });
}

fn recall(code: &str) -> Option<LinkRow> {
    let now = store::now_unix();
    MEMORY.with(|memory| {
        memory
            .borrow()
            .get(code)
            .filter(|(_, until)| *until > now)
            .map(|(link, _)| link.clone())
    })
}

thread_local! {
    /// The signer for the operator token it was made from, kept for the isolate's life.
    static SIGNER: RefCell<Option<(String, Signer)>> = const { RefCell::new(None) };
}

/// What checkout tickets are signed with; `None` when the Worker has no operator token
/// (then a visit creates its session itself, as a plain write).
fn signer(ctx: &Ctx) -> Option<Signer> {
    let secret = crate::auth::operator_token(ctx);
    if secret.is_empty() {
        return None;
    }
    SIGNER.with(|held| {
        let mut held = held.borrow_mut();
        match held.as_ref() {
            Some((made_from, signer)) if *made_from == secret => Some(signer.clone()),
            _ => {
                let signer = Signer::new(&secret);
                *held = Some((secret, signer.clone()));
                Some(signer)
            }
        }
    })
}

/// The visit's query parameters that shape a session: prefills, locale, reference, `utm_*`.
fn session_params(query: &[(String, String)]) -> Vec<(String, String)> {
    let named = [
        "prefilled_email",
        "prefilled_name",
        "client_reference_id",
        "locale",
    ];
    let mut utm = 0;
    query
        .iter()
        .filter(|(k, v)| {
            if named.contains(&k.as_str()) {
                return v.len() <= 254;
            }
            let keep = k.starts_with("utm_") && k.len() <= 40 && v.len() <= 200 && utm < 10;
            utm += usize::from(keep);
            keep
        })
        .cloned()
        .collect()
}

fn cache_key(code: &str) -> String {
    format!("link:{code}")
}

/// Whether `path` is a short link (`/` + a Base62 code of the right length).
pub fn short_code(path: &str) -> Option<ShortCode> {
    ShortCode::parse(path.strip_prefix('/')?).ok()
}

/// Link-preview crawlers of chat apps and social networks, and browser prefetches.
fn is_preview(req: &web_sys::Request, headers: &web_sys::Headers) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .ok()
            .flatten()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    if req.method() == "HEAD" {
        return true;
    }
    let purpose = format!(
        "{} {} {}",
        header("Purpose"),
        header("Sec-Purpose"),
        header("X-Moz")
    );
    if purpose.contains("prefetch") || purpose.contains("prerender") || purpose.contains("preview")
    {
        return true;
    }
    let agent = header("User-Agent");
    const CRAWLERS: &[&str] = &[
        "facebookexternalhit",
        "facebot",
        "twitterbot",
        "slackbot",
        "discordbot",
        "whatsapp",
        "telegrambot",
        "linkedinbot",
        "line/",
        "kakaotalk",
        "skypeuripreview",
        "embedly",
        "iframely",
        "pinterest",
        "redditbot",
        "googlebot",
        "bingbot",
        "applebot",
        "yandex",
        "duckduckbot",
        "bot;",
        "crawler",
        "spider",
        "preview",
    ];
    CRAWLERS.iter().any(|c| agent.contains(c))
}

/// The link behind a code: the KV snapshot if one is cached, else D1 (then cached, off the
/// response path).
async fn snapshot(ctx: &Ctx, code: &str) -> ApiResult<Option<LinkRow>> {
    if let Some(row) = recall(code) {
        return Ok(Some(row));
    }
    let kv = store::cache(ctx)?;
    if let Ok(Some(text)) = kv.get(&cache_key(code)).text().await
        && let Ok(row) = serde_json::from_str::<LinkRow>(&text)
    {
        remember(code, &row);
        return Ok(Some(row));
    }
    let row = fresh(ctx, code).await?;
    if let Some(row) = &row {
        remember(code, row);
        let text = serde_json::to_string(row)?;
        let key = cache_key(code);
        ctx.ctx.wait_until(async move {
            let _ = match kv.put(&key, text) {
                Ok(put) => put.expiration_ttl(SNAPSHOT_TTL).execute().await,
                Err(error) => Err(error),
            };
        });
    }
    Ok(row)
}

/// The link as D1 has it now.
async fn fresh(ctx: &Ctx, code: &str) -> ApiResult<Option<LinkRow>> {
    Ok(store::db(ctx)?
        .prepare("SELECT * FROM payment_links_view WHERE url_id = ?1")
        .bind(&[code.js()])?
        .first(None)
        .await?)
}

/// Forgets a cached snapshot (after a change to the link).
pub async fn forget(ctx: &Ctx, code: &str) {
    MEMORY.with(|memory| memory.borrow_mut().remove(code));
    if let Ok(kv) = store::cache(ctx) {
        let _ = kv.delete(&cache_key(code)).await;
    }
}

/// Why a link cannot be paid now, if it cannot: the page text and its status.
fn unavailable(link: &LinkRow) -> Option<(u16, Text)> {
    let exhausted = link
        .max_completions
        .is_some_and(|max| link.completed_count + link.reserved_count >= max)
        || (link.multiple == 0 && link.completed_count + link.reserved_count >= 1);
    if link.deleted == 1 || link.active == 0 {
        Some((410, Text::LinkInactive))
    } else if exhausted {
        Some((410, Text::LinkExhausted))
    } else if link.priced_lines().is_empty() {
        Some((410, Text::LinkInactive))
    } else {
        None
    }
}

/// `GET|HEAD /{code}`, on the runtime's request (`url` is its URL).
pub async fn visit(
    req: &web_sys::Request,
    url: String,
    ctx: &Ctx,
    code: ShortCode,
) -> worker::Result<Response> {
    let url = Url::parse(&url)?;
    let query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let headers = req.headers();
    let accept = headers.get("Accept-Language").ok().flatten();
    let locale = Locale::negotiate(param("locale").as_deref(), accept.as_deref());
    let frame = Frame::from_query(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));

    let link = match snapshot(ctx, code.as_str()).await {
        Ok(Some(link)) => link,
        Ok(None) => return pages::message_in(&frame, locale, 404, Text::LinkNotFound),
        Err(error) => {
            return error
                .into_reply(crate::error::Dialect::Till)
                .into_response();
        }
    };
    if is_preview(req, &headers) {
        return preview(&link, locale, req.method() == "HEAD");
    }
    if let Some((status, text)) = unavailable(&link) {
        count_view(ctx, &link.id);
        return pages::message_in(&frame, locale, status, text);
    }
    let params = session_params(&query);
    if let Some(signer) = signer(ctx) {
        let session_id = CheckoutSessionId::generate().to_string();
        let ticket = Ticket {
            link_id: link.id.clone(),
            issued_at: store::now_unix(),
            params,
        };
        let sealed = signer.seal(&session_id, &ticket);
        let location = format!(
            "{}/c/{session_id}?t={sealed}{}",
            url.origin().ascii_serialization(),
            frame.query().replacen('?', "&", 1)
        );
        return redirect(&location);
    }
    count_view(ctx, &link.id);
    match open_session(ctx, &link, &params, None, 0).await {
        Ok(Some(session_id)) => redirect(&format!(
            "{}/c/{session_id}{}",
            url.origin().ascii_serialization(),
            frame.query()
        )),
        // D1 refused: the cached snapshot was stale. Answer from the fresh row.
        Ok(None) => {
            forget(ctx, code.as_str()).await;
            let fresh = fresh(ctx, code.as_str()).await.ok().flatten();
            let (status, text) = fresh
                .as_ref()
                .and_then(unavailable)
                .unwrap_or((410, Text::LinkInactive));
            pages::message_in(&frame, locale, status, text)
        }
        Err(error) => error
            .into_reply(crate::error::Dialect::Till)
            .into_response(),
    }
}

fn redirect(location: &str) -> worker::Result<Response> {
    let response = Response::empty()?.with_status(302);
    let headers = response.headers();
    headers.set("Location", location)?;
    headers.set("X-Robots-Tag", "noindex")?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    Ok(response)
}

/// What the checkout page got from a ticket for a session that does not exist yet.
pub enum Redeemed {
    /// The session exists now (made here, or by a concurrent load of the same page).
    Open,
    /// The ticket was good but the link cannot be paid now: the page to show instead.
    Unavailable(u16, Text),
    /// No ticket, or one that is forged, altered or stale: nothing was created.
    Refused(TicketError),
}

/// Creates the session a short-link visit promised (`/c/{session_id}?t={ticket}`): once,
/// only while D1 says the link is payable, with the view and the session counted in the
/// same batch.
pub async fn redeem(ctx: &Ctx, session_id: &str, sealed: &str) -> ApiResult<Redeemed> {
    let Some(signer) = signer(ctx) else {
        return Ok(Redeemed::Refused(TicketError::Forged));
    };
    let ticket = match signer.open(session_id, sealed, store::now_unix()) {
        Ok(ticket) => ticket,
        Err(error) => return Ok(Redeemed::Refused(error)),
    };
    let link: Option<LinkRow> = store::db(ctx)?
        .prepare("SELECT * FROM payment_links_view WHERE id = ?1")
        .bind(&[ticket.link_id.js()])?
        .first(None)
        .await?;
    let Some(link) = link else {
        return Ok(Redeemed::Unavailable(404, Text::LinkNotFound));
    };
    if let Some((status, text)) = unavailable(&link) {
        return Ok(Redeemed::Unavailable(status, text));
    }
    match open_session(ctx, &link, &ticket.params, Some(session_id.to_owned()), 1).await {
        Ok(Some(_)) => Ok(Redeemed::Open),
        // D1 refused: the link stopped being payable since the snapshot was taken.
        Ok(None) => Ok(Redeemed::Unavailable(410, Text::LinkInactive)),
        // Most likely the same page loaded twice at once: the other load made it.
        Err(error) => {
            let exists = store::db(ctx)?
                .prepare("SELECT 1 AS one FROM checkout_sessions WHERE id = ?1")
                .bind(&[session_id.js()])?
                .first::<Value>(None)
                .await?
                .is_some();
            if exists {
                Ok(Redeemed::Open)
            } else {
                Err(error)
            }
        }
    }
}

/// Counts a human visit off the response path.
fn count_view(ctx: &Ctx, link_id: &str) {
    let Ok(db) = store::db(ctx) else { return };
    let statement = db
        .prepare("UPDATE payment_links SET view_count = view_count + 1 WHERE id = ?1")
        .bind(&[link_id.js()]);
    if let Ok(statement) = statement {
        ctx.ctx.wait_until(async move {
            let _ = statement.run().await;
        });
    }
}

/// Creates the session for this visit and counts it, in one batch; `None` when D1 says the
/// link is no longer payable.
async fn open_session(
    ctx: &Ctx,
    link: &LinkRow,
    params: &[(String, String)],
    id: Option<String>,
    views: i64,
) -> ApiResult<Option<String>> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let lines = link.priced_lines();
    let total = subtotal(&lines)?;
    let now = store::now_unix();
    let discount = match &link.promotion_code {
        Some(code) => match find_by_code(ctx, &link.account_id, &link.environment, code).await? {
            Some(promotion) if promotion.unusable_reason(now).is_none() => promotion
                .discount()?
                .amount_off(total)
                .map(Money::amount)
                .unwrap_or(0),
            _ => 0,
        },
        None => 0,
    };
    let recurring = lines.iter().any(|l| l.kind == "recurring");
    let prefill = Prefill::read(param);
    let utm: Map<String, Value> = params
        .iter()
        .filter(|(k, _)| k.starts_with("utm_"))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let session = NewSession {
        id: id.unwrap_or_else(|| CheckoutSessionId::generate().to_string()),
        account_id: link.account_id.clone(),
        environment: if link.environment == "PRODUCTION" {
            "PRODUCTION"
        } else {
            "SANDBOX"
        },
        mode: if recurring { "SUBSCRIPTION" } else { "PAYMENT" },
        currency: Currency::parse(&lines[0].currency)
            .map_err(ApiError::internal)?
            .code(),
        amount_subtotal: total.amount(),
        amount_discount: discount,
        amount_total: total.amount() - discount,
        lines,
        promotion_code: link.promotion_code.clone().filter(|_| discount > 0),
        success_url: link.success_url.clone(),
        cancel_url: None,
        customer_email: prefill.email,
        customer_name: prefill.name,
        client_reference_id: prefill.client_reference_id,
        locale: prefill.locale,
        metadata: None,
        expires_at: now + SESSION_LIFETIME,
        payment_link: Some(FromLink {
            id: link.id.clone(),
            custom_fields: link.custom_fields.clone(),
            billing_address_collection: link.billing_address_collection.clone(),
            customer_creation: link.customer_creation.clone(),
            after_completion: link.after_completion.clone(),
        }),
        utm: (!utm.is_empty()).then_some(Value::Object(utm)),
        allow_promotion_codes: link.allow_promotion_codes == 1,
    };
    let db = store::db(ctx)?;
    let count = db
        .prepare(
            "UPDATE payment_links SET session_count = session_count + 1, view_count = view_count + ?3
             WHERE id = ?1 AND EXISTS (SELECT 1 FROM checkout_sessions WHERE id = ?2)",
        )
        .bind(&[link.id.js(), session.id.js(), views.js()])?;
    let results = db.batch(vec![insert(&db, &session, now)?, count]).await?;
    let inserted = results
        .first()
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    Ok((inserted == 1).then_some(session.id))
}

/// What a crawler sees: the product's name, price and description as Open Graph tags.
fn preview(link: &LinkRow, locale: Locale, head: bool) -> worker::Result<Response> {
    let lines = link.priced_lines();
    let title = link
        .title
        .clone()
        .or(link.name.clone())
        .or(link.product_name.clone())
        .unwrap_or_default();
    let price = lines
        .first()
        .and_then(|l| Currency::parse(&l.currency).ok())
        .and_then(|c| {
            subtotal(&lines)
                .ok()
                .map(|t| Money::from_minor(t.amount(), c))
        })
        .and_then(Result::ok)
        .map(format_money)
        .unwrap_or_default();
    let description = link.description.clone().unwrap_or_else(|| price.clone());
    let body = format!(
        "<div class=\"card center\"><h1>{}</h1><p class=\"tot\">{}</p></div>",
        escape(&title),
        escape(&price)
    );
    let page = pages::layout(locale, &title, &body).replacen(
        "<title>",
        &format!(
            "<meta property=\"og:title\" content=\"{}\"><meta property=\"og:description\" content=\"{}\">\
<meta property=\"og:type\" content=\"product\"><meta name=\"twitter:card\" content=\"summary\"><title>",
            escape(&title),
            escape(&description)
        ),
        1,
    );
    let response = pages::respond(200, page, &Frame::default(), None)?;
    if head {
        let headers = response.headers().clone();
        return Ok(Response::empty()?.with_headers(headers));
    }
    Ok(response)
}
