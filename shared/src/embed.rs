//! How a shopper page is shown: its colour scheme, and whether it sits inside Till's
//! checkout overlay on a merchant's page.
//!
//! The overlay opens a payment link's short URL,
//! `/{url_id}?embedded=1&origin=https://shop.example&theme=dark`, whose redirect carries
//! that query on to the checkout page, `/c/{session_id}`. The page then lets only that
//! origin frame it (`frame-ancestors`, enforced by the browser, so the origin the page
//! talks to is the one that really framed it) and sends its messages ([`MessageType`]) to
//! that origin alone.

use url::Url;

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

/// Where and how a page is shown, read from its query string and carried to every page
/// that follows it (form actions, redirects), so a flow that starts in the overlay stays
/// in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// `embedded=1`: the page may be framed.
    pub embedded: bool,
    /// The merchant page's origin (`origin=`), when embedded: the only origin allowed to
    /// frame the page and the only one its messages go to.
    pub parent: Option<String>,
    pub theme: Theme,
}

impl Frame {
    /// Reads `embedded`, `origin` and `theme`; anything malformed is ignored (a page is
    /// always shown, at worst unframed and light).
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Frame {
        let mut frame = Frame::default();
        let mut parent = None;
        for (key, value) in pairs {
            match key {
                "embedded" => frame.embedded = value == "1",
                "origin" => parent = parse_origin(value),
                "theme" => frame.theme = Theme::parse(value).unwrap_or_default(),
                _ => {}
            }
        }
        frame.parent = parent.filter(|_| frame.embedded);
        frame
    }

    /// The query string that keeps this frame on the next page: `""` for a plain light
    /// page, else `?embedded=1&origin=…&theme=…` (only what differs from the default).
    pub fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if self.embedded {
            query.append_pair("embedded", "1");
        }
        if let Some(parent) = &self.parent {
            query.append_pair("origin", parent);
        }
        if self.theme != Theme::Light {
            query.append_pair("theme", self.theme.as_str());
        }
        let query = query.finish();
        if query.is_empty() {
            query
        } else {
            format!("?{query}")
        }
    }

    /// The CSP `frame-ancestors` source list for this page.
    pub fn ancestors(&self) -> &str {
        match (&self.parent, self.embedded) {
            (Some(parent), _) => parent,
            (None, true) => "*",
            (None, false) => "'none'",
        }
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

    fn frame(query: &str) -> Frame {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        Frame::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    #[test]
    fn a_plain_page_is_light_and_unframeable() {
        let plain = frame("");
        assert_eq!(plain, Frame::default());
        assert_eq!(plain.query(), "");
        assert_eq!(plain.ancestors(), "'none'");
    }

    #[test]
    fn an_overlay_page_is_framed_only_by_the_merchant_origin_and_keeps_its_query() {
        let overlay = frame("embedded=1&origin=https%3A%2F%2Fshop.example%3A8443&theme=dark");
        assert_eq!(overlay.parent.as_deref(), Some("https://shop.example:8443"));
        assert_eq!(overlay.theme, Theme::Dark);
        assert_eq!(overlay.ancestors(), "https://shop.example:8443");
        assert_eq!(
            overlay.query(),
            "?embedded=1&origin=https%3A%2F%2Fshop.example%3A8443&theme=dark"
        );
        assert_eq!(frame(&overlay.query()[1..]), overlay);
    }

    #[test]
    fn an_origin_without_embedded_or_malformed_is_dropped() {
        assert_eq!(frame("origin=https://shop.example").parent, None);
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
        let page = frame("theme=purple");
        assert_eq!(page.theme, Theme::Light);
        assert_eq!(frame("theme=auto").query(), "?theme=auto");
    }
}
