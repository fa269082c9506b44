//! Server-rendered HTML for shoppers: one layout with inline CSS (no third-party
//! resources), escaping, and the security headers every page carries.

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
a{color:#4f46e5}.center{text-align:center}";

/// A whole page: `<title>`, heading block and body, in the shopper's language.
pub fn layout(locale: Locale, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
<title>{}</title><style>{CSS}</style></head><body><main>{body}</main></body></html>",
        locale.tag(),
        escape(title)
    )
}

/// A page that only says something (a link that is inactive, a checkout that expired).
pub fn message(locale: Locale, status: u16, text: Text) -> worker::Result<Response> {
    let words = locale.text(text);
    let body = format!("<div class=\"card center\"><p>{}</p></div>", escape(words));
    html(status, layout(locale, words, &body), false)
}

/// An HTML response with the headers every shopper page carries: no caching, no referrer,
/// a strict CSP (inline styles only, no scripts), and framing only when `embeddable`.
pub fn html(status: u16, page: String, embeddable: bool) -> worker::Result<Response> {
    html_with_script(status, page, embeddable, None)
}

/// The same, allowing the inline scripts that carry `nonce` (and fetches to this origin).
pub fn html_with_script(
    status: u16,
    page: String,
    embeddable: bool,
    nonce: Option<&str>,
) -> worker::Result<Response> {
    let response = Response::from_html(page)?.with_status(status);
    let headers = response.headers();
    let frames = if embeddable { "*" } else { "'none'" };
    let scripts = nonce.map_or(String::new(), |n| {
        format!("script-src 'nonce-{n}'; connect-src 'self'; ")
    });
    headers.set(
        "Content-Security-Policy",
        &format!(
            "default-src 'none'; {scripts}style-src 'unsafe-inline'; img-src 'self' https: data:; \
             form-action 'self' https: http://localhost:* http://127.0.0.1:*; base-uri 'none'; frame-ancestors {frames}"
        ),
    )?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("Referrer-Policy", "no-referrer")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set("X-Robots-Tag", "noindex")?;
    Ok(response)
}
