//! Till's buy button and checkout overlay, as Leptos components compiled to WebAssembly.
//!
//! The loader (`loader/till.js`, served as `/till.js`) paints each button at once in an open
//! shadow root and imports this module lazily; it then calls [`adopt`] for each painted
//! button and [`open`] / [`close`] for `Till.open()` / `Till.close()` and upgraded links.

mod button;
mod config;
mod overlay;

pub use button::{ButtonState, BuyButton, STYLE, adopt as adopt_button, mount_buy_button};
pub use config::{Config, origin_of};
pub use overlay::{
    Message, OverlayState, Phase, READY_TIMEOUT_MS, is_open, request_close, web_address,
};
pub use till_shared::embed::Theme;

use wasm_bindgen::prelude::*;
use web_sys::Element;

/// Takes over the button the loader painted in `host` (or mounts one), configured by
/// `config` (`{url, origin, text, theme, color, float, successUrl, fallback}`).
#[wasm_bindgen]
pub fn adopt(host: Element, config: JsValue) -> Result<(), JsValue> {
    button::adopt(&host, Config::from_js(&config)?)
}

/// Opens checkout in the overlay; `element` (a link, a button host) also gets the events.
#[wasm_bindgen]
pub fn open(config: JsValue, element: Option<Element>) -> Result<(), JsValue> {
    overlay::open(Config::from_js(&config)?, element, Box::new(|| {}));
    Ok(())
}

/// Closes the overlay unless a payment is being confirmed; true when it closed.
#[wasm_bindgen]
pub fn close() -> bool {
    overlay::request_close()
}
