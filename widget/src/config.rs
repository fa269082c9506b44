//! What a button or `Till.open` asks for, as the loader hands it over: a plain JS object
//! read field by field (no serde: it would cost more bytes than it saves here).

use js_sys::{Function, Reflect};
use till_shared::embed::Theme;
use wasm_bindgen::{JsCast, JsValue};

/// One checkout to open.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where checkout starts (a payment link, `/{url_id}`, or `/b/{product}?key=…`, with
    /// prefills); the overlay adds `embedded=1&origin=…` to it.
    pub url: String,
    /// The origin the loader was served from (Till's): the only origin whose messages the
    /// overlay accepts, and the one `url` must be on for the overlay to open.
    pub origin: String,
    pub label: String,
    /// The colour scheme of the button, the overlay and the checkout page in it.
    pub theme: Theme,
    /// A CSS colour for the button.
    pub color: Option<String>,
    /// `left` or `right`: a floating button in that corner.
    pub float: Option<String>,
    /// Where to go after a successful payment, instead of the link's own success URL;
    /// `{CHECKOUT_SESSION_ID}` is filled in.
    pub success_url: Option<String>,
    /// `mode="redirect"`: the button goes to the checkout page; no overlay.
    pub redirect: bool,
    /// The loader's fallback (navigate to `url`, with CSP hints in the console), called with
    /// the reason when the overlay cannot open.
    pub fallback: Option<Function>,
}

fn text(object: &JsValue, name: &str) -> Option<String> {
    Reflect::get(object, &JsValue::from_str(name))
        .ok()?
        .as_string()
        .filter(|s| !s.is_empty())
}

impl Config {
    /// Reads `{url, origin, text, theme, color, float, successUrl, mode, fallback}`; `url`
    /// is required.
    pub fn from_js(object: &JsValue) -> Result<Config, JsValue> {
        let url = text(object, "url").ok_or_else(|| JsValue::from_str("Till: no checkout url"))?;
        Ok(Config {
            origin: text(object, "origin").unwrap_or_else(|| origin_of(&url)),
            url,
            label: text(object, "text").unwrap_or_else(|| "Buy now".to_owned()),
            theme: theme(text(object, "theme").as_deref()),
            color: text(object, "color"),
            float: text(object, "float").filter(|s| s == "left" || s == "right"),
            success_url: text(object, "successUrl"),
            redirect: text(object, "mode").as_deref() == Some("redirect"),
            fallback: Reflect::get(object, &JsValue::from_str("fallback"))
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok()),
        })
    }

    /// The iframe's address: `url` shown in the overlay, reporting to `parent`.
    pub fn frame_url(&self, parent: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}embedded=1&origin={}",
            self.url,
            String::from(js_sys::encode_uri_component(parent))
        )
    }
}

/// The `theme` option; a missing or unknown one is light, as on the checkout page.
fn theme(value: Option<&str>) -> Theme {
    value.and_then(Theme::parse).unwrap_or_default()
}

/// `https://till.example` of `https://till.example/7sY3cxcrX1T1ep4?x=1`.
pub fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    url[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_origin_of_a_checkout_url_is_its_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://till.example:8443/7sY3cxcrX1T1ep4?x=1"),
            "https://till.example:8443"
        );
        assert_eq!(origin_of("http://localhost:8787"), "http://localhost:8787");
        assert_eq!(origin_of("https://till.example?x"), "https://till.example");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn unknown_themes_are_light() {
        assert_eq!(theme(Some("dark")), Theme::Dark);
        assert_eq!(theme(Some("auto")).as_str(), "auto");
        assert_eq!(theme(Some("purple")), Theme::Light);
        assert_eq!(theme(None), Theme::Light);
    }
}
