//! The short-link hot path, `GET /{url_id}`: junk is refused before any read; the link
//! comes from this isolate's memory (10 s), else KV (60 s), else D1 (then cached, off the
//! response path). A human visit writes nothing: it gets a 302 to its checkout page with a
//! signed ticket (`till_shared::ticket`), and the page creates the session when the
//! shopper's browser loads it — conditionally on the link being payable in D1, counting
//! the view and the session in the same batch. Previews, prefetches and HEAD get a page
//! with the product's Open Graph tags and create nothing.

use std::cell::RefCell;

use till_shared::embed::{Frame, FrameRequest, Theme};
use till_shared::hosts::AllowedHosts;
use till_shared::ids::{CheckoutSessionId, ShortCode};
use till_shared::keys::Environment;
use till_shared::links::LinkRow;
use till_shared::locale::{Locale, Text, format_money};
use till_shared::pricing::subtotal;
use till_shared::routes::{origin_of, query_of};
use till_shared::ticket::{Signer, Ticket};
use worker::{Context, D1Database, Env, Response, Result};

use crate::statement::{prepare, text};
use crate::{page, snapshot, views};

thread_local! {
    /// The signer for the operator token it was made from, kept for the isolate's life.
    static SIGNER: RefCell<Option<(String, Signer)>> = const { RefCell::new(None) };
}

/// What checkout tickets are signed with; `None` when the Worker has no operator token
/// (then a visit creates its session itself, as a plain write).
pub fn signer(env: &Env) -> Option<Signer> {
    let secret = operator_token(env);
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

/// Whether `path` is a short link (`/` + a Base62 code of the right length).
pub fn short_code(path: &str) -> Option<ShortCode> {
    ShortCode::parse(path.strip_prefix('/')?).ok()
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
    /// Counted with the view by whoever opens the session.
    pub utm_source: Option<String>,
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

/// How a Worker reads and grants the frame a visit asks for (`embedded`, `origin`,
/// `theme`: `till_shared::embed`).
// Workers run one request at a time per thread: no `Send` bound is wanted.
#[allow(async_fn_in_trait)]
pub trait Framing {
    /// The frame the visit's query asks for.
    fn asked(query: &[(String, String)]) -> FrameRequest;
    /// How a page about `link` may be shown, as asked and as its merchant allows.
    async fn frame(env: &Env, link: &LinkRow, asked: &FrameRequest) -> Frame;
    /// How a page owned by no merchant (the link was not found) may be shown.
    fn unowned(asked: &FrameRequest) -> Frame;
}

/// The main Worker's framing: any frame, as the link's merchant allows it.
pub struct Framed;

impl Framing for Framed {
    fn asked(query: &[(String, String)]) -> FrameRequest {
        FrameRequest::from_query(query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Framed by no one when the merchant's hosts cannot be read.
    async fn frame(env: &Env, link: &LinkRow, asked: &FrameRequest) -> Frame {
        let hosts = match env.d1(crate::DB) {
            Ok(db) => allowed_hosts(&db, &link.account_id, link.environment).await,
            Err(error) => Err(error),
        };
        match hosts {
            Ok(hosts) => asked.permit(&hosts, link.environment == Environment::Sandbox),
            Err(_) => asked.unowned(),
        }
    }

    fn unowned(asked: &FrameRequest) -> Frame {
        asked.unowned()
    }
}

/// The link host's framing: only visits that ask for no frame ([`asks_for_frame`] is
/// false), each page plain in the theme asked for. Checking a framing origin against a
/// merchant's hosts takes a URL parser, whose tables of international domain names would
/// make this Worker half as large again; the overlay's visits are the main Worker's.
pub struct Unframed;

impl Framing for Unframed {
    fn asked(query: &[(String, String)]) -> FrameRequest {
        let theme = query
            .iter()
            .find(|(k, _)| k == "theme")
            .and_then(|(_, v)| Theme::parse(v))
            .unwrap_or_default();
        FrameRequest {
            theme,
            ..FrameRequest::default()
        }
    }

    async fn frame(_: &Env, _: &LinkRow, asked: &FrameRequest) -> Frame {
        Frame::plain(asked.theme)
    }

    fn unowned(asked: &FrameRequest) -> Frame {
        Frame::plain(asked.theme)
    }
}

/// Whether a visit's query asks to be framed (`embedded`, `origin`): what [`Unframed`]
/// does not answer.
pub fn asks_for_frame(query: &[(String, String)]) -> bool {
    query.iter().any(|(k, _)| k == "embedded" || k == "origin")
}

/// A visit's query parameters, decoded.
pub fn query(visitor: &Visitor) -> Vec<(String, String)> {
    form_urlencoded::parse(query_of(&visitor.url).as_bytes())
        .into_owned()
        .collect()
}

/// `GET|HEAD /{code}`, with the query read already ([`query`]).
pub async fn visit<F: Framing>(
    visitor: Visitor,
    query: Vec<(String, String)>,
    env: &Env,
    ctx: &Context,
    code: ShortCode,
) -> Result<Visit> {
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
    let asked = F::asked(&query);
    let origin = origin_of(&visitor.url);

    let Some(snapshot) = snapshot::read(env, ctx, code.as_str()).await? else {
        return Ok(Visit::Answered(page::message_in(
            &F::unowned(&asked),
            locale,
            404,
            Text::LinkNotFound,
        )?));
    };
    let link = &snapshot.link;
    if visitor.preview {
        return Ok(Visit::Answered(preview(link, locale, visitor.head)?));
    }
    if let Some((status, text)) = snapshot.unavailable {
        views::count_visit(env, ctx, &link.id, param("utm_source").as_deref());
        let frame = F::frame(env, link, &asked).await;
        return Ok(Visit::Answered(page::message_in(
            &frame, locale, status, text,
        )?));
    }
    let params = session_params(&query);
    if let Some(signer) = signer(env) {
        let session_id = CheckoutSessionId::generate().to_string();
        let ticket = Ticket {
            link_id: link.id.clone(),
            issued_at: crate::now_unix(),
            params,
        };
        let sealed = signer.seal(&session_id, &ticket);
        let location = format!(
            "{origin}/c/{session_id}?t={sealed}{}",
            asked.query().replacen('?', "&", 1)
        );
        return Ok(Visit::Answered(redirect(&location)?));
    }
    Ok(Visit::Unsigned(Box::new(Unsigned {
        utm_source: param("utm_source"),
        link: LinkRow::clone(link),
        params,
        origin: origin.to_owned(),
        asked,
        locale,
    })))
}

/// The hosts a seller allows in an environment (its redirects, the pages that may frame
/// its pages); none when it never set any.
pub async fn allowed_hosts(
    db: &D1Database,
    account_id: &str,
    environment: Environment,
) -> Result<AllowedHosts> {
    #[derive(serde::Deserialize)]
    struct Row {
        allowed_redirect_hosts: String,
    }
    let row: Option<Row> = prepare(
        db,
        "SELECT allowed_redirect_hosts FROM environment_settings
         WHERE account_id = :account_id AND environment = :environment",
        &[
            ("account_id", text(Some(account_id))),
            ("environment", text(Some(environment.as_str()))),
        ],
    )?
    .first(None)
    .await?;
    Ok(AllowedHosts::from_stored(
        row.as_ref().map(|r| r.allowed_redirect_hosts.as_str()),
    ))
}

/// The Worker's `OPERATOR_TOKEN` (a secret, or a variable locally); empty when unset.
pub fn operator_token(env: &Env) -> String {
    env.secret("OPERATOR_TOKEN")
        .map(|s| s.to_string())
        .or_else(|_| env.var("OPERATOR_TOKEN").map(|v| v.to_string()))
        .unwrap_or_default()
}

/// A 302 to `location` that no one caches or indexes, and that sends no referrer on.
pub fn redirect(location: &str) -> Result<Response> {
    let response = Response::empty()?.with_status(302);
    let headers = response.headers();
    headers.set("Location", location)?;
    headers.set("X-Robots-Tag", "noindex")?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    Ok(response)
}

/// What a crawler sees: the product's name, price and description as Open Graph tags.
fn preview(link: &LinkRow, locale: Locale, head: bool) -> Result<Response> {
    let lines = link.priced_lines();
    let title = link
        .title
        .clone()
        .or(link.name.clone())
        .or(link.product_name.clone())
        .unwrap_or_default();
    let price = subtotal(&lines).map(format_money).unwrap_or_default();
    let view = page::Preview {
        description: link.description.clone().unwrap_or_else(|| price.clone()),
        title,
        price,
    };
    let response = page::respond(200, page::preview(locale, &view), &Frame::default(), None)?;
    if head {
        let headers = response.headers().clone();
        return Ok(Response::empty()?.with_headers(headers));
    }
    Ok(response)
}
