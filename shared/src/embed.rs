//! How a shopper page is shown: its colour scheme, and whether it sits inside Till's
//! checkout overlay on a merchant's page.
//!
//! The overlay opens a payment link's short URL,
//! `/{url_id}?embedded=1&origin=https://shop.example&theme=dark`, whose redirect carries
//! that query on to the checkout page, `/c/{session_id}`. When the page's account allows
//! that origin ([`crate::hosts`]), the page lets only it frame the page (`frame-ancestors`,
//! enforced by the browser, so the origin the page talks to is the one that really framed
//! it) and sends its messages ([`MessageType`]) to it alone. An origin the account does
//! not allow frames nothing and hears nothing.

use url::Url;

use crate::hosts::AllowedHosts;

/// The page's colour scheme. `Auto` follows the shopper's system setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Theme {
    #[default]
    Light,
    Dark,
    Auto,
}

impl Theme {
    // Inlined into the widget's one caller: its wasm comes out smaller (measured).
    #[inline]
    pub fn parse(value: &str) -> Option<Theme> {
        match value {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            "auto" => Some(Theme::Auto),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::Auto => "auto",
        }
    }
}

/// The `type` of a message the page in the overlay posts to the merchant page that framed
/// it (`{till: 1, type, …}`); the widget reads these, the page writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// The page is loaded and was greeted; with its `height`.
    Ready,
    /// The page's `height` changed.
    Resize,
    /// A payment is being confirmed (`busy: true`, the overlay must not close) or is over.
    Busy,
    /// Paid: `session_id`, and the `url` to go to next.
    Success,
    /// A payment failed: `code` and `message`.
    Error,
    /// The shopper asked to close the overlay.
    Close,
}

impl MessageType {
    pub const ALL: [MessageType; 6] = [
        MessageType::Ready,
        MessageType::Resize,
        MessageType::Busy,
        MessageType::Success,
        MessageType::Error,
        MessageType::Close,
    ];

    // Inlined into the widget's match on the message: smaller wasm than a call (measured).
    #[inline]
    pub fn parse(value: &str) -> Option<MessageType> {
        match value {
            "ready" => Some(MessageType::Ready),
            "resize" => Some(MessageType::Resize),
            "busy" => Some(MessageType::Busy),
            "success" => Some(MessageType::Success),
            "error" => Some(MessageType::Error),
            "close" => Some(MessageType::Close),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Ready => "ready",
            MessageType::Resize => "resize",
            MessageType::Busy => "busy",
            MessageType::Success => "success",
            MessageType::Error => "error",
            MessageType::Close => "close",
        }
    }
}

/// How a page was asked to be shown, read from its query string: `embedded=1`, the
/// `origin=` of the page that claims to frame it, `theme=`. Nothing here is trusted yet:
/// the account the page belongs to decides ([`FrameRequest::permit`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameRequest {
    pub embedded: bool,
    /// A well-formed origin, when embedded; not yet checked against any account.
    pub origin: Option<String>,
    pub theme: Theme,
}

impl FrameRequest {
    /// Reads `embedded`, `origin` and `theme`; anything malformed is ignored (a page is
    /// always shown, at worst unframed and light).
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> FrameRequest {
        let mut request = FrameRequest::default();
        let mut origin = None;
        for (key, value) in pairs {
            match key {
                "embedded" => request.embedded = value == "1",
                "origin" => origin = parse_origin(value),
                "theme" => request.theme = Theme::parse(value).unwrap_or_default(),
                _ => {}
            }
        }
        request.origin = origin.filter(|_| request.embedded);
        request
    }

    /// The query string that carries this request on to the next page (a short link's
    /// redirect to its checkout), which checks it again.
    pub fn query(&self) -> String {
        frame_query(self.embedded, self.origin.as_deref(), self.theme)
    }

    /// The frame as the page's account allows it: the named origin is the page's parent
    /// (it alone frames the page and receives its messages) only when it is on the
    /// account's [`AllowedHosts`]; otherwise, and without `origin=`, an embedded page may
    /// be framed by the allowed hosts' pages and talks to none. Nothing allowed: framed by
    /// none.
    pub fn permit(&self, hosts: &AllowedHosts, sandbox: bool) -> Frame {
        let parent = self
            .origin
            .clone()
            .filter(|origin| hosts.allows_origin(origin, sandbox));
        let ancestors = match (&parent, self.embedded) {
            (Some(parent), _) => parent.clone(),
            (None, true) if !hosts.is_empty() => hosts.frame_sources(sandbox).join(" "),
            _ => NO_ANCESTORS.to_owned(),
        };
        Frame {
            embedded: self.embedded,
            parent,
            theme: self.theme,
            ancestors,
        }
    }

    /// The frame of a page no account owns (a link or session that does not exist): its
    /// theme, and framed by no one.
    pub fn unowned(&self) -> Frame {
        self.permit(&AllowedHosts::default(), false)
    }
}

const NO_ANCESTORS: &str = "'none'";

/// Where and how a page is shown, as its account allows ([`FrameRequest::permit`]), and
/// carried to every page that follows it (form actions, redirects), so a flow that starts
/// in the overlay stays in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// `embedded=1`: the page may be framed by what the account allows.
    pub embedded: bool,
    /// The merchant page's origin, allowed by the account: the only origin allowed to
    /// frame the page and the only one its messages go to.
    pub parent: Option<String>,
    pub theme: Theme,
    ancestors: String,
}

impl Default for Frame {
    /// A plain page: light, and framed by no one.
    fn default() -> Self {
        Frame::plain(Theme::default())
    }
}

impl Frame {
    /// A page outside any frame, framed by no one, in `theme` (what any request comes to
    /// when it asks for no frame: [`FrameRequest::permit`] without `embedded`). Reads no
    /// URL, so a Worker that shows only such pages links no URL parser.
    pub fn plain(theme: Theme) -> Frame {
        Frame {
            embedded: false,
            parent: None,
            theme,
            ancestors: NO_ANCESTORS.to_owned(),
        }
    }

    /// The query string that keeps this frame on the next page: `""` for a plain light
    /// page, else `?embedded=1&origin=…&theme=…` (only what differs from the default).
    pub fn query(&self) -> String {
        frame_query(self.embedded, self.parent.as_deref(), self.theme)
    }

    /// The CSP `frame-ancestors` source list for this page.
    pub fn ancestors(&self) -> &str {
        &self.ancestors
    }
}

fn frame_query(embedded: bool, origin: Option<&str>, theme: Theme) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if embedded {
        query.append_pair("embedded", "1");
    }
    if let Some(origin) = origin {
        query.append_pair("origin", origin);
    }
    if theme != Theme::Light {
        query.append_pair("theme", theme.as_str());
    }
    let query = query.finish();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

/// A serialized web origin (`https://shop.example`, `http://localhost:8080`) and nothing
/// more: no path, query, credentials or trailing slash, so it is safe to place in a CSP
/// header and to use as a `postMessage` target.
pub fn parse_origin(value: &str) -> Option<String> {
    let url = Url::parse(value).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    (origin == value).then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_frame_is_what_a_request_for_none_comes_to() {
        assert_eq!(Frame::default(), FrameRequest::default().unowned());
        let dark = request("theme=dark");
        assert_eq!(Frame::plain(Theme::Dark), dark.permit(&shop(), false));
    }

    fn request(query: &str) -> FrameRequest {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        FrameRequest::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    fn shop() -> AllowedHosts {
        AllowedHosts::parse(&["shop.example:8443", "www.shop.example"]).unwrap()
    }

    #[test]
    fn a_plain_page_is_light_and_unframeable() {
        let plain = request("").permit(&shop(), false);
        assert_eq!(plain, Frame::default());
        assert_eq!(plain.query(), "");
        assert_eq!(plain.ancestors(), "'none'");
    }

    #[test]
    fn an_overlay_page_is_framed_only_by_an_allowed_merchant_origin_and_keeps_its_query() {
        let asked = request("embedded=1&origin=https%3A%2F%2Fshop.example%3A8443&theme=dark");
        assert_eq!(asked.origin.as_deref(), Some("https://shop.example:8443"));
        let overlay = asked.permit(&shop(), false);
        assert_eq!(overlay.parent.as_deref(), Some("https://shop.example:8443"));
        assert_eq!(overlay.theme, Theme::Dark);
        assert_eq!(overlay.ancestors(), "https://shop.example:8443");
        assert_eq!(
            overlay.query(),
            "?embedded=1&origin=https%3A%2F%2Fshop.example%3A8443&theme=dark"
        );
        assert_eq!(asked.query(), overlay.query());
        assert_eq!(
            request(&overlay.query()[1..]).permit(&shop(), false),
            overlay
        );
    }

    #[test]
    fn an_origin_the_account_does_not_allow_neither_frames_nor_hears_the_page() {
        let asked = request("embedded=1&origin=https%3A%2F%2Fevil.example");
        let page = asked.permit(&shop(), false);
        assert_eq!(page.parent, None);
        assert_eq!(
            page.ancestors(),
            "https://shop.example:8443 https://www.shop.example"
        );
        assert_eq!(page.query(), "?embedded=1", "the origin is not carried on");
        // A new account allows nothing: framed by no one, whoever asks.
        let fresh = asked.permit(&AllowedHosts::default(), true);
        assert_eq!(
            (fresh.parent.as_deref(), fresh.ancestors()),
            (None, "'none'")
        );
        assert_eq!(
            request("embedded=1")
                .permit(&AllowedHosts::default(), true)
                .ancestors(),
            "'none'"
        );
        // A page of no account, likewise.
        assert_eq!(
            request("embedded=1&origin=https%3A%2F%2Fshop.example%3A8443")
                .unowned()
                .ancestors(),
            "'none'"
        );
    }

    #[test]
    fn embedded_without_an_origin_is_framed_only_by_the_allowed_hosts() {
        let page = request("embedded=1").permit(&shop(), false);
        assert_eq!(page.parent, None);
        assert_eq!(
            page.ancestors(),
            "https://shop.example:8443 https://www.shop.example"
        );
    }

    #[test]
    fn an_origin_without_embedded_or_malformed_is_dropped() {
        assert_eq!(request("origin=https://shop.example").origin, None);
        for bad in [
            "https://shop.example/",
            "https://shop.example/path",
            "https://user@shop.example",
            "javascript:alert(1)",
            "https://shop.example; script-src *",
            "ftp://shop.example",
            "null",
        ] {
            assert_eq!(parse_origin(bad), None, "{bad}");
        }
        assert_eq!(
            parse_origin("http://localhost:8080").as_deref(),
            Some("http://localhost:8080")
        );
    }

    #[test]
    fn every_message_type_reads_back_from_its_name_and_nothing_else_does() {
        for kind in MessageType::ALL {
            assert_eq!(MessageType::parse(kind.as_str()), Some(kind));
        }
        for other in ["hello", "Ready", "", "ready "] {
            assert_eq!(MessageType::parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn an_unknown_theme_falls_back_to_light() {
        let page = request("theme=purple");
        assert_eq!(page.theme, Theme::Light);
        assert_eq!(request("theme=auto").unowned().query(), "?theme=auto");
    }
}
