//! The buy button: its state as a plain struct (tested on the host), its view as a small
//! component, and mounting into a shadow root.

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlElement, ShadowRootInit, ShadowRootMode};

/// Where a button is in its life: idle, or opening checkout after a click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonState {
    Idle,
    Opening,
}

impl ButtonState {
    /// A click starts opening checkout; clicks while opening are ignored, so a double click
    /// never opens two checkouts.
    pub fn click(self) -> (ButtonState, bool) {
        match self {
            ButtonState::Idle => (ButtonState::Opening, true),
            ButtonState::Opening => (ButtonState::Opening, false),
        }
    }
}

/// Styles scoped to the shadow root. `all: initial` stops inherited host-page properties.
const STYLE: &str = ":host{all:initial;display:inline-block}\
button{all:initial;box-sizing:border-box;cursor:pointer;font:600 16px/1.2 system-ui,sans-serif;\
color:#fff;background:#4f46e5;border-radius:8px;padding:12px 20px;min-height:44px}\
button:focus-visible{outline:3px solid #a5b4fc;outline-offset:2px}\
button[aria-busy=true]{opacity:.7;cursor:progress}";

/// A buy button that navigates to `href` when clicked.
///
/// - `label`: the text shoppers see.
/// - `href`: the payment link or checkout URL it opens.
#[component]
pub fn BuyButton(label: String, href: String) -> impl IntoView {
    let (state, set_state) = signal(ButtonState::Idle);
    let on_click = move |_| {
        let (next, open) = state.get_untracked().click();
        set_state.set(next);
        if open
            && !href.is_empty()
            && let Some(window) = web_sys::window()
        {
            let _ = window.location().assign(&href);
        }
    };
    view! {
        <style>{STYLE}</style>
        <button
            type="button"
            part="button"
            aria-busy=move || (state.get() == ButtonState::Opening).to_string()
            on:click=on_click
        >
            {label}
        </button>
    }
}

/// Attaches an open shadow root to `host` and mounts a [`BuyButton`] in it.
pub fn mount_buy_button(host: &Element, label: String, href: String) -> Result<(), JsValue> {
    let init = ShadowRootInit::new(ShadowRootMode::Open);
    let root = host.attach_shadow(&init)?;
    // Leptos mounts into an `HtmlElement`; a shadow root takes children the same way.
    let parent: HtmlElement = root.unchecked_into();
    leptos::mount::mount_to(parent, move || view! { <BuyButton label href /> }).forget();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ButtonState;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn a_second_click_while_opening_does_not_open_again() {
        let (state, open) = ButtonState::Idle.click();
        assert_eq!((state, open), (ButtonState::Opening, true));
        assert_eq!(state.click(), (ButtonState::Opening, false));
    }
}
