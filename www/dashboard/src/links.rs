//! Payment links: the list with its counters, a form with every option the API has, and a
//! link's page: its URL, QR code, embed snippets with a live preview of the real button,
//! its funnel, and activate / deactivate.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};

use crate::api;
use crate::catalog::{active_word, price_text};
use crate::home::funnel_view;
use crate::route_id;
use crate::text::{T, t};
use crate::ui::{
    self, Block, Column, Form, Kind, List, Screen, Then, Values, act, column, field, text_of,
};

fn link_name(l: &Value) -> String {
    [
        text_of(l, "name"),
        text_of(l, "title"),
        text_of(&l["product"], "name"),
        text_of(l, "url_id"),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or_default()
    .to_owned()
}

fn link_columns() -> Vec<Column> {
    vec![
        column(T::Name, link_name),
        column(T::Price, |l| ui::money_of(l, "amount", "currency")),
        column(T::Views, |l| ui::count_of(l, "view_count")),
        column(T::SessionsWord, |l| ui::count_of(l, "session_count")),
        column(T::Paid, |l| ui::count_of(l, "completed_count")),
        column(T::Status, active_word),
    ]
}

#[component]
pub fn Links() -> impl IntoView {
    ui::page(vec![
        Block::Title(t(T::Links).to_owned()),
        Block::Link(
            "/dashboard/links/new".into(),
            t(T::NewLink).to_owned(),
            "new-link",
        ),
        Block::List(
            List::new("links", "/v1/payment_links", link_columns())
                .linked(|l| format!("/dashboard/links/{}", text_of(l, "id"))),
        ),
    ])
}

/// Line items and custom fields a form offers at once.
const LINES: [&str; 3] = ["line1", "line2", "line3"];
const FIELDS: [&str; 3] = ["field1", "field2", "field3"];

/// Every option `POST /v1/payment_links` takes, as a form: the products and prices to pick
/// from are read first.
#[component]
pub fn NewLink() -> impl IntoView {
    let choices = RwSignal::new(None::<(Vec<(String, String)>, Vec<(String, String)>)>);
    spawn_local(async move {
        let options = |answer: api::Answer, label: fn(&Value) -> String| -> Vec<(String, String)> {
            answer
                .ok()
                .and_then(|v| v["data"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|item| (text_of(item, "id").to_owned(), label(item)))
                .collect()
        };
        let products = options(api::get("/v1/products?active=true&limit=100").await, |p| {
            format!(
                "{} — {}",
                text_of(p, "name"),
                price_text(&p["default_price"])
            )
        });
        let prices = options(api::get("/v1/prices?active=true&limit=100").await, |p| {
            format!("{} {}", price_text(p), text_of(p, "nickname"))
        });
        choices.set(Some((products, prices)));
    });
    move || match choices.get() {
        None => view! { <p role="status">{t(T::Loading)}</p> }.into_any(),
        Some((products, prices)) => ui::page(vec![
            Block::Title(t(T::NewLink).to_owned()),
            Block::Form(link_form(products, prices)),
        ])
        .into_any(),
    }
}

fn link_form(products: Vec<(String, String)>, prices: Vec<(String, String)>) -> Form {
    let mut fields = vec![
        field(
            "by",
            T::LinkBy,
            Kind::Choose(vec![
                ("product", T::ByProduct),
                ("lines", T::ByLines),
                ("amount", T::ByAmount),
            ]),
        ),
        field("product_id", T::Product, Kind::Pick(products)).when("by", "product"),
    ];
    for (i, line) in LINES.into_iter().enumerate() {
        let mut choice = prices.clone();
        if i > 0 {
            choice.insert(0, (String::new(), "—".into()));
        }
        fields.push(field(line, T::Price, Kind::Pick(choice)).when("by", "lines"));
    }
    fields.extend([
        field("quantity", T::Quantity, Kind::Number)
            .value("1")
            .when("by", "lines"),
        field("amount", T::Amount, Kind::Text).when("by", "amount"),
        field("currency", T::Currency, Kind::Currency)
            .value("TWD")
            .when("by", "amount"),
        field("name", T::Name, Kind::Text),
        field("title", T::Title, Kind::Text),
        field("promotion_code", T::PromotionCode, Kind::Text),
        field("allow_promotion_codes", T::AllowCodes, Kind::Check),
        field("max_completions", T::MaxCompletions, Kind::Number),
        field(
            "after",
            T::AfterPayment,
            Kind::Choose(vec![
                ("hosted", T::HostedMessage),
                ("redirect", T::RedirectTo),
            ]),
        ),
        field("success_url", T::SuccessUrl, Kind::Url)
            .placeholder("https://shop.example.com/thanks")
            .when("after", "redirect"),
        field("message", T::Message, Kind::Lines).when("after", "hosted"),
    ]);
    let kinds = || {
        Kind::Choose(vec![
            ("", T::No),
            ("text", T::FieldText),
            ("numeric", T::FieldNumeric),
            ("dropdown", T::FieldDropdown),
        ])
    };
    let custom: [[&'static str; 5]; 3] = [
        [
            "field1",
            "field1_key",
            "field1_label",
            "field1_options",
            "field1_optional",
        ],
        [
            "field2",
            "field2_key",
            "field2_label",
            "field2_options",
            "field2_optional",
        ],
        [
            "field3",
            "field3_key",
            "field3_label",
            "field3_options",
            "field3_optional",
        ],
    ];
    let titles = [T::CustomField1, T::CustomField2, T::CustomField3];
    for (i, [kind, key, label, options, optional]) in custom.into_iter().enumerate() {
        let mut kind_field = field(kind, titles[i], kinds());
        if i > 0 {
            // The next field is offered once this one has a type.
            kind_field = kind_field.when(FIELDS[i - 1], "*");
        }
        fields.extend([
            kind_field,
            field(key, T::FieldKey, Kind::Text).when(kind, "*"),
            field(label, T::FieldLabel, Kind::Text).when(kind, "*"),
            field(options, T::FieldOptions, Kind::Text).when(kind, "dropdown"),
            field(optional, T::Optional, Kind::Check).when(kind, "*"),
        ]);
    }
    fields.extend([
        field(
            "billing_address_collection",
            T::BillingAddress,
            Kind::Choose(vec![
                ("auto", T::AddressAuto),
                ("required", T::AddressRequired),
            ]),
        ),
        field(
            "submit_type",
            T::SubmitType,
            Kind::Choose(vec![
                ("auto", T::SubmitAuto),
                ("pay", T::SubmitPay),
                ("book", T::SubmitBook),
                ("donate", T::SubmitDonate),
            ]),
        ),
        field("metadata", T::Metadata, Kind::Lines).hint(T::MetadataHelp),
    ]);
    Form {
        id: "link",
        fields,
        submit: T::Create,
        method: "POST",
        path: "/v1/payment_links".into(),
        body: link_body,
        then: Then::Go(|l| format!("/dashboard/links/{}", text_of(l, "id"))),
    }
}

fn link_body(v: &Values) -> Result<Value, String> {
    let mut body = json!({});
    match v.get("by").as_str() {
        "product" => body["product_id"] = json!(v.get("product_id")),
        "lines" => {
            let quantity = v.get("quantity").parse::<i64>().unwrap_or(1);
            let lines: Vec<Value> = LINES
                .iter()
                .filter_map(|line| v.some(line))
                .map(|price| json!({ "price_id": price, "quantity": quantity }))
                .collect();
            body["line_items"] = Value::Array(lines);
        }
        _ => {
            let amount = ui::minor_units(&v.get("amount"), &v.get("currency"))
                .ok_or_else(|| format!("{}: “{}”", t(T::Amount), v.get("amount")))?;
            body["amount"] = json!(amount);
            body["currency"] = json!(v.get("currency"));
        }
    }
    for name in ["name", "title", "promotion_code"] {
        if let Some(value) = v.some(name) {
            body[name] = json!(value);
        }
    }
    if v.on("allow_promotion_codes") {
        body["allow_promotion_codes"] = json!(true);
    }
    if let Some(max) = v.some("max_completions") {
        body["max_completions"] = json!(
            max.parse::<i64>()
                .map_err(|_| t(T::MaxCompletions).to_owned())?
        );
    }
    if v.get("after") == "redirect" {
        body["after_completion"] =
            json!({ "type": "redirect", "redirect": { "url": v.get("success_url") } });
    } else if let Some(message) = v.some("message") {
        body["after_completion"] = json!({ "type": "hosted_confirmation", "hosted_confirmation": { "custom_message": message } });
    }
    let mut custom = Vec::new();
    for name in FIELDS {
        let Some(kind) = v.some(name) else { break };
        let part = |p: &str| v.get(&format!("{name}_{p}"));
        let mut one = json!({
            "key": part("key"),
            "label": part("label"),
            "type": kind,
            "optional": part("optional") == "true",
        });
        if kind == "dropdown" {
            let options: Vec<Value> = part("options")
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|o| json!({ "label": o, "value": o }))
                .collect();
            one["dropdown"] = json!({ "options": options });
        }
        custom.push(one);
    }
    if !custom.is_empty() {
        body["custom_fields"] = Value::Array(custom);
    }
    body["billing_address_collection"] = json!(v.get("billing_address_collection"));
    body["submit_type"] = json!(v.get("submit_type"));
    if let Some(metadata) = ui::metadata_of(&v.get("metadata")) {
        body["metadata"] = metadata;
    }
    Ok(body)
}

#[component]
pub fn Link() -> impl IntoView {
    let id = route_id();
    view! {
        <Screen path=Signal::derive(move || format!("/v1/payment_links/{}", id.get()))
            back=("/dashboard/links", T::Links) blocks=link/>
    }
}

fn link(l: Value) -> Vec<Block> {
    let id = text_of(&l, "id").to_owned();
    let active = l["active"].as_bool().unwrap_or(false);
    let url = text_of(&l, "url").to_owned();
    let qr = format!("/v1/payment_links/{id}/qr.svg");
    vec![
        Block::Title(link_name(&l)),
        Block::Facts(vec![
            (T::Status, active_word(&l)),
            (T::Price, ui::money_of(&l, "amount", "currency")),
            (
                T::Completions,
                match l["max_completions"].as_i64() {
                    Some(max) => format!("{} / {max}", ui::count_of(&l, "completed_count")),
                    None => ui::count_of(&l, "completed_count"),
                },
            ),
        ]),
        Block::Buttons(vec![act(
            "toggle-link",
            if active { T::Deactivate } else { T::Activate },
            "PATCH",
            format!("/v1/payment_links/{id}"),
            json!({ "active": !active }),
        )]),
        Block::Heading(T::LinkUrl),
        Block::Copy(url.clone(), T::LinkUrl, "link-url"),
        Block::Heading(T::QrCode),
        Block::Image(qr.clone(), T::QrAlt, "qr"),
        Block::Link(qr, t(T::DownloadQr).to_owned(), "qr-download"),
        Block::Heading(T::Embed),
        Block::Note(T::EmbedHelp),
        Block::View(embed(url, text_of(&l, "url_id").to_owned()).into_any()),
        Block::Heading(T::Funnel),
        Block::View(funnel_view(format!("/v1/payment_links/{id}/stats"), true).into_any()),
        Block::Raw(l),
    ]
}

/// `text` safe inside a double-quoted HTML attribute.
fn attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A snippet of `kind` for the link, with the button options chosen.
fn snippet(
    kind: &str,
    origin: &str,
    url: &str,
    url_id: &str,
    options: &[(&str, String)],
    data: bool,
) -> String {
    let prefix = if data { "data-" } else { "" };
    let options: String = options
        .iter()
        .filter(|(name, value)| !(value.is_empty() || *name == "theme" && value == "light"))
        .map(|(name, value)| format!(" {prefix}{name}=\"{}\"", attr(value)))
        .collect();
    let script = format!("<script src=\"{origin}/till.js\"></script>");
    match kind {
        "element" => format!(
            "{script}\n<till-buy-button link=\"{}\"{options}></till-buy-button>",
            attr(url_id)
        ),
        "anchor" => format!(
            "{script}\n<a class=\"till-button\" href=\"{}\"{options}>Buy now</a>",
            attr(url)
        ),
        "float" => format!(
            "<script src=\"{origin}/till.js\" data-link=\"{}\" data-float=\"right\"{options}></script>",
            attr(url_id)
        ),
        _ => format!(
            "<script src=\"{origin}/till.js\" data-link=\"{}\"{options}></script>",
            attr(url_id)
        ),
    }
}

/// The embed snippets, their options, a copy button and the real button as a preview.
fn embed(url: String, url_id: String) -> impl IntoView {
    let kind = RwSignal::new("script".to_owned());
    let theme = RwSignal::new("light".to_owned());
    let text = RwSignal::new(String::new());
    let color = RwSignal::new(String::new());
    // The account's accent colour is the buttons' colour unless another is chosen.
    spawn_local(async move {
        if let Ok(account) = api::get("/v1/account").await
            && let Some(accent) = account["branding"]["accent_color"].as_str()
            && color.get_untracked().is_empty()
        {
            color.set(accent.to_owned());
        }
    });
    load_loader();
    let origin = window().location().origin().unwrap_or_default();
    let options = move || {
        vec![
            ("theme", theme.get()),
            ("text", text.get().trim().to_owned()),
            ("color", color.get().trim().to_owned()),
        ]
    };
    let code = {
        let (url, url_id) = (url.clone(), url_id.clone());
        Signal::derive(move || {
            let data = kind.get() != "element";
            snippet(&kind.get(), &origin, &url, &url_id, &options(), data)
        })
    };
    let preview = move || {
        snippet("element", "", &url, &url_id, &options(), false)
            .replace("<script src=\"/till.js\"></script>\n", "")
    };
    let select = |id: &'static str,
                  value: RwSignal<String>,
                  label: T,
                  options: Vec<(&'static str, T)>| {
        let options = options
            .into_iter()
            .map(|(v, w)| view! { <option value=v selected=move || value.get() == v>{t(w)}</option> })
            .collect_view();
        view! {
            <div class="field"><label for=id>{t(label)}</label>
                <select id=id on:change=move |e| value.set(event_target_value(&e))>{options}</select></div>
        }
    };
    let copy = move |_| {
        if let Some(window) = web_sys::window() {
            let _ = window
                .navigator()
                .clipboard()
                .write_text(&code.get_untracked());
        }
    };
    view! {
        <div class="form">
            <div class="row">
                {select("embed-kind", kind, T::Embed, vec![("script", T::ScriptTag), ("element", T::CustomElement),
                    ("anchor", T::UpgradedLink), ("float", T::FloatingButton)])}
                {select("embed-theme", theme, T::Theme, vec![("light", T::Light), ("dark", T::Dark), ("auto", T::Auto)])}
            </div>
            <div class="row">
                <div class="field"><label for="embed-text">{t(T::ButtonText)}</label>
                    <input id="embed-text" placeholder="Buy now" bind:value=text/></div>
                <div class="field"><label for="embed-color">{t(T::ButtonColor)}</label>
                    <input id="embed-color" placeholder="#4f46e5" bind:value=color/></div>
            </div>
            <label for="snippet">{t(T::Embed)}</label>
            <textarea id="snippet" readonly=true rows="3" prop:value=move || code.get()></textarea>
            <button type="button" class="secondary" id="copy-snippet" on:click=copy>{move || format!("{}: {}", t(T::Copy), t(T::Embed))}</button>
            <h3>{t(T::Preview)}</h3>
            <div class="preview" id="preview" inner_html=preview></div>
        </div>
    }
}

/// Loads `/till.js` into the dashboard once, for the preview.
fn load_loader() {
    let document = document();
    if document.get_element_by_id("till-loader").is_some() {
        return;
    }
    if let Ok(script) = document.create_element("script") {
        let _ = script.set_attribute("id", "till-loader");
        let _ = script.set_attribute("src", "/till.js");
        if let Some(head) = document.head() {
            let _ = head.append_child(&script);
        }
    }
}
