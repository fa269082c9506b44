//! The short-link hot path, `GET /{url_id}`: junk is refused before any read; the link
//! comes from this isolate's memory (10 s), else KV (60 s), else D1 (then cached, off the
//! response path). A human visit writes nothing: it gets a 302 to its checkout page with a
//! signed ticket (`till_shared::ticket`), and the page creates the session when the
//! shopper's browser loads it — conditionally on the link being payable in D1, counting
//! the view and the session in the same batch. Previews, prefetches and HEAD get a page
//! with the product's Open Graph tags and create nothing.

use std::cell::RefCell;
use std::collections::HashMap;

use till_shared::embed::{Frame, FrameRequest};
use till_shared::ids::{CheckoutSessionId, ShortCode};
use till_shared::locale::{Locale, Text, format_money};
use till_shared::ticket::{Signer, Ticket};
use worker::{Response, Url};

use crate::accounts::settings;
use crate::ctx::Ctx;
use crate::db::{self, Sql};
use crate::error::ApiResult;
use crate::links::payment_links::{LinkRow, subtotal};
use crate::pages;

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
        memory.insert(code.to_owned(), (link.clone(), db::now_unix() + MEMORY_TTL));
    });
}

fn recall(code: &str) -> Option<LinkRow> {
    let now = db::now_unix();
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
pub fn signer(ctx: &Ctx) -> Option<Signer> {
    let secret = ctx.operator_token();
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

/// The link behind a code: the KV snapshot if one is cached, else D1 (then cached, off the
/// response path).
async fn snapshot(ctx: &Ctx, code: &str) -> ApiResult<Option<LinkRow>> {
    if let Some(row) = recall(code) {
        return Ok(Some(row));
    }
    let kv = db::cache(ctx)?;
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
        ctx.spawn(async move {
            let _ = match kv.put(&key, text) {
                Ok(put) => put.expiration_ttl(SNAPSHOT_TTL).execute().await,
                Err(error) => Err(error),
            };
        });
    }
    Ok(row)
}

/// The link as D1 has it now.
pub async fn fresh(ctx: &Ctx, code: &str) -> ApiResult<Option<LinkRow>> {
    Ok(
        Sql::new("SELECT * FROM payment_links_view WHERE url_id = :code")
            .bind("code", code)
            .prepare(&db::db(ctx)?)?
            .first(None)
            .await?,
    )
}

/// Forgets a cached snapshot (after a change to the link).
pub async fn forget(ctx: &Ctx, code: &str) {
    MEMORY.with(|memory| memory.borrow_mut().remove(code));
    if let Ok(kv) = db::cache(ctx) {
        let _ = kv.delete(&cache_key(code)).await;
    }
}

/// Why a link cannot be paid now, if it cannot: the page's status and text
/// (`till_shared::links` decides).
pub fn unavailable(link: &LinkRow) -> Option<(u16, Text)> {
    link.state()
        .payability()
        .unavailable()
        .map(|reason| (reason.status(), reason.text()))
}

/// What a visit comes to.
pub enum Visit {
    /// The answer is ready: a redirect with a ticket, a preview, a page saying why not.
    Answered(Response),
    /// A payable link on a Worker without an operator token to sign tickets with: the
    /// visit itself must open the session (the checkout area does).
    Unsigned(Box<Unsigned>),
}

/// A visit that opens its session itself.
pub struct Unsigned {
    pub link: LinkRow,
    pub params: Vec<(String, String)>,
    /// Scheme, host and port of the visit, for the redirect.
    pub origin: String,
    /// How the page was asked to be shown, carried on to the checkout page.
    pub asked: FrameRequest,
    pub locale: Locale,
}

/// What the router reads of a short-link request (its method, URL and two headers'
/// worth), so the hot path never converts the runtime's request.
pub struct Visitor {
    pub url: String,
    pub head: bool,
    /// A crawler, a prefetch or `HEAD`: `till_shared::visit::is_preview`.
    pub preview: bool,
    pub accept_language: Option<String>,
}

/// `GET|HEAD /{code}`.
pub async fn visit(visitor: Visitor, ctx: &Ctx, code: ShortCode) -> worker::Result<Visit> {
    let url = Url::parse(&visitor.url)?;
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
    let locale = Locale::negotiate(
        param("locale").as_deref(),
        visitor.accept_language.as_deref(),
    );
    // Checked by the checkout page against what its merchant allows; carried on as asked.
    let asked = FrameRequest::from_query(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));

    let link = match snapshot(ctx, code.as_str()).await {
        Ok(Some(link)) => link,
        Ok(None) => {
            return Ok(Visit::Answered(pages::message_in(
                &asked.unowned(),
                locale,
                404,
                Text::LinkNotFound,
            )?));
        }
        Err(error) => {
            return Ok(Visit::Answered(
                error
                    .into_reply(crate::api::reply::Dialect::Till)
                    .into_response()?,
            ));
        }
    };
    if visitor.preview {
        return Ok(Visit::Answered(preview(&link, locale, visitor.head)?));
    }
    if let Some((status, text)) = unavailable(&link) {
        count_view(ctx, &link.id, param("utm_source").as_deref());
        let frame = frame_of(ctx, &link, &asked).await;
        return Ok(Visit::Answered(pages::message_in(
            &frame, locale, status, text,
        )?));
    }
    let params = session_params(&query);
    if let Some(signer) = signer(ctx) {
        let session_id = CheckoutSessionId::generate().to_string();
        let ticket = Ticket {
            link_id: link.id.clone(),
            issued_at: db::now_unix(),
            params,
        };
        let sealed = signer.seal(&session_id, &ticket);
        let location = format!(
            "{}/c/{session_id}?t={sealed}{}",
            url.origin().ascii_serialization(),
            asked.query().replacen('?', "&", 1)
        );
        return Ok(Visit::Answered(redirect(&location)?));
    }
    count_view(ctx, &link.id, param("utm_source").as_deref());
    Ok(Visit::Unsigned(Box::new(Unsigned {
        link,
        params,
        origin: url.origin().ascii_serialization(),
        asked,
        locale,
    })))
}

/// How a page about `link` may be framed: as its merchant allows (framed by no one when
/// that cannot be read).
async fn frame_of(ctx: &Ctx, link: &LinkRow, asked: &FrameRequest) -> Frame {
    let seller = db::Seller {
        account_id: &link.account_id,
        environment: link.environment,
    };
    match settings::allowed(ctx, seller).await {
        Ok(allowed) => allowed.frame(asked),
        Err(_) => asked.unowned(),
    }
}

pub fn redirect(location: &str) -> worker::Result<Response> {
    let response = Response::empty()?.with_status(302);
    let headers = response.headers();
    headers.set("Location", location)?;
    headers.set("X-Robots-Tag", "noindex")?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    Ok(response)
}

/// Counts a human visit off the response path.
pub fn count_view(ctx: &Ctx, link_id: &str, utm_source: Option<&str>) {
    let Ok(db) = db::db(ctx) else { return };
    let link = Sql::new("UPDATE payment_links SET view_count = view_count + 1 WHERE id = :id")
        .bind("id", link_id)
        .prepare(&db);
    let day = super::views::count(&db, link_id, utm_source, 1, None, db::now_unix());
    if let (Ok(link), Ok(day)) = (link, day) {
        ctx.spawn(async move {
            let _ = db.batch(vec![link, day]).await;
        });
    }
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
    let price = subtotal(&lines).map(format_money).unwrap_or_default();
    let view = pages::Preview {
        description: link.description.clone().unwrap_or_else(|| price.clone()),
        title,
        price,
    };
    let response = pages::respond(200, pages::preview(locale, &view), &Frame::default(), None)?;
    if head {
        let headers = response.headers().clone();
        return Ok(Response::empty()?.with_headers(headers));
    }
    Ok(response)
}
