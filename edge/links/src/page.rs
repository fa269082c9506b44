//! Server-rendered HTML for shoppers: one layout with inline CSS (no third-party
//! resources), escaping, and the security headers every page carries. The main Worker's
//! checkout and receipt pages are laid out here too, so both Workers' pages look and
//! protect alike.

use serde_json::{Value, json};
use till_shared::embed::{Frame, Theme};
use till_shared::locale::{Locale, Text};
use worker::Response;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;\
color:#0f172a;background:#f1f5f9}main{max-width:440px;margin:0 auto;padding:24px 16px}\
h1{font-size:20px;margin:0 0 4px}.test{background:#fef3c7;color:#92400e;border-radius:6px;padding:6px 10px;font-size:13px}\
.card{background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:20px;margin:16px 0}\
ul{list-style:none;margin:0;padding:0}li,.row{display:flex;justify-content:space-between;gap:12px;padding:4px 0}\
.tot{border-top:1px solid #e2e8f0;margin-top:8px;padding-top:8px;font-weight:600;font-size:18px}\
label{display:block;margin:12px 0 4px;font-size:14px;font-weight:500}\
input,select{width:100%;font:inherit;padding:10px 12px;border:1px solid #cbd5e1;border-radius:8px;background:#fff}\
input:focus,select:focus{outline:2px solid #6366f1;border-color:#6366f1}.split{display:flex;gap:12px}.split>div{flex:1}\
button{width:100%;margin-top:20px;font-family:inherit;font-weight:600;font-size:17px;line-height:1;color:#fff;background:#4f46e5;border:0;border-radius:8px;\
padding:14px;cursor:pointer}button.sec{background:#e2e8f0;color:#0f172a;margin-top:8px;font-size:15px}\
.err{background:#fee2e2;color:#991b1b;border-radius:8px;padding:10px 12px}\
.fe{color:#b91c1c;font-size:13px;margin:4px 0 0}[aria-invalid=true]{border-color:#dc2626}button[disabled]{opacity:.7}.note{color:#475569;font-size:14px}\
a{color:#4f46e5}.center{text-align:center}.logo{display:block;max-height:40px;max-width:200px;margin:0 0 12px}@media (max-width:400px){main{padding:16px 8px}.card{padding:16px 14px}}";

/// Colours for the dark scheme, laid over [`CSS`].
const DARK: &str = ":root{color-scheme:dark}body{color:#e2e8f0;background:#0b1120}.card{background:#111827;border-color:#334155}\
input,select{background:#0b1120;color:#e2e8f0;border-color:#475569}.tot{border-color:#334155}.note{color:#94a3b8}\
button.sec{background:#334155;color:#e2e8f0}a{color:#a5b4fc}.test{background:#422006;color:#fde68a}\
.err{background:#450a0a;color:#fecaca}.fe{color:#fca5a5}";

/// Talks to the merchant page that framed this one (see [`Frame`]).
const EMBED_SCRIPT: &str = include_str!("embed.js");

/// What a link preview shows a crawler: the product's name and price, and a description.
pub struct Preview {
    pub title: String,
    pub price: String,
    pub description: String,
}

/// The page a crawler gets for a link: the preview card, and its Open Graph tags in the
/// head.
pub fn preview(locale: Locale, view: &Preview) -> String {
    let head = format!(
        "<meta property=\"og:title\" content=\"{}\"><meta property=\"og:description\" content=\"{}\">\
<meta property=\"og:type\" content=\"product\"><meta name=\"twitter:card\" content=\"summary\">",
        escape(&view.title),
        escape(&view.description)
    );
    let body = format!(
        "<div class=\"card center\"><h1>{}</h1><p class=\"tot\">{}</p></div>",
        escape(&view.title),
        escape(&view.price)
    );
    layout_in(
        &Frame::default(),
        locale,
        &view.title,
        &Slots {
            head: &head,
            body: &body,
        },
        None,
        None,
    )
}

/// The parts of a page its callers fill: extra tags for the head, and the body.
struct Slots<'a> {
    head: &'a str,
    body: &'a str,
}

/// A whole page shown in `frame`: its theme, the origin it reports to, what it says to
/// that origin once greeted (`say`), and an inline script allowed by `nonce`.
fn layout_in(
    frame: &Frame,
    locale: Locale,
    title: &str,
    slots: &Slots<'_>,
    say: Option<&Value>,
    script: Option<(&str, &str)>,
) -> String {
    let theme = match frame.theme {
        Theme::Light => String::new(),
        Theme::Dark => DARK.to_owned(),
        Theme::Auto => format!("@media (prefers-color-scheme:dark){{{DARK}}}"),
    };
    let parent = frame
        .parent
        .as_ref()
        .map(|p| format!(" data-parent=\"{}\"", escape(p)))
        .unwrap_or_default();
    let say = say
        .map(|s| format!(" data-say=\"{}\"", escape(&s.to_string())))
        .unwrap_or_default();
    let script = script
        .map(|(nonce, code)| format!("<script nonce=\"{nonce}\">{code}</script>"))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"{}\" data-theme=\"{}\"{parent}><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
{}<title>{}</title><style>{CSS}{theme}</style></head><body><main{say}>{}</main>{script}</body></html>",
        locale.tag(),
        frame.theme.as_str(),
        slots.head,
        escape(title),
        slots.body
    )
}

/// A shopper page as a response: laid out in `frame`, with `script` (and, inside the
/// overlay, the script that talks to the merchant page) allowed by a fresh nonce.
pub fn page(
    frame: &Frame,
    status: u16,
    locale: Locale,
    title: &str,
    body: &str,
    say: Option<&Value>,
    script: Option<&str>,
) -> worker::Result<Response> {
    page_with(frame, status, locale, title, body, say, script, None)
}

/// A connected processor's own card fields on a page: its script (loaded from its origin)
/// and the origins that script talks to and frames. The page's CSP is widened for these
/// origins only.
#[derive(Clone)]
pub struct ProcessorFields {
    /// Stripe.js, and the one origin scripts may come from besides the page's nonce.
    pub script_url: String,
    pub script_origin: String,
    /// The origins its script calls (its own, Stripe's API).
    pub connects: Vec<String>,
    /// The origins it frames (its fields, the bank's 3-D Secure pages).
    pub frames: Vec<String>,
}

/// [`page`], with a processor's fields allowed.
#[allow(clippy::too_many_arguments)]
pub fn page_with(
    frame: &Frame,
    status: u16,
    locale: Locale,
    title: &str,
    body: &str,
    say: Option<&Value>,
    script: Option<&str>,
    fields: Option<&ProcessorFields>,
) -> worker::Result<Response> {
    let code = match (script, frame.parent.is_some()) {
        (Some(script), true) => Some(format!("{EMBED_SCRIPT}{script}")),
        (Some(script), false) => Some(script.to_owned()),
        (None, true) => Some(EMBED_SCRIPT.to_owned()),
        (None, false) => None,
    };
    let nonce = code.as_ref().map(|_| till_shared::ids::random_base62(22));
    let head = match (fields, &nonce) {
        (Some(fields), Some(nonce)) => format!(
            "<script src=\"{}\" nonce=\"{nonce}\"></script>",
            escape(&fields.script_url)
        ),
        _ => String::new(),
    };
    let page = layout_in(
        frame,
        locale,
        title,
        &Slots { head: &head, body },
        say,
        nonce.as_deref().zip(code.as_deref()),
    );
    respond_allowing(status, page, frame, nonce.as_deref(), fields)
}

/// A page outside any frame with extra tags in its head (a print stylesheet) and no script.
pub fn document(
    status: u16,
    locale: Locale,
    title: &str,
    head: &str,
    body: &str,
) -> worker::Result<Response> {
    let frame = Frame::default();
    let html = layout_in(&frame, locale, title, &Slots { head, body }, None, None);
    respond(status, html, &frame, None)
}

/// The `code` a page inside the overlay reports with its `error` message.
pub fn error_code(text: Text) -> &'static str {
    match text {
        Text::LinkNotFound => "link_not_found",
        Text::LinkInactive => "link_inactive",
        Text::LinkExhausted => "sold_out",
        Text::SessionExpired => "session_expired",
        Text::TooManyAttempts => "too_many_attempts",
        Text::TooManyCheckouts => "rate_limited",
        _ => "processing_error",
    }
}

/// A merchant's branding at the top of its pages: its logo, and its accent colour on
/// buttons and links. `accent` is `#rrggbb` (checked on the way in and by the database), so
/// it is safe in a style; the logo is an https URL, escaped.
pub fn brand(logo_url: Option<&str>, accent: Option<&str>) -> String {
    let mut html = String::new();
    if let Some(color) = accent.filter(|c| {
        c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
    }) {
        html.push_str(&format!(
            "<style>button:not(.sec){{background:{color}}}a{{color:{color}}}</style>"
        ));
    }
    if let Some(logo) = logo_url.filter(|u| u.starts_with("https://")) {
        html.push_str(&format!(
            "<img class=\"logo\" src=\"{}\" alt=\"\" height=\"40\" referrerpolicy=\"no-referrer\">",
            escape(logo)
        ));
    }
    html
}

/// A page that only says something (a link that is inactive, a checkout that expired).
pub fn message(locale: Locale, status: u16, text: Text) -> worker::Result<Response> {
    message_in(&Frame::default(), locale, status, text)
}

/// The same in `frame`; inside the overlay it also reports an `error` to the merchant page.
pub fn message_in(
    frame: &Frame,
    locale: Locale,
    status: u16,
    text: Text,
) -> worker::Result<Response> {
    let words = locale.text(text);
    let body = format!("<div class=\"card center\"><p>{}</p></div>", escape(words));
    let say = json!({"type": "error", "code": error_code(text), "message": words});
    page(frame, status, locale, words, &body, Some(&say), None)
}

/// The page of a charged payment whose order is still being written: what happened, a
/// 503 with `Retry-After: {secs}`, and a reload of `again` (a path on this origin) after
/// that long, without script.
pub fn confirming(
    frame: &Frame,
    locale: Locale,
    again: &str,
    secs: u32,
) -> worker::Result<Response> {
    let words = locale.text(Text::ConfirmingPayment);
    let head = format!(
        "<meta http-equiv=\"refresh\" content=\"{secs};url={}\">",
        escape(again)
    );
    let body = format!(
        "<div class=\"card center\" role=\"status\"><p>{}</p></div>",
        escape(words)
    );
    let script = frame.parent.is_some().then_some(EMBED_SCRIPT);
    let nonce = script.map(|_| till_shared::ids::random_base62(22));
    let html = layout_in(
        frame,
        locale,
        words,
        &Slots {
            head: &head,
            body: &body,
        },
        None,
        nonce.as_deref().zip(script),
    );
    let response = respond(503, html, frame, nonce.as_deref())?;
    response.headers().set("Retry-After", &secs.to_string())?;
    Ok(response)
}

/// An HTML response with the headers every shopper page carries: no caching, no referrer,
/// a strict CSP (inline styles; scripts only with `nonce`, fetches only to this origin),
/// and framing only as `frame` allows.
pub fn respond(
    status: u16,
    page: String,
    frame: &Frame,
    nonce: Option<&str>,
) -> worker::Result<Response> {
    respond_allowing(status, page, frame, nonce, None)
}

/// [`respond`], with a processor's origins allowed to serve scripts and frames and to be
/// called.
fn respond_allowing(
    status: u16,
    page: String,
    frame: &Frame,
    nonce: Option<&str>,
    fields: Option<&ProcessorFields>,
) -> worker::Result<Response> {
    let response = Response::from_html(page)?.with_status(status);
    let headers = response.headers();
    let scripts = nonce.map_or(String::new(), |n| match fields {
        Some(f) => format!(
            "script-src 'nonce-{n}' {}; connect-src 'self' {}; frame-src {}; ",
            f.script_origin,
            f.connects.join(" "),
            f.frames.join(" ")
        ),
        None => format!("script-src 'nonce-{n}'; connect-src 'self'; "),
    });
    headers.set(
        "Content-Security-Policy",
        &format!(
            "default-src 'none'; {scripts}style-src 'unsafe-inline'; img-src 'self' https: data:; \
             form-action 'self' https: http://localhost:* http://127.0.0.1:*; base-uri 'none'; frame-ancestors {}",
            frame.ancestors()
        ),
    )?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set("X-Robots-Tag", "noindex")?;
    Ok(response)
}
