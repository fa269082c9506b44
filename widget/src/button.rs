//! The buy button: its state as a plain struct (tested on the host), its view as a small
//! component, and mounting into a shadow root (a fresh one, or the one the loader painted).

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Element, HtmlElement, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::config::Config;
use crate::overlay;

/// Where a button is in its life: idle, or with its checkout open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonState {
    Idle,
    Opening,
}

impl ButtonState {
    /// A click starts opening checkout; clicks while it is open are ignored, so a double
    /// click never opens two checkouts.
    pub fn click(self) -> (ButtonState, bool) {
        match self {
            ButtonState::Idle => (ButtonState::Opening, true),
            ButtonState::Opening => (ButtonState::Opening, false),
        }
    }
}

/// The button's styles, shared with the loader (which paints the same button before the
/// WebAssembly arrives, so the handover does not move a pixel). `:host` resets every
/// inherited property with `all: initial`; themes and floating are host attributes.
pub const STYLE: &str = include_str!("button.css");

/// The look of a button whose checkout is open (only the component has that state).
const BUSY_STYLE: &str = "button[aria-busy=true]{opacity:.7;cursor:progress}";

/// A buy button that opens checkout for `config` in the overlay.
///
/// - `config`: where checkout starts, the label, and the theme.
/// - `host`: the element the `till:*` events are also dispatched on.
#[component]
pub fn BuyButton(config: Config, host: Element) -> impl IntoView {
    let (state, set_state) = signal(ButtonState::Idle);
    let label = config.label.clone();
    let on_click = move |_| {
        let (next, open) = state.get_untracked().click();
        set_state.set(next);
        if open {
            let done = move || set_state.set(ButtonState::Idle);
            overlay::open(config.clone(), Some(host.clone()), Box::new(done));
        }
    };
    view! {
        <style>{BUSY_STYLE}</style>
        <button
            type="button"
            part="button"
            aria-haspopup="dialog"
            aria-busy=move || (state.get() == ButtonState::Opening).to_string()
            on:click=on_click
        >
            {label}
        </button>
    }
}

/// Puts `config`'s theme, colour and floating side on the host, where the styles read them.
fn decorate(host: &Element, config: &Config) -> Result<(), JsValue> {
    host.set_attribute("theme", config.theme.as_str())?;
    if let Some(side) = &config.float {
        host.set_attribute("float", side)?;
    }
    if let (Some(color), Some(host)) = (&config.color, host.dyn_ref::<HtmlElement>()) {
        host.style().set_property("--till-color", color)?;
    }
    Ok(())
}

fn mount_in(root: ShadowRoot, config: Config, host: Element) {
    // Leptos mounts into an `HtmlElement`; a shadow root takes children the same way.
    let parent: HtmlElement = root.unchecked_into();
    leptos::mount::mount_to(parent, move || view! { <BuyButton config host /> }).forget();
}

/// Attaches an open shadow root to `host` and mounts a [`BuyButton`] with its styles in it.
pub fn mount_buy_button(host: &Element, config: Config) -> Result<(), JsValue> {
    decorate(host, &config)?;
    let root = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;
    let style = host
        .owner_document()
        .unwrap_or_else(page_document)
        .create_element("style")?;
    style.set_text_content(Some(STYLE));
    root.append_child(&style)?;
    mount_in(root, config, host.clone());
    Ok(())
}

/// Takes over a button the loader painted in `host`'s shadow root. The painted `<button>`
/// stays (replacing it would move focus, a press in progress and the layout); its click
/// now opens the overlay here, with the same busy state as [`BuyButton`].
pub fn adopt(host: &Element, config: Config) -> Result<(), JsValue> {
    let painted = match host.shadow_root() {
        Some(root) => root.query_selector("button")?.map(|b| (root, b)),
        None => None,
    };
    let Some((root, button)) = painted else {
        return mount_buy_button(host, config);
    };
    // Adopted already, or a redirect-mode button (the loader's navigation is all it needs).
    if button.has_attribute("aria-haspopup") || config.redirect {
        return Ok(());
    }
    decorate(host, &config)?;
    let busy = page_document().create_element("style")?;
    busy.set_text_content(Some(BUSY_STYLE));
    root.append_child(&busy)?;
    button.set_attribute("aria-haspopup", "dialog")?;
    button.set_attribute("aria-busy", "false")?;
    let state = std::rc::Rc::new(std::cell::Cell::new(ButtonState::Idle));
    let host = host.clone();
    let target = button.clone();
    let on_click = Closure::<dyn FnMut()>::new(move || {
        let (next, open) = state.get().click();
        state.set(next);
        if open {
            let _ = target.set_attribute("aria-busy", "true");
            let (state, target) = (state.clone(), target.clone());
            let done = move || {
                state.set(ButtonState::Idle);
                let _ = target.set_attribute("aria-busy", "false");
            };
            overlay::open(config.clone(), Some(host.clone()), Box::new(done));
        }
    });
    // Replaces the loader's handler (it set `onclick` too).
    button
        .unchecked_ref::<HtmlElement>()
        .set_onclick(Some(on_click.as_ref().unchecked_ref()));
    on_click.forget();
    Ok(())
}

fn page_document() -> web_sys::Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("a document")
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
