//! The widget in a real browser DOM (headless Chromium through wasm-bindgen-test).

#![cfg(target_arch = "wasm32")]

use till_widget::{mount_all, mount_buy_button};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn host(attributes: &[(&str, &str)]) -> Element {
    let host = document().create_element("div").unwrap();
    for (name, value) in attributes {
        host.set_attribute(name, value).unwrap();
    }
    document().body().unwrap().append_child(&host).unwrap();
    host
}

/// Leptos renders on mount, but effects and updates land on a later tick: yield once.
async fn next_tick() {
    let promise = js_sys::Promise::resolve(&wasm_bindgen::JsValue::NULL);
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_button_is_rendered_inside_an_open_shadow_root() {
    let host = host(&[]);
    mount_buy_button(&host, "Buy the ebook".into(), String::new()).unwrap();
    next_tick().await;

    let root = host.shadow_root().expect("an open shadow root");
    let button = root.query_selector("button").unwrap().expect("a button");
    assert_eq!(button.text_content().unwrap().trim(), "Buy the ebook");
    assert_eq!(button.get_attribute("type").as_deref(), Some("button"));
    // The button is not reachable from the page's light DOM, so page CSS cannot target it.
    assert!(host.query_selector("button").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn host_page_css_does_not_restyle_the_button() {
    let style = document().create_element("style").unwrap();
    style.set_text_content(Some(
        "button{background:rgb(255,0,0)!important;font-size:40px!important}",
    ));
    document().head().unwrap().append_child(&style).unwrap();
    let host = host(&[]);
    mount_buy_button(&host, "Buy".into(), String::new()).unwrap();
    next_tick().await;

    let button = host
        .shadow_root()
        .unwrap()
        .query_selector("button")
        .unwrap()
        .unwrap();
    let computed = web_sys::window()
        .unwrap()
        .get_computed_style(&button)
        .unwrap()
        .unwrap();
    assert_eq!(
        computed.get_property_value("background-color").unwrap(),
        "rgb(79, 70, 229)"
    );
    assert_eq!(computed.get_property_value("font-size").unwrap(), "16px");
    style.remove();
}

#[wasm_bindgen_test]
async fn a_click_marks_the_button_busy() {
    let host = host(&[]);
    mount_buy_button(&host, "Buy".into(), String::new()).unwrap();
    next_tick().await;
    let button: HtmlElement = host
        .shadow_root()
        .unwrap()
        .query_selector("button")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert_eq!(button.get_attribute("aria-busy").as_deref(), Some("false"));
    button.click();
    next_tick().await;
    assert_eq!(button.get_attribute("aria-busy").as_deref(), Some("true"));
}

#[wasm_bindgen_test]
async fn mount_all_upgrades_every_marked_element_once() {
    let a = host(&[("data-till-button", ""), ("data-label", "Buy A")]);
    let b = host(&[("data-till-button", ""), ("data-label", "Buy B")]);
    let first = mount_all().unwrap();
    assert!(first >= 2);
    assert_eq!(mount_all().unwrap(), 0, "already mounted hosts are skipped");
    next_tick().await;
    for (host, label) in [(a, "Buy A"), (b, "Buy B")] {
        let button = host
            .shadow_root()
            .unwrap()
            .query_selector("button")
            .unwrap()
            .unwrap();
        assert_eq!(button.text_content().unwrap().trim(), label);
    }
}
