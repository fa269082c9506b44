//! The widget in a real browser DOM (headless Chromium through wasm-bindgen-test): the
//! button, its themes, the handover from the loader, and the overlay with its messages.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use till_widget::{
    Config, Theme, adopt_button, is_open, mount_buy_button, request_close, web_address,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{
    CustomEvent, Element, HtmlElement, HtmlIFrameElement, MessageEvent, MessageEventInit,
    SecurityPolicyViolationEvent, SecurityPolicyViolationEventInit, ShadowRootInit, ShadowRootMode,
};

wasm_bindgen_test_configure!(run_in_browser);

/// A checkout origin nothing listens on: the iframe fails to load, which is fine here —
/// the tests speak for the page.
const CHECKOUT: &str = "http://127.0.0.1:9";

fn window() -> web_sys::Window {
    web_sys::window().unwrap()
}

fn document() -> web_sys::Document {
    window().document().unwrap()
}

fn host() -> Element {
    let host = document().create_element("till-buy-button").unwrap();
    document().body().unwrap().append_child(&host).unwrap();
    host
}

fn config(label: &str) -> Config {
    Config {
        url: format!("{CHECKOUT}/7sY3cxcrX1T1ep4?prefilled_email=a%40b.co"),
        origin: CHECKOUT.to_owned(),
        label: label.to_owned(),
        // Records why the overlay gave up, instead of navigating away from the test page.
        fallback: Some(js_sys::Function::new_with_args(
            "why",
            "window.tillFallback = why",
        )),
        ..Config::default()
    }
}

/// Leptos renders on mount, but updates land on a later tick: yield once.
async fn next_tick() {
    let promise = js_sys::Promise::resolve(&JsValue::NULL);
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

fn button_of(host: &Element) -> HtmlElement {
    host.shadow_root()
        .expect("an open shadow root")
        .query_selector("button")
        .unwrap()
        .expect("a button")
        .unchecked_into()
}

fn computed(element: &Element, property: &str) -> String {
    window()
        .get_computed_style(element)
        .unwrap()
        .unwrap()
        .get_property_value(property)
        .unwrap()
}

/// The overlay's shadow root elements: the dialog and its iframe.
fn overlay() -> Option<(Element, HtmlIFrameElement)> {
    let host = document().query_selector("till-overlay").unwrap()?;
    let root = host.shadow_root()?;
    let dialog = root.query_selector("dialog").unwrap()?;
    let iframe = root.query_selector("iframe").unwrap()?.unchecked_into();
    Some((dialog, iframe))
}

/// Every `till:{name}` event seen on `target`, with its detail.
fn record(target: &web_sys::EventTarget, name: &str) -> Rc<RefCell<Vec<JsValue>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        let event: CustomEvent = event.unchecked_into();
        // Success would send the test page to the success URL: stay.
        event.prevent_default();
        sink.borrow_mut().push(event.detail());
    });
    target
        .add_event_listener_with_callback(
            &format!("till:{name}"),
            listener.as_ref().unchecked_ref(),
        )
        .unwrap();
    listener.forget();
    seen
}

fn field(value: &JsValue, name: &str) -> Option<String> {
    js_sys::Reflect::get(value, &JsValue::from_str(name))
        .ok()?
        .as_string()
}

/// What the checkout page would post: `{till: 1, type, …}` from `source` and `origin`.
fn say(source: &web_sys::Window, origin: &str, fields: &[(&str, JsValue)]) {
    let data = js_sys::Object::new();
    js_sys::Reflect::set(&data, &"till".into(), &1.into()).unwrap();
    for (name, value) in fields {
        js_sys::Reflect::set(&data, &JsValue::from_str(name), value).unwrap();
    }
    let init = MessageEventInit::new();
    init.set_data(&data);
    init.set_origin(origin);
    init.set_source(Some(source));
    let event = MessageEvent::new_with_event_init_dict("message", &init).unwrap();
    window().dispatch_event(&event).unwrap();
}

#[wasm_bindgen_test]
async fn the_button_is_rendered_inside_an_open_shadow_root() {
    let host = host();
    mount_buy_button(&host, config("Buy the ebook")).unwrap();
    next_tick().await;

    let button = button_of(&host);
    assert_eq!(button.text_content().unwrap().trim(), "Buy the ebook");
    assert_eq!(button.get_attribute("type").as_deref(), Some("button"));
    assert_eq!(
        button.get_attribute("aria-haspopup").as_deref(),
        Some("dialog")
    );
    // The button is not reachable from the page's light DOM, so page CSS cannot target it.
    assert!(host.query_selector("button").unwrap().is_none());
    host.remove();
}

#[wasm_bindgen_test]
async fn host_page_css_does_not_restyle_the_button() {
    let style = document().create_element("style").unwrap();
    style.set_text_content(Some(
        "button{background:rgb(255,0,0)!important;font-size:40px!important}\
         body{color:rgb(0,255,0);font-family:serif;letter-spacing:9px}",
    ));
    document().head().unwrap().append_child(&style).unwrap();
    let host = host();
    mount_buy_button(&host, config("Buy")).unwrap();
    next_tick().await;

    let button = button_of(&host);
    assert_eq!(computed(&button, "background-color"), "rgb(79, 70, 229)");
    assert_eq!(computed(&button, "color"), "rgb(255, 255, 255)");
    assert_eq!(computed(&button, "font-size"), "16px");
    assert_eq!(computed(&button, "letter-spacing"), "normal");
    style.remove();
    host.remove();
}

#[wasm_bindgen_test]
async fn the_dark_theme_and_a_custom_colour_change_the_button() {
    let dark = host();
    mount_buy_button(
        &dark,
        Config {
            theme: Theme::Dark,
            ..config("Buy")
        },
    )
    .unwrap();
    let coloured = host();
    mount_buy_button(
        &coloured,
        Config {
            color: Some("rgb(22, 163, 74)".into()),
            ..config("Buy")
        },
    )
    .unwrap();
    next_tick().await;

    assert_eq!(dark.get_attribute("theme").as_deref(), Some("dark"));
    assert_eq!(
        computed(&button_of(&dark), "background-color"),
        "rgb(165, 180, 252)"
    );
    assert_eq!(computed(&button_of(&dark), "color"), "rgb(11, 17, 32)");
    assert_eq!(
        computed(&button_of(&coloured), "background-color"),
        "rgb(22, 163, 74)"
    );
    dark.remove();
    coloured.remove();
}

#[wasm_bindgen_test]
async fn the_widget_takes_over_the_button_the_loader_painted_without_replacing_it() {
    let host = host();
    let root = host
        .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
        .unwrap();
    root.set_inner_html(&format!(
        "<style>{}</style><button type=button part=button>Buy the mug</button>",
        till_widget::STYLE
    ));
    let painted = button_of(&host);
    painted.focus().unwrap();
    let before = painted.get_bounding_client_rect();
    adopt_button(&host, config("Buy the mug")).unwrap();
    adopt_button(&host, config("Buy the mug")).unwrap();
    next_tick().await;

    let adopted = button_of(&host);
    assert!(
        adopted.is_same_node(Some(&painted)),
        "the same element, still focused"
    );
    assert!(
        root.active_element()
            .is_some_and(|a| a.is_same_node(Some(&painted)))
    );
    assert_eq!(adopted.get_bounding_client_rect().width(), before.width());
    assert_eq!(computed(&adopted, "background-color"), "rgb(79, 70, 229)");
    assert_eq!(
        root.query_selector_all("style").unwrap().length(),
        2,
        "adopted once"
    );
    adopted.click();
    next_tick().await;
    assert!(is_open(), "its click opens the overlay");
    assert_eq!(adopted.get_attribute("aria-busy").as_deref(), Some("true"));
    assert_eq!(computed(&adopted, "opacity"), "0.7");
    assert!(request_close());
    assert_eq!(adopted.get_attribute("aria-busy").as_deref(), Some("false"));
    host.remove();
}

#[wasm_bindgen_test]
async fn a_click_opens_the_overlay_on_the_checkout_page_and_escape_closes_it() {
    let host = host();
    mount_buy_button(&host, config("Buy")).unwrap();
    next_tick().await;
    let closed = record(&host, "close");
    let closed_on_window = record(&window(), "close");

    button_of(&host).click();
    next_tick().await;
    assert!(is_open());
    assert_eq!(
        button_of(&host).get_attribute("aria-busy").as_deref(),
        Some("true")
    );
    let (dialog, iframe) = overlay().expect("an overlay");
    assert!(dialog.has_attribute("open"), "shown as a modal dialog");
    let origin = window().location().origin().unwrap();
    assert_eq!(
        iframe.src(),
        format!(
            "{CHECKOUT}/7sY3cxcrX1T1ep4?prefilled_email=a%40b.co&embedded=1&origin={}",
            String::from(js_sys::encode_uri_component(&origin))
        )
    );
    // A second click while it is open does not open a second overlay.
    button_of(&host).click();
    next_tick().await;
    assert_eq!(
        document()
            .query_selector_all("till-overlay")
            .unwrap()
            .length(),
        1
    );

    // Escape fires the dialog's cancel event.
    let cancel = web_sys::Event::new_with_event_init_dict("cancel", &{
        let init = web_sys::EventInit::new();
        init.set_cancelable(true);
        init
    })
    .unwrap();
    dialog.dispatch_event(&cancel).unwrap();
    next_tick().await;
    assert!(!is_open());
    assert!(overlay().is_none(), "the overlay left the page");
    assert_eq!(closed.borrow().len(), 1, "till:close on the element");
    assert!(
        !closed_on_window.borrow().is_empty(),
        "till:close on the window"
    );
    assert_eq!(
        button_of(&host).get_attribute("aria-busy").as_deref(),
        Some("false")
    );
    host.remove();
}

#[wasm_bindgen_test]
async fn only_messages_from_the_checkout_frame_and_origin_count() {
    let host = host();
    mount_buy_button(&host, config("Buy")).unwrap();
    next_tick().await;
    let succeeded = record(&host, "success");
    let failed = record(&host, "error");
    button_of(&host).click();
    next_tick().await;
    let (dialog, iframe) = overlay().unwrap();
    let frame = iframe.content_window().unwrap();

    // The right window from the wrong origin, and the right origin from the wrong window.
    say(
        &frame,
        "https://evil.example",
        &[("type", "busy".into()), ("busy", true.into())],
    );
    say(
        &window(),
        CHECKOUT,
        &[("type", "busy".into()), ("busy", true.into())],
    );
    next_tick().await;
    assert!(
        request_close(),
        "neither message counted, so the overlay closes"
    );
    assert!(!is_open());

    button_of(&host).click();
    next_tick().await;
    let (_, iframe) = overlay().unwrap();
    let frame = iframe.content_window().unwrap();
    say(
        &frame,
        CHECKOUT,
        &[("type", "ready".into()), ("height", 700.into())],
    );
    next_tick().await;
    assert_eq!(
        iframe.style().get_property_value("height").unwrap(),
        "700px"
    );

    say(
        &frame,
        CHECKOUT,
        &[("type", "busy".into()), ("busy", true.into())],
    );
    next_tick().await;
    assert!(!request_close(), "no closing while a payment is confirming");
    assert!(is_open());
    let (dialog_now, _) = overlay().unwrap();
    let close_button = dialog_now.query_selector(".x").unwrap().unwrap();
    assert_eq!(
        close_button.get_attribute("aria-disabled").as_deref(),
        Some("true")
    );

    say(
        &frame,
        CHECKOUT,
        &[
            ("type", "error".into()),
            ("code", "card_declined".into()),
            ("message", "Your card was declined.".into()),
        ],
    );
    say(
        &frame,
        CHECKOUT,
        &[
            ("type", "success".into()),
            ("session_id", "cs_test_123".into()),
            ("url", "https://shop.example/thanks".into()),
        ],
    );
    next_tick().await;
    assert_eq!(failed.borrow().len(), 1);
    assert_eq!(
        field(&failed.borrow()[0], "code").as_deref(),
        Some("card_declined")
    );
    assert_eq!(succeeded.borrow().len(), 1, "till:success on the element");
    assert_eq!(
        field(&succeeded.borrow()[0], "session_id").as_deref(),
        Some("cs_test_123")
    );
    let closed = record(&host, "close");
    say(&frame, CHECKOUT, &[("type", "close".into())]);
    next_tick().await;
    assert!(
        !is_open(),
        "the page's close closes the overlay after paying"
    );
    assert_eq!(
        field(&closed.borrow()[0], "session_id").as_deref(),
        Some("cs_test_123")
    );
    drop(dialog);
    host.remove();
}

#[wasm_bindgen_test]
async fn a_csp_that_blocks_the_frame_falls_back_to_the_checkout_page() {
    let host = host();
    mount_buy_button(&host, config("Buy")).unwrap();
    next_tick().await;
    button_of(&host).click();
    next_tick().await;
    assert!(is_open());

    let init = SecurityPolicyViolationEventInit::new();
    init.set_blocked_uri(&format!("{CHECKOUT}/7sY3cxcrX1T1ep4"));
    init.set_effective_directive("frame-src");
    init.set_violated_directive("frame-src");
    init.set_original_policy("frame-src 'self'");
    init.set_disposition(web_sys::SecurityPolicyViolationEventDisposition::Enforce);
    let violation =
        SecurityPolicyViolationEvent::new_with_event_init_dict("securitypolicyviolation", &init)
            .unwrap();
    document().dispatch_event(&violation).unwrap();
    next_tick().await;

    assert!(!is_open(), "the overlay gave up");
    let why = js_sys::Reflect::get(&window(), &"tillFallback".into())
        .unwrap()
        .as_string()
        .unwrap_or_default();
    assert!(why.contains("frame-src"), "the fallback says why: {why}");
    assert_eq!(
        button_of(&host).get_attribute("aria-busy").as_deref(),
        Some("false")
    );
    host.remove();
}

/// Waits `ms` milliseconds: for checks that something does *not* happen (a navigation
/// to a `javascript:` address runs as a task of its own, soon after it is asked for).
async fn pause(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// What a `javascript:` navigation in these tests leaves behind, if one ran.
fn ran(flag: &str) -> bool {
    js_sys::Reflect::get(&window(), &JsValue::from_str(flag))
        .unwrap()
        .is_truthy()
}

#[wasm_bindgen_test]
fn only_http_addresses_count_as_places_to_go() {
    let page = window().location().origin().unwrap();
    assert_eq!(
        web_address("/thanks?x=1"),
        Some(format!("{page}/thanks?x=1"))
    );
    assert_eq!(
        web_address("https://shop.example/done").as_deref(),
        Some("https://shop.example/done")
    );
    for refused in [
        "javascript:alert(1)",
        " javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "blob:https://shop.example/x",
        "about:blank",
    ] {
        assert_eq!(web_address(refused), None, "{refused}");
    }
}

#[wasm_bindgen_test]
async fn a_success_never_navigates_to_a_script_address() {
    for (success_url, url, flag) in [
        (
            Some("javascript:window.tillRanSuccessUrl=1"),
            None,
            "tillRanSuccessUrl",
        ),
        (
            None,
            Some("javascript:window.tillRanPageUrl=1"),
            "tillRanPageUrl",
        ),
    ] {
        let host = host();
        mount_buy_button(
            &host,
            Config {
                success_url: success_url.map(str::to_owned),
                ..config("Buy")
            },
        )
        .unwrap();
        next_tick().await;
        button_of(&host).click();
        next_tick().await;
        let (_, iframe) = overlay().unwrap();
        let frame = iframe.content_window().unwrap();
        // Nothing prevents the default: the widget would go where it is told.
        say(
            &frame,
            CHECKOUT,
            &[
                ("type", "success".into()),
                ("session_id", "cs_test_1".into()),
                ("url", url.map_or(JsValue::NULL, JsValue::from)),
            ],
        );
        pause(300).await;
        assert!(!ran(flag), "the widget navigated to a javascript: address");
        assert!(request_close());
        host.remove();
    }
}

#[wasm_bindgen_test]
async fn checkout_on_another_origin_is_never_framed_or_heard() {
    let host = host();
    let elsewhere = Config {
        url: "http://127.0.0.1:10/7sY3cxcrX1T1ep4".into(),
        ..config("Buy")
    };
    mount_buy_button(&host, elsewhere).unwrap();
    next_tick().await;
    js_sys::Reflect::set(&window(), &"tillFallback".into(), &JsValue::UNDEFINED).unwrap();
    button_of(&host).click();
    next_tick().await;
    assert!(!is_open(), "an overlay opened on another origin");
    assert!(overlay().is_none());
    let why = js_sys::Reflect::get(&window(), &"tillFallback".into())
        .unwrap()
        .as_string()
        .unwrap_or_default();
    assert!(why.contains("origin"), "the fallback says why: {why}");
    assert_eq!(
        button_of(&host).get_attribute("aria-busy").as_deref(),
        Some("false")
    );
    host.remove();

    // A script address is neither framed nor gone to.
    let host = self::host();
    let script = Config {
        url: "javascript:window.top.tillRanCheckoutUrl=1//".into(),
        fallback: None,
        ..config("Buy")
    };
    mount_buy_button(&host, script).unwrap();
    next_tick().await;
    button_of(&host).click();
    pause(300).await;
    assert!(!is_open());
    assert!(!ran("tillRanCheckoutUrl"), "a javascript: checkout ran");
    host.remove();
}
