//! Sales: orders and payments with filters, an order's and a payment's page, and refunds
//! (full or partial) from the payment's page.

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::route_id;
use crate::text::{T, t};
use crate::ui::{
    self, Block, Column, Form, Kind, List, Screen, Then, Values, column, field, text_of,
};

pub fn payment_columns() -> Vec<Column> {
    vec![
        column(T::Amount, |p| ui::money_of(p, "amount", "currency")),
        column(T::Status, |p| text_of(p, "status").to_owned()),
        column(T::Refunded, |p| match p["amount_refunded"].as_i64() {
            Some(0) | None => String::new(),
            Some(n) => ui::money(n, text_of(p, "currency")),
        }),
        column(T::Card, |p| {
            format!(
                "{} •••• {}",
                text_of(&p["card"], "brand"),
                text_of(&p["card"], "last4")
            )
        }),
        column(T::Created, |p| ui::when(&p["created_at"])),
    ]
}

fn order_columns() -> Vec<Column> {
    vec![
        column(T::Total, |o| ui::money_of(o, "amount_total", "currency")),
        column(T::Customer, |o| {
            let details = &o["customer_details"];
            [text_of(details, "email"), text_of(details, "name")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · ")
        }),
        column(T::Status, |o| text_of(o, "payment_status").to_owned()),
        column(T::Created, |o| ui::when(&o["created_at"])),
    ]
}

/// The list filters as a query string.
fn query(v: &Values, status: bool) -> String {
    let mut query = Vec::new();
    if status && let Some(status) = v.some("status") {
        query.push(format!("status={status}"));
    }
    if let Some(from) = v.some("from") {
        query.push(format!("created_gte={from}T00:00:00Z"));
    }
    if let Some(to) = v.some("to") {
        query.push(format!("created_lte={to}T23:59:59Z"));
    }
    query.join("&")
}

#[component]
pub fn Sales() -> impl IntoView {
    let filter = RwSignal::new((true, String::new()));
    let filters = move |payments: bool| {
        let mut fields = vec![
            field("from", T::From, Kind::Date),
            field("to", T::To, Kind::Date),
        ];
        if payments {
            fields.insert(
                0,
                field(
                    "status",
                    T::Status,
                    Kind::Choose(vec![
                        ("", T::All),
                        ("SUCCEEDED", T::Paid),
                        ("PARTIALLY_REFUNDED", T::PartlyRefunded),
                        ("REFUNDED", T::Refunded),
                    ]),
                ),
            );
        }
        fields
    };
    let tab = move |payments: bool, words: T| {
        view! {
            <button type="button" class="tab" aria-pressed=move || (filter.get().0 == payments).to_string()
                on:click=move |_| filter.set((payments, String::new()))>{t(words)}</button>
        }
    };
    view! {
        <h1>{t(T::Sales)}</h1>
        <div class="tabs" role="group">{tab(true, T::Payments)}{tab(false, T::Orders)}</div>
        {move || {
            let (payments, applied) = filter.get();
            let base = if payments { "/v1/payments" } else { "/v1/orders" };
            let path = if applied.is_empty() { base.to_owned() } else { format!("{base}?{applied}") };
            let list = if payments {
                List::new("payments", path, payment_columns())
                    .linked(|p| format!("/dashboard/payments/{}", text_of(p, "id")))
            } else {
                List::new("orders", path, order_columns())
                    .linked(|o| format!("/dashboard/orders/{}", text_of(o, "id")))
            };
            ui::page(vec![
                Block::View(ui::filter_form(filters(payments), move |v| {
                    filter.set((payments, query(v, payments)));
                }).into_any()),
                Block::List(list),
            ])
        }}
    }
}

#[component]
pub fn Payment() -> impl IntoView {
    let id = route_id();
    view! {
        <Screen path=Signal::derive(move || format!("/v1/payments/{}", id.get()))
            back=("/dashboard/sales", T::Sales) blocks=payment/>
    }
}

fn payment(p: Value) -> Vec<Block> {
    let id = text_of(&p, "id").to_owned();
    let currency = text_of(&p, "currency").to_owned();
    let left = p["amount"].as_i64().unwrap_or(0) - p["amount_refunded"].as_i64().unwrap_or(0);
    let card = &p["card"];
    let order = text_of(&p, "order_id").to_owned();
    let mut blocks = vec![
        Block::Title(format!(
            "{} · {}",
            ui::money_of(&p, "amount", "currency"),
            text_of(&p, "status")
        )),
        Block::Facts(vec![
            (T::Refunded, ui::money_of(&p, "amount_refunded", "currency")),
            (T::Refundable, ui::money(left, &currency)),
            (
                T::Card,
                format!(
                    "{} •••• {} ({:02}/{})",
                    text_of(card, "brand"),
                    text_of(card, "last4"),
                    card["exp_month"].as_i64().unwrap_or(0),
                    card["exp_year"]
                ),
            ),
            (T::Customer, text_of(&p, "customer_id").to_owned()),
            (T::Created, ui::when(&p["created_at"])),
        ]),
        Block::Link(
            text_of(&p, "receipt_url").to_owned(),
            t(T::Receipt).to_owned(),
            "receipt-link",
        ),
    ];
    if !order.is_empty() {
        blocks.push(Block::Link(
            format!("/dashboard/orders/{order}"),
            t(T::Orders).to_owned(),
            "order-link",
        ));
    }
    blocks.extend([
        Block::Heading(T::Refunds),
        Block::List(List::new(
            "refunds",
            format!("/v1/refunds?payment_id={id}"),
            vec![
                column(T::Amount, |r| ui::money_of(r, "amount", "currency")),
                column(T::Status, |r| text_of(r, "status").to_owned()),
                column(T::Reason, |r| text_of(r, "reason").to_owned()),
                column(T::Created, |r| ui::when(&r["created_at"])),
            ],
        )),
    ]);
    if left > 0 {
        blocks.extend([
            Block::Heading(T::Refund),
            Block::Form(Form {
                id: "refund",
                fields: vec![
                    field("payment_id", T::Payments, Kind::Hidden).value(id),
                    field("currency", T::Currency, Kind::Hidden).value(currency),
                    field("amount", T::RefundAmount, Kind::Text),
                    field(
                        "reason",
                        T::Reason,
                        Kind::Choose(vec![
                            ("", T::NoReason),
                            ("requested_by_customer", T::ReasonRequested),
                            ("duplicate", T::ReasonDuplicate),
                            ("fraudulent", T::ReasonFraud),
                        ]),
                    ),
                ],
                submit: T::Refund,
                method: "POST",
                path: "/v1/refunds".into(),
                body: |v| {
                    let mut body = json!({ "payment_id": v.get("payment_id") });
                    if let Some(amount) = v.some("amount") {
                        body["amount"] = json!(
                            ui::minor_units(&amount, &v.get("currency"))
                                .ok_or_else(|| format!("{}: “{amount}”", t(T::RefundAmount)))?
                        );
                    }
                    if let Some(reason) = v.some("reason") {
                        body["reason"] = json!(reason);
                    }
                    Ok(body)
                },
                then: Then::Refresh,
            }),
        ]);
    }
    blocks.push(Block::Raw(p));
    blocks
}

#[component]
pub fn Order() -> impl IntoView {
    let id = route_id();
    view! {
        <Screen path=Signal::derive(move || format!("/v1/orders/{}", id.get()))
            back=("/dashboard/sales", T::Sales) blocks=order/>
    }
}

fn order(o: Value) -> Vec<Block> {
    let details = &o["customer_details"];
    let mut facts = vec![
        (T::Customer, text_of(details, "name").to_owned()),
        (T::Email, text_of(details, "email").to_owned()),
        (T::Total, ui::money_of(&o, "amount_total", "currency")),
        (
            T::Discount,
            match o["amount_discount"].as_i64() {
                Some(0) | None => String::new(),
                Some(n) => ui::money(n, text_of(&o, "currency")),
            },
        ),
        (T::Refunded, ui::money_of(&o, "amount_refunded", "currency")),
        (T::Status, text_of(&o, "payment_status").to_owned()),
        (T::Created, ui::when(&o["created_at"])),
    ];
    for line in o["line_items"].as_array().into_iter().flatten() {
        let name = [
            text_of(line, "description"),
            text_of(line, "name"),
            text_of(line, "price_id"),
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_default();
        facts.push((
            T::LineItems,
            format!("{name} × {}", line["quantity"].as_i64().unwrap_or(1)),
        ));
    }
    // The shopper's answers to the link's custom fields, by field key.
    let answers = o["custom_fields"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            (T::Answers, format!("{key}: {value}"))
        })
        .collect();
    let payment = text_of(&o, "payment_id").to_owned();
    let mut blocks = vec![
        Block::Title(format!(
            "{} · {}",
            t(T::Orders),
            ui::money_of(&o, "amount_total", "currency")
        )),
        Block::Facts(facts),
        Block::Facts(answers),
    ];
    if !payment.is_empty() {
        blocks.push(Block::Link(
            format!("/dashboard/payments/{payment}"),
            t(T::Payments).to_owned(),
            "payment-link",
        ));
    }
    blocks.push(Block::Raw(o));
    blocks
}
