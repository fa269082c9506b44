//! Till's buy button, as Leptos components compiled to WebAssembly.
//!
//! Each button lives in an open shadow root of its host element, so the host page's CSS
//! cannot restyle it (the root resets inherited properties with `all: initial`).

mod button;

pub use button::{ButtonState, BuyButton, mount_buy_button};

use wasm_bindgen::prelude::*;
use web_sys::Element;

/// Mounts a buy button into every element marked `data-till-button` on the page, taking
/// its label from `data-label` and its target from `data-href`. Returns how many it mounted.
#[wasm_bindgen(js_name = mountAll)]
pub fn mount_all() -> Result<u32, JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let hosts = document.query_selector_all("[data-till-button]")?;
    let mut mounted = 0;
    for index in 0..hosts.length() {
        let Some(host) = hosts.item(index).and_then(|n| n.dyn_into::<Element>().ok()) else {
            continue;
        };
        if host.shadow_root().is_some() {
            continue;
        }
        let label = host
            .get_attribute("data-label")
            .unwrap_or_else(|| "Buy now".to_owned());
        let href = host.get_attribute("data-href").unwrap_or_default();
        mount_buy_button(&host, label, href)?;
        mounted += 1;
    }
    Ok(mounted)
}
