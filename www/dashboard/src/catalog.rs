//! Products with their prices, and promotion codes.

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::route_id;
use crate::text::{T, t};
use crate::ui::{
    self, Block, Column, Form, Kind, List, RowAction, Screen, Then, Values, act, column, field,
    text_of,
};

pub fn price_text(price: &Value) -> String {
    let amount = ui::money_of(price, "amount", "currency");
    match price["recurring"]["interval"].as_str() {
        Some(interval) => match price["recurring"]["interval_count"].as_i64().unwrap_or(1) {
            1 => format!("{amount} / {interval}"),
            n => format!("{amount} / {n} {interval}s"),
        },
        None => amount,
    }
}

pub fn active_word(value: &Value) -> String {
    t(if value["active"].as_bool().unwrap_or(false) {
        T::Active
    } else {
        T::Inactive
    })
    .to_owned()
}

fn product_columns() -> Vec<Column> {
    vec![
        column(T::Name, |p| text_of(p, "name").to_owned()),
        column(T::Price, |p| price_text(&p["default_price"])),
        column(T::Status, active_word),
        column(T::Created, |p| ui::when(&p["created_at"])),
    ]
}

#[component]
pub fn Products() -> impl IntoView {
    ui::page(vec![
        Block::Title(t(T::Products).to_owned()),
        Block::Link(
            "/dashboard/products/new".into(),
            t(T::NewProduct).to_owned(),
            "new-product",
        ),
        Block::List(
            List::new("products", "/v1/products", product_columns())
                .linked(|p| format!("/dashboard/products/{}", text_of(p, "id"))),
        ),
    ])
}

pub fn intervals() -> Kind {
    Kind::Choose(vec![
        ("month", T::Month),
        ("year", T::Year),
        ("week", T::Week),
        ("day", T::Day),
    ])
}

fn amount_of(v: &Values, field: &str, currency: &str) -> Result<i64, String> {
    ui::minor_units(&v.get(field), &v.get(currency))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{}: “{}”", t(T::Amount), v.get(field)))
}

#[component]
pub fn NewProduct() -> impl IntoView {
    ui::page(vec![
        Block::Title(t(T::NewProduct).to_owned()),
        Block::Form(Form {
            id: "product",
            fields: vec![
                field("name", T::Name, Kind::Text).required(),
                field("description", T::Description, Kind::Lines),
                field("amount", T::Amount, Kind::Text)
                    .required()
                    .placeholder("590"),
                field("currency", T::Currency, Kind::Currency).value("TWD"),
                field(
                    "type",
                    T::PriceType,
                    Kind::Choose(vec![("one_time", T::OneTime), ("recurring", T::Recurring)]),
                ),
                field("interval", T::Interval, intervals()).when("type", "recurring"),
            ],
            submit: T::Create,
            method: "POST",
            path: "/v1/products".into(),
            body: |v| {
                let mut price = json!({ "amount": amount_of(v, "amount", "currency")?, "currency": v.get("currency") });
                if v.get("type") == "recurring" {
                    price["type"] = json!("recurring");
                    price["interval"] = json!(v.get("interval"));
                }
                let mut body = json!({ "name": v.get("name"), "price": price });
                if let Some(description) = v.some("description") {
                    body["description"] = json!(description);
                }
                Ok(body)
            },
            then: Then::Go(|p| format!("/dashboard/products/{}", text_of(p, "id"))),
        }),
    ])
}

#[component]
pub fn Product() -> impl IntoView {
    let id = route_id();
    view! {
        <Screen path=Signal::derive(move || format!("/v1/products/{}", id.get()))
            back=("/dashboard/products", T::Products) blocks=product/>
    }
}

fn product(p: Value) -> Vec<Block> {
    let id = text_of(&p, "id").to_owned();
    let active = p["active"].as_bool().unwrap_or(false);
    let path = format!("/v1/products/{id}");
    vec![
        Block::Title(text_of(&p, "name").to_owned()),
        Block::Facts(vec![
            (T::Price, price_text(&p["default_price"])),
            (T::Status, active_word(&p)),
            (T::Created, ui::when(&p["created_at"])),
        ]),
        Block::Buttons(vec![act(
            "toggle-product",
            if active { T::Archive } else { T::Activate },
            "PATCH",
            path.clone(),
            json!({ "active": !active }),
        )]),
        Block::Heading(T::EditProduct),
        Block::Form(Form {
            id: "edit-product",
            fields: vec![
                field("name", T::Name, Kind::Text)
                    .required()
                    .value(text_of(&p, "name")),
                field("description", T::Description, Kind::Lines).value(text_of(&p, "description")),
            ],
            submit: T::Save,
            method: "PATCH",
            path,
            body: |v| Ok(json!({ "name": v.get("name"), "description": v.get("description") })),
            then: Then::Refresh,
        }),
        Block::Heading(T::Price),
        Block::List(List::new(
            "prices",
            format!("/v1/prices?product={id}"),
            vec![
                column(T::Price, price_text),
                column(T::Status, active_word),
                column(T::Created, |p| ui::when(&p["created_at"])),
            ],
        )),
        Block::Raw(p),
    ]
}

fn code_columns() -> Vec<Column> {
    vec![
        column(T::Code, |c| text_of(c, "code").to_owned()),
        column(T::Discount, |c| match c["percent_off"].as_i64() {
            Some(p) => format!("{p}%"),
            None => ui::money_of(c, "amount_off", "currency"),
        }),
        column(T::Redemptions, |c| {
            let used = c["times_redeemed"].as_i64().unwrap_or(0);
            match c["max_redemptions"].as_i64() {
                Some(max) => format!("{used} / {max}"),
                None => used.to_string(),
            }
        }),
        column(T::Status, active_word),
        column(T::Created, |c| ui::when(&c["created_at"])),
    ]
}

#[component]
pub fn PromotionCodes() -> impl IntoView {
    ui::page(vec![
        Block::Title(t(T::PromotionCodes).to_owned()),
        Block::List(
            List::new("codes", "/v1/promotion_codes", code_columns()).acting(RowAction {
                label: T::Deactivate,
                method: "DELETE",
                path: |c| {
                    c["active"]
                        .as_bool()
                        .unwrap_or(false)
                        .then(|| format!("/v1/promotion_codes/{}", text_of(c, "id")))
                },
            }),
        ),
        Block::Heading(T::NewCode),
        Block::Form(Form {
            id: "code",
            fields: vec![
                field("code", T::Code, Kind::Text)
                    .required()
                    .placeholder("LAUNCH10"),
                field(
                    "off",
                    T::Discount,
                    Kind::Choose(vec![("percent", T::PercentOff), ("amount", T::AmountOff)]),
                ),
                field("percent_off", T::PercentOff, Kind::Number).when("off", "percent"),
                field("amount_off", T::AmountOff, Kind::Text).when("off", "amount"),
                field("currency", T::Currency, Kind::Currency)
                    .value("TWD")
                    .when("off", "amount"),
                field("max_redemptions", T::MaxRedemptions, Kind::Number),
            ],
            submit: T::Create,
            method: "POST",
            path: "/v1/promotion_codes".into(),
            body: |v| {
                let mut body = json!({ "code": v.get("code") });
                if v.get("off") == "amount" {
                    body["amount_off"] = json!(amount_of(v, "amount_off", "currency")?);
                    body["currency"] = json!(v.get("currency"));
                } else {
                    body["percent_off"] = json!(
                        v.get("percent_off")
                            .parse::<i64>()
                            .map_err(|_| t(T::PercentOff).to_owned())?
                    );
                }
                if let Some(max) = v.some("max_redemptions") {
                    body["max_redemptions"] = json!(
                        max.parse::<i64>()
                            .map_err(|_| t(T::MaxRedemptions).to_owned())?
                    );
                }
                Ok(body)
            },
            then: Then::Refresh,
        }),
    ])
}
