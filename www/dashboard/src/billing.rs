//! Customers and subscriptions: lists, a customer's page with its subscriptions and
//! payments, a subscription's page with its billing orders, cancel (now or at period end)
//! and retry.

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::api::encode;
use crate::route_id;
use crate::sales::payment_columns;
use crate::text::{T, t};
use crate::ui::{self, Block, Column, Kind, List, Screen, act, column, field, text_of};

fn customer_columns() -> Vec<Column> {
    vec![
        column(T::Customer, |c| text_of(c, "id").to_owned()),
        column(T::Name, |c| text_of(c, "name").to_owned()),
        column(T::Email, |c| text_of(c, "email").to_owned()),
        column(T::Created, |c| ui::when(&c["created_at"])),
    ]
}

fn state_of(s: &Value) -> String {
    let state = text_of(s, "state");
    if s["cancel_at_period_end"].as_bool().unwrap_or(false) {
        format!("{state} → CANCELED")
    } else {
        state.to_owned()
    }
}

fn subscription_columns() -> Vec<Column> {
    vec![
        column(T::Subscriptions, |s| text_of(s, "id").to_owned()),
        column(T::Customer, |s| text_of(s, "customer_id").to_owned()),
        column(T::Amount, |s| {
            format!(
                "{} / {}",
                ui::money_of(s, "amount", "currency"),
                text_of(s, "interval").to_ascii_lowercase()
            )
        }),
        column(T::Status, state_of),
        column(T::NextBilling, |s| ui::when(&s["next_billing_time"])),
    ]
}

#[component]
pub fn Customers() -> impl IntoView {
    ui::page(vec![
        Block::Title(t(T::Customers).to_owned()),
        Block::List(
            List::new("customers", "/v1/customers", customer_columns())
                .linked(|c| format!("/dashboard/customers/{}", encode(text_of(c, "id")))),
        ),
    ])
}

#[component]
pub fn Customer() -> impl IntoView {
    let id = route_id();
    view! {
        <Screen path=Signal::derive(move || format!("/v1/customers/{}", encode(&id.get())))
            back=("/dashboard/customers", T::Customers) blocks=customer/>
    }
}

fn customer(c: Value) -> Vec<Block> {
    let id = encode(text_of(&c, "id"));
    vec![
        Block::Title(format!("{} {}", text_of(&c, "name"), text_of(&c, "id"))),
        Block::Facts(vec![
            (T::Email, text_of(&c, "email").to_owned()),
            (T::Created, ui::when(&c["created_at"])),
        ]),
        Block::Heading(T::Subscriptions),
        Block::List(
            List::new(
                "customer-subscriptions",
                format!("/v1/subscriptions?customer_id={id}"),
                subscription_columns(),
            )
            .linked(|s| format!("/dashboard/subscriptions/{}", text_of(s, "id"))),
        ),
        Block::Heading(T::Payments),
        Block::List(
            List::new(
                "customer-payments",
                format!("/v1/payments?customer_id={id}"),
                payment_columns(),
            )
            .linked(|p| format!("/dashboard/payments/{}", text_of(p, "id"))),
        ),
        Block::Raw(c),
    ]
}

#[component]
pub fn Subscriptions() -> impl IntoView {
    let state = RwSignal::new(String::new());
    let states = field(
        "state",
        T::Status,
        Kind::Choose(vec![
            ("", T::All),
            ("ACTIVE", T::Active),
            ("TRIALING", T::Trialing),
            ("PAST_DUE", T::PastDue),
            ("UNPAID", T::Unpaid),
            ("CANCELED", T::Canceled),
        ]),
    );
    view! {
        <h1>{t(T::Subscriptions)}</h1>
        {ui::filter_form(vec![states], move |v| state.set(v.get("state")))}
        {move || {
            let path = match state.get().as_str() {
                "" => "/v1/subscriptions".to_owned(),
                state => format!("/v1/subscriptions?state={state}"),
            };
            ui::page(vec![Block::List(
                List::new("subscriptions", path, subscription_columns())
                    .linked(|s| format!("/dashboard/subscriptions/{}", text_of(s, "id"))),
            )])
        }}
    }
}

#[component]
pub fn Subscription() -> impl IntoView {
    let id = route_id();
    view! {
        <Screen path=Signal::derive(move || format!("/v1/subscriptions/{}", id.get()))
            back=("/dashboard/subscriptions", T::Subscriptions) blocks=subscription/>
    }
}

fn subscription(s: Value) -> Vec<Block> {
    let id = text_of(&s, "id").to_owned();
    let state = text_of(&s, "state");
    let live = !matches!(state, "CANCELED" | "COMPLETED" | "EXPIRED");
    let ending = s["cancel_at_period_end"].as_bool().unwrap_or(false);
    let mut buttons = Vec::new();
    if live && !ending {
        buttons.push(act(
            "cancel-at-end",
            T::CancelAtEnd,
            "POST",
            format!("/v1/subscriptions/{id}/cancel"),
            json!({ "at_period_end": true }),
        ));
    }
    if live {
        let mut now = act(
            "cancel-now",
            T::CancelNow,
            "POST",
            format!("/v1/subscriptions/{id}/cancel"),
            json!({}),
        );
        now.confirm = Some(T::ConfirmCancel);
        now.danger = true;
        buttons.push(now);
    }
    if matches!(state, "UNPAID" | "INCOMPLETE" | "PAST_DUE") {
        buttons.push(act(
            "retry",
            T::Retry,
            "POST",
            format!("/v1/subscriptions/{id}/retry"),
            json!({}),
        ));
    }
    let customer = text_of(&s, "customer_id").to_owned();
    vec![
        Block::Title(format!("{} · {}", t(T::Subscriptions), state_of(&s))),
        Block::Facts(vec![
            (T::Customer, customer.clone()),
            (
                T::Amount,
                format!(
                    "{} / {} {}",
                    ui::money_of(&s, "amount", "currency"),
                    s["interval_count"].as_i64().unwrap_or(1),
                    text_of(&s, "interval").to_ascii_lowercase()
                ),
            ),
            (T::NextBilling, ui::when(&s["next_billing_time"])),
            (T::Created, ui::when(&s["created_at"])),
        ]),
        Block::Link(
            format!("/dashboard/customers/{}", encode(&customer)),
            t(T::Customer).to_owned(),
            "customer-link",
        ),
        Block::Buttons(buttons),
        Block::Heading(T::BillingOrders),
        Block::List(List::new(
            "billing-orders",
            format!("/v1/subscriptions/{id}/billing_orders"),
            vec![
                column(T::BillingOrders, |b| {
                    format!("#{}", ui::count_of(b, "sequence_no"))
                }),
                column(T::Amount, |b| ui::money_of(b, "amount", "currency")),
                column(T::Status, |b| text_of(b, "status").to_owned()),
                column(T::Attempts, |b| ui::count_of(b, "attempts")),
                column(T::Created, |b| ui::when(&b["billing_time"])),
            ],
        )),
        Block::Raw(s),
    ]
}
