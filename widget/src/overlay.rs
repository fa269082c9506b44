//! The checkout overlay: a modal `<dialog>` holding the hosted checkout page in an iframe,
//! and the message protocol with that page.
//!
//! The page is opened with `embedded=1&origin={this page's origin}`; it lets only this
//! origin frame it and posts only to it. Here, a message counts only when it comes from
//! the iframe's window *and* from the checkout's origin; the greeting sent to the iframe
//! names the checkout's origin as its target. The checkout's origin is the one the loader
//! was served from, and the overlay opens only checkout there. The widget navigates only
//! to http(s) addresses. At most one overlay is open at a time.

use std::cell::RefCell;

use js_sys::Reflect;
use leptos::prelude::*;
use till_shared::embed::MessageType;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    CustomEvent, CustomEventInit, Element, EventTarget, HtmlDialogElement, HtmlElement,
    HtmlIFrameElement, MessageEvent, SecurityPolicyViolationEvent, ShadowRootInit, ShadowRootMode,
};

use crate::config::Config;

/// How long the checkout page has to say `ready` before the shopper is sent to it instead.
pub const READY_TIMEOUT_MS: i32 = 8_000;

/// What the checkout page in the overlay says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Ready {
        height: u32,
    },
    Resize {
        height: u32,
    },
    /// A payment is being confirmed (`true`): the overlay must not close.
    Busy(bool),
    Success {
        session_id: String,
        url: Option<String>,
    },
    Error {
        code: String,
        message: String,
    },
    Close,
}

fn field(data: &JsValue, name: &str) -> JsValue {
    Reflect::get(data, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

impl Message {
    /// Reads `{till: 1, type, …}`; anything else is not ours.
    pub fn read(data: &JsValue) -> Option<Message> {
        if field(data, "till").as_f64() != Some(1.0) {
            return None;
        }
        let height = || field(data, "height").as_f64().map_or(0, |h| h as u32);
        let text = |name| field(data, name).as_string();
        Some(match MessageType::parse(&text("type")?)? {
            MessageType::Ready => Message::Ready { height: height() },
            MessageType::Resize => Message::Resize { height: height() },
            MessageType::Busy => Message::Busy(field(data, "busy").is_truthy()),
            MessageType::Success => Message::Success {
                session_id: text("session_id")?,
                url: text("url"),
            },
            MessageType::Error => Message::Error {
                code: text("code").unwrap_or_default(),
                message: text("message").unwrap_or_default(),
            },
            MessageType::Close => Message::Close,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the page's `ready`.
    Loading,
    Ready,
    /// A payment is being confirmed.
    Busy,
    /// Paid: the confirmation is showing.
    Done,
}

/// The overlay's state, kept apart from the DOM so its rules are tested on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverlayState {
    pub phase: Phase,
    /// The iframe's height in CSS pixels, as the page reports it.
    pub height: u32,
}

impl Default for OverlayState {
    fn default() -> Self {
        OverlayState {
            phase: Phase::Loading,
            height: 560,
        }
    }
}

impl OverlayState {
    /// Whether the shopper may close the overlay now: not while a payment is confirming.
    pub fn can_close(&self) -> bool {
        self.phase != Phase::Busy
    }

    /// Applies what the page said.
    pub fn receive(&mut self, message: &Message) {
        let clamp = |h: u32| h.clamp(160, 4_000);
        match message {
            Message::Ready { height } => {
                self.height = clamp(*height);
                if self.phase == Phase::Loading {
                    self.phase = Phase::Ready;
                }
            }
            Message::Resize { height } => self.height = clamp(*height),
            Message::Busy(true) if self.phase != Phase::Done => self.phase = Phase::Busy,
            Message::Busy(_) if self.phase == Phase::Busy => self.phase = Phase::Ready,
            Message::Success { .. } => self.phase = Phase::Done,
            Message::Error { .. } if self.phase == Phase::Busy => self.phase = Phase::Ready,
            _ => {}
        }
    }
}

/// Styles of the overlay's shadow root: usable from a 320 px phone to a desktop.
const STYLE: &str = ":host{all:initial}\
dialog{box-sizing:border-box;border:0;padding:0;border-radius:14px;width:min(480px,calc(100vw - 16px));\
max-width:none;max-height:calc(100dvh - 16px);overflow:auto;background:#f1f5f9;color-scheme:light;\
box-shadow:0 20px 60px rgba(15,23,42,.45)}\
dialog::backdrop{background:rgba(15,23,42,.6)}\
dialog[data-theme=dark]{background:#0b1120;color-scheme:dark}\
@media (prefers-color-scheme:dark){dialog[data-theme=auto]{background:#0b1120}}\
iframe{display:block;width:100%;border:0;min-height:160px}\
.x{all:initial;position:sticky;float:right;top:8px;margin:8px 8px -40px 0;z-index:1;width:32px;height:32px;\
border-radius:16px;background:rgba(15,23,42,.08);color:#0f172a;font:24px/32px system-ui,sans-serif;text-align:center;cursor:pointer}\
dialog[data-theme=dark] .x{background:rgba(226,232,240,.16);color:#e2e8f0}\
.x:focus-visible{outline:3px solid #a5b4fc}.x[aria-disabled=true]{opacity:.35;cursor:not-allowed}";

/// An event listener added while the overlay is open: where, for which event, and the
/// closure (kept alive until the listener is removed).
type Listener = (
    EventTarget,
    &'static str,
    Closure<dyn FnMut(web_sys::Event)>,
);

/// An open overlay: its elements, its state, and the listeners to remove on close.
struct Open {
    config: Config,
    element: Option<Element>,
    host: Element,
    dialog: HtmlDialogElement,
    iframe: HtmlIFrameElement,
    state: RwSignal<OverlayState>,
    session_id: Option<String>,
    on_closed: Box<dyn Fn()>,
    listeners: Vec<Listener>,
    timeout: Option<(i32, Closure<dyn FnMut()>)>,
    _mount: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

thread_local! {
    static OPEN: RefCell<Option<Open>> = const { RefCell::new(None) };
    /// The last overlay closed, kept until the next one closes: it may be closed from
    /// inside one of its own listeners, which must not be dropped while they run.
    static CLOSED: RefCell<Option<Open>> = const { RefCell::new(None) };
}

fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}

/// Dispatches `till:{name}` with `detail` on the window and on `element`; false when a
/// listener called `preventDefault()`.
pub fn dispatch(element: Option<&Element>, name: &str, detail: &JsValue) -> bool {
    let init = CustomEventInit::new();
    init.set_detail(detail);
    init.set_cancelable(true);
    let mut go_on = true;
    let window: EventTarget = window().into();
    let targets = element
        .map(|e| e.clone().unchecked_into::<EventTarget>())
        .into_iter()
        .chain([window]);
    for target in targets {
        if let Ok(event) = CustomEvent::new_with_event_init_dict(&format!("till:{name}"), &init) {
            go_on &= target.dispatch_event(&event).unwrap_or(true);
        }
    }
    go_on
}

fn detail(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (name, value) in pairs {
        let _ = Reflect::set(&object, &JsValue::from_str(name), value);
    }
    object.into()
}

/// Whether an overlay is open.
pub fn is_open() -> bool {
    OPEN.with(|open| open.borrow().is_some())
}

/// The absolute address of `target` (resolved against this page) when it is an http(s)
/// one: the only kind the widget navigates to (never `javascript:`, `data:`, …).
pub fn web_address(target: &str) -> Option<String> {
    let page = window().location().href().ok()?;
    let url = web_sys::Url::new_with_base(target, &page).ok()?;
    matches!(url.protocol().as_str(), "https:" | "http:").then(|| url.href())
}

/// Goes to `target` if it is an http(s) address; anything else is ignored.
fn navigate(target: &str) {
    if let Some(address) = web_address(target) {
        let _ = window().location().assign(&address);
    }
}

/// Whether checkout starts on the origin whose messages the overlay trusts (the one the
/// loader was served from): a page elsewhere is never framed and never heard.
fn on_trusted_origin(config: &Config) -> bool {
    web_sys::Url::new(&config.url).is_ok_and(|url| url.origin() == config.origin)
}

/// Opens checkout for `config` in the overlay; `element` also receives the `till:*` events,
/// and `on_closed` runs when the overlay goes away. Does nothing while one is open; checkout
/// on another origin than the trusted one is opened as a page instead.
pub fn open(config: Config, element: Option<Element>, on_closed: Box<dyn Fn()>) {
    if is_open() {
        on_closed();
        return;
    }
    if !on_trusted_origin(&config) {
        on_closed();
        fall_back(&config, "the checkout is not on Till's origin");
        return;
    }
    if let Err(error) = try_open(config.clone(), element, on_closed) {
        teardown();
        fall_back(&config, &format!("the overlay could not open ({error:?})"));
    }
}

fn try_open(
    config: Config,
    element: Option<Element>,
    on_closed: Box<dyn Fn()>,
) -> Result<(), JsValue> {
    let document = window().document().ok_or("no document")?;
    let parent = window().location().origin()?;
    let host = document.create_element("till-overlay")?;
    document.body().ok_or("no body")?.append_child(&host)?;
    let root = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;
    let state = RwSignal::new(OverlayState::default());
    let src = config.frame_url(&parent);
    let theme = config.theme.as_str();
    let mount = leptos::mount::mount_to(root.clone().unchecked_into::<HtmlElement>(), move || {
        view! {
            <style>{STYLE}</style>
            <dialog aria-label="Checkout" data-theme=theme>
                <button
                    class="x"
                    type="button"
                    aria-label="Close checkout"
                    aria-disabled=move || (!state.get().can_close()).to_string()
                    on:click=|_| {
                        request_close();
                    }
                >
                    "×"
                </button>
                <iframe
                    title="Checkout"
                    src=src
                    allow="payment"
                    style:height=move || format!("{}px", state.get().height)
                ></iframe>
            </dialog>
        }
        .into_any()
    });
    let dialog: HtmlDialogElement = root
        .query_selector("dialog")?
        .ok_or("no dialog")?
        .unchecked_into();
    let iframe: HtmlIFrameElement = root
        .query_selector("iframe")?
        .ok_or("no iframe")?
        .unchecked_into();
    OPEN.with(|open| {
        *open.borrow_mut() = Some(Open {
            config,
            element,
            host,
            dialog: dialog.clone(),
            iframe: iframe.clone(),
            state,
            session_id: None,
            on_closed,
            listeners: Vec::new(),
            timeout: None,
            _mount: mount,
        })
    });
    listen_while_open(&document, &dialog, &iframe);
    arm_ready_timeout()?;
    dialog.show_modal()?;
    Ok(())
}

/// What the open overlay listens to: the checkout's messages, a page CSP that blocks the
/// frame, Escape, and the frame's loads.
fn listen_while_open(
    document: &web_sys::Document,
    dialog: &HtmlDialogElement,
    iframe: &HtmlIFrameElement,
) {
    listen(&window().into(), "message", |event| {
        if let Some(event) = event.dyn_ref::<MessageEvent>() {
            on_message(event);
        }
    });
    listen(document.as_ref(), "securitypolicyviolation", |event| {
        if let Some(event) = event.dyn_ref::<SecurityPolicyViolationEvent>() {
            on_violation(event);
        }
    });
    // Escape: the dialog's cancel event. Closing is ours to decide (not while confirming).
    listen(dialog.as_ref(), "cancel", |event| {
        event.prevent_default();
        request_close();
    });
    listen(iframe.as_ref(), "load", |_| greet());
}

/// Gives up on a checkout that has not said it is ready within [`READY_TIMEOUT_MS`]: the
/// overlay closes and the shopper goes to the checkout page instead.
fn arm_ready_timeout() -> Result<(), JsValue> {
    let expire = Closure::<dyn FnMut()>::new(|| {
        let loading = OPEN.with(|open| {
            open.borrow().as_ref().map(|o| {
                (
                    o.state.get_untracked().phase == Phase::Loading,
                    o.config.clone(),
                )
            })
        });
        if let Some((true, config)) = loading {
            teardown();
            fall_back(&config, "the checkout did not answer in time");
        }
    });
    let id = window().set_timeout_with_callback_and_timeout_and_arguments_0(
        expire.as_ref().unchecked_ref(),
        READY_TIMEOUT_MS,
    )?;
    OPEN.with(|open| {
        if let Some(o) = open.borrow_mut().as_mut() {
            o.timeout = Some((id, expire));
        }
    });
    Ok(())
}

fn listen(target: &EventTarget, name: &'static str, handler: impl FnMut(web_sys::Event) + 'static) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    if target
        .add_event_listener_with_callback(name, closure.as_ref().unchecked_ref())
        .is_ok()
    {
        OPEN.with(|open| {
            if let Some(o) = open.borrow_mut().as_mut() {
                o.listeners.push((target.clone(), name, closure));
            }
        });
    }
}

/// Greets the page in the iframe (after each load: a form posted without script is a new
/// document), naming the checkout's origin as the only acceptable receiver.
fn greet() {
    OPEN.with(|open| {
        if let Some(o) = open.borrow().as_ref()
            && let Some(frame) = o.iframe.content_window()
        {
            let hello = detail(&[("till", 1.into()), ("type", "hello".into())]);
            let _ = frame.post_message(&hello, &o.config.origin);
        }
    });
}

/// A message counts only from the iframe's window and the checkout's origin.
fn on_message(event: &MessageEvent) {
    let trusted = OPEN.with(|open| {
        open.borrow().as_ref().is_some_and(|o| {
            let from_frame = match (event.source(), o.iframe.content_window()) {
                (Some(source), Some(frame)) => JsValue::from(source) == JsValue::from(frame),
                _ => false,
            };
            from_frame && event.origin() == o.config.origin
        })
    });
    if !trusted {
        return;
    }
    let Some(message) = Message::read(&event.data()) else {
        return;
    };
    let Some((element, config)) = OPEN.with(|open| {
        open.borrow_mut().as_mut().map(|o| {
            o.state.update(|s| s.receive(&message));
            if let Message::Success { session_id, .. } = &message {
                o.session_id = Some(session_id.clone());
            }
            if matches!(message, Message::Ready { .. })
                && let Some((id, _)) = o.timeout.take()
            {
                window().clear_timeout_with_handle(id);
            }
            (o.element.clone(), o.config.clone())
        })
    }) else {
        return;
    };
    match message {
        Message::Ready { .. } => {
            OPEN.with(|open| {
                if let Some(o) = open.borrow().as_ref() {
                    let _ = o.iframe.focus();
                }
            });
        }
        Message::Success { session_id, url } => {
            let go_on = dispatch(
                element.as_ref(),
                "success",
                &detail(&[
                    ("session_id", session_id.as_str().into()),
                    ("url", url.as_deref().map_or(JsValue::NULL, JsValue::from)),
                ]),
            );
            let target = config
                .success_url
                .map(|u| u.replace("{CHECKOUT_SESSION_ID}", &session_id))
                .or(url);
            if let (true, Some(target)) = (go_on, target) {
                navigate(&target);
            }
        }
        Message::Error { code, message } => {
            dispatch(
                element.as_ref(),
                "error",
                &detail(&[("code", code.into()), ("message", message.into())]),
            );
        }
        Message::Close => {
            request_close();
        }
        Message::Resize { .. } | Message::Busy(_) => {}
    }
}

/// A page CSP that blocks the frame: go to the checkout page instead, at once.
fn on_violation(event: &SecurityPolicyViolationEvent) {
    let directive = event.effective_directive();
    let blocked = OPEN.with(|open| {
        open.borrow().as_ref().and_then(|o| {
            (matches!(
                directive.as_str(),
                "frame-src" | "child-src" | "default-src"
            ) && event.blocked_uri().starts_with(&o.config.origin))
            .then(|| o.config.clone())
        })
    });
    if let Some(config) = blocked {
        teardown();
        fall_back(
            &config,
            &format!("the page's Content-Security-Policy blocks {directive}"),
        );
    }
}

/// Closes the overlay if no payment is being confirmed; true when it closed.
pub fn request_close() -> bool {
    let closable = OPEN.with(|open| {
        open.borrow().as_ref().map(|o| {
            (
                o.state.get_untracked().can_close(),
                o.element.clone(),
                o.session_id.clone(),
            )
        })
    });
    match closable {
        Some((true, element, session_id)) => {
            teardown();
            let session = session_id.map_or(JsValue::NULL, JsValue::from);
            dispatch(
                element.as_ref(),
                "close",
                &detail(&[("session_id", session)]),
            );
            true
        }
        _ => false,
    }
}

/// Removes the overlay and its listeners, and tells its button.
fn teardown() {
    let Some(open) = OPEN.with(|open| open.borrow_mut().take()) else {
        return;
    };
    for (target, name, closure) in &open.listeners {
        let _ = target.remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    }
    if let Some((id, _)) = &open.timeout {
        window().clear_timeout_with_handle(*id);
    }
    open.dialog.close();
    open.host.remove();
    (open.on_closed)();
    CLOSED.with(|closed| closed.replace(Some(open)));
}

/// Sends the shopper to the checkout page itself, if its address is http(s): through the
/// loader's fallback (which also names the CSP lines to add), or directly.
fn fall_back(config: &Config, why: &str) {
    if web_address(&config.url).is_none() {
        return;
    }
    match &config.fallback {
        Some(fallback) => {
            let _ = fallback.call1(&JsValue::NULL, &JsValue::from_str(why));
        }
        None => navigate(&config.url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_overlay_cannot_close_while_a_payment_is_confirming() {
        let mut state = OverlayState::default();
        assert!(state.can_close(), "a loading overlay can be closed");
        state.receive(&Message::Ready { height: 900 });
        assert_eq!((state.phase, state.height), (Phase::Ready, 900));
        state.receive(&Message::Busy(true));
        assert!(!state.can_close());
        state.receive(&Message::Busy(false));
        assert!(state.can_close());
        state.receive(&Message::Busy(true));
        state.receive(&Message::Error {
            code: "card_declined".into(),
            message: String::new(),
        });
        assert!(state.can_close(), "a failed payment frees the overlay");
        state.receive(&Message::Busy(true));
        state.receive(&Message::Success {
            session_id: "cs_1".into(),
            url: None,
        });
        assert_eq!(state.phase, Phase::Done);
        state.receive(&Message::Busy(true));
        assert!(state.can_close(), "nothing confirms after success");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn reported_heights_are_kept_within_bounds() {
        let mut state = OverlayState::default();
        state.receive(&Message::Resize { height: 3 });
        assert_eq!(state.height, 160);
        state.receive(&Message::Resize { height: 1_000_000 });
        assert_eq!(state.height, 4_000);
    }
}
