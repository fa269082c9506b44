//! Developers: the publishable key, rolling the secret key (the new one shown once),
//! webhook endpoints (the signing secret shown once, enable / disable, deliveries with
//! every attempt, send again), events with their JSON, and test clocks in test mode.

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::api::encode;
use crate::text::{T, t};
use crate::ui::{
    self, Act, Block, Column, Form, Kind, List, RowAction, Screen, Then, act, column, field,
    text_of,
};
use crate::{route_id, test_mode};

#[component]
pub fn Developers() -> impl IntoView {
    view! {
        <Screen path=Signal::derive(|| "/v1/account".to_owned()) blocks=developers/>
    }
}

fn developers(account: Value) -> Vec<Block> {
    let key = text_of(&account, "publishable_key").to_owned();
    let mut blocks = vec![
        Block::Title(t(T::Developers).to_owned()),
        Block::Heading(T::Keys),
    ];
    if !key.is_empty() {
        blocks.push(Block::Copy(key, T::PublishableKey, "publishable-key"));
    }
    blocks.extend([
        Block::Note(T::RollKeyWarn),
        Block::Form(Form {
            id: "roll-key",
            fields: Vec::new(),
            submit: T::RollKey,
            method: "POST",
            path: "/v1/account/roll_key".into(),
            body: |_| {
                if window()
                    .confirm_with_message(t(T::RollKeyWarn))
                    .unwrap_or(false)
                {
                    Ok(json!({}))
                } else {
                    Err(t(T::Canceled).to_owned())
                }
            },
            then: Then::ShowOnce("secret_key", T::SecretKey),
        }),
        Block::Heading(T::Webhooks),
        Block::List(
            List::new("endpoints", "/v1/webhook_endpoints", endpoint_columns())
                .linked(|e| format!("/dashboard/webhooks/{}", text_of(e, "id"))),
        ),
        Block::Heading(T::NewEndpoint),
        Block::Form(Form {
            id: "endpoint",
            fields: vec![
                field("url", T::Url, Kind::Url)
                    .required()
                    .placeholder("https://shop.example.com/webhooks/till"),
                field("events", T::EventTypes, Kind::Text).value("*"),
            ],
            submit: T::Create,
            method: "POST",
            path: "/v1/webhook_endpoints".into(),
            body: |v| {
                let events: Vec<String> = v
                    .get("events")
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                Ok(json!({ "url": v.get("url"), "enabled_events": events }))
            },
            then: Then::ShowOnce("secret", T::SigningSecret),
        }),
        Block::Heading(T::Events),
        Block::Link(
            "/dashboard/events".into(),
            t(T::Events).to_owned(),
            "events-link",
        ),
    ]);
    if test_mode() {
        blocks.extend(clocks());
    }
    blocks
}

fn endpoint_columns() -> Vec<Column> {
    vec![
        column(T::Url, |e| text_of(e, "url").to_owned()),
        column(T::EventTypes, |e| {
            e["enabled_events"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        }),
        column(T::Status, |e| {
            t(if text_of(e, "status") == "enabled" {
                T::Enabled
            } else {
                T::Disabled
            })
            .to_owned()
        }),
    ]
}

fn attempts(d: &Value) -> String {
    d["attempts"]
        .as_array()
        .map(|attempts| {
            attempts
                .iter()
                .map(|a| {
                    let code = a["status_code"]
                        .as_i64()
                        .map_or_else(|| text_of(a, "error").to_owned(), |c| c.to_string());
                    format!(
                        "{} → {code} ({} ms)",
                        ui::when(&a["at"]),
                        ui::count_of(a, "duration_ms")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

#[component]
pub fn Endpoint() -> impl IntoView {
    let id = route_id();
    view! {
        <Screen path=Signal::derive(move || format!("/v1/webhook_endpoints/{}", id.get()))
            back=("/dashboard/developers", T::Developers) blocks=endpoint/>
    }
}

fn endpoint(e: Value) -> Vec<Block> {
    let id = text_of(&e, "id").to_owned();
    let enabled = text_of(&e, "status") == "enabled";
    vec![
        Block::Title(text_of(&e, "url").to_owned()),
        Block::Facts(vec![
            (
                T::Status,
                t(if enabled { T::Enabled } else { T::Disabled }).to_owned(),
            ),
            (T::Created, ui::when(&e["created_at"])),
        ]),
        Block::Buttons(vec![act(
            "toggle-endpoint",
            if enabled { T::Disable } else { T::Enable },
            "PATCH",
            format!("/v1/webhook_endpoints/{id}"),
            json!({ "enabled": !enabled }),
        )]),
        Block::Heading(T::Deliveries),
        Block::List(
            List::new(
                "deliveries",
                format!("/v1/webhook_endpoints/{id}/deliveries"),
                vec![
                    column(T::EventType, |d| text_of(d, "event_type").to_owned()),
                    column(T::Status, |d| text_of(d, "status").to_owned()),
                    column(T::Attempts, attempts),
                    column(T::Created, |d| ui::when(&d["created_at"])),
                ],
            )
            .linked(|d| format!("/dashboard/events/{}", text_of(d, "event_id"))),
        ),
        Block::Raw(e),
    ]
}

#[component]
pub fn Events() -> impl IntoView {
    let kind = RwSignal::new(String::new());
    view! {
        <p><a href="/dashboard/developers">{t(T::Developers)}</a></p>
        <h1>{t(T::Events)}</h1>
        {ui::filter_form(
            vec![field("type", T::EventType, Kind::Text).placeholder("payment.refunded")],
            move |v| kind.set(v.get("type")),
        )}
        {move || {
            let path = match kind.get().as_str() {
                "" => "/v1/events".to_owned(),
                kind => format!("/v1/events?type={}", encode(kind)),
            };
            ui::page(vec![Block::List(
                List::new("events", path, vec![
                    column(T::EventType, |e| text_of(e, "type").to_owned()),
                    column(T::Created, |e| ui::when(&e["created"])),
                ])
                .linked(|e| format!("/dashboard/events/{}", text_of(e, "id"))),
            )])
        }}
    }
}

#[component]
pub fn Event() -> impl IntoView {
    let id = route_id();
    view! {
        <Screen path=Signal::derive(move || format!("/v1/events/{}", id.get()))
            back=("/dashboard/events", T::Events) blocks=event/>
    }
}

fn event(e: Value) -> Vec<Block> {
    let id = text_of(&e, "id").to_owned();
    let mut blocks = vec![
        Block::Title(text_of(&e, "type").to_owned()),
        Block::Facts(vec![(T::Created, ui::when(&e["created"]))]),
        Block::Heading(T::Deliveries),
    ];
    let mut replays: Vec<Act> = Vec::new();
    let mut rows = Vec::new();
    for d in e["deliveries"].as_array().into_iter().flatten() {
        let endpoint = text_of(d, "endpoint_id").to_owned();
        rows.push((
            T::Webhooks,
            format!("{endpoint}: {} — {}", text_of(d, "status"), attempts(d)),
        ));
        let mut replay = act(
            "replay",
            T::Replay,
            "POST",
            format!("/v1/events/{id}/replay"),
            json!({ "endpoint_id": endpoint }),
        );
        replay.then = Then::Refresh;
        replays.push(replay);
    }
    blocks.push(Block::Facts(rows));
    blocks.push(Block::Buttons(replays));
    blocks.push(Block::Raw(e["data"].clone()));
    blocks
}

/// `datetime-local` gives `2026-12-03T10:00`; the API takes RFC 3339.
fn rfc3339(local: String) -> String {
    if local.len() == 16 {
        format!("{local}:00Z")
    } else {
        local
    }
}

fn clocks() -> Vec<Block> {
    vec![
        Block::Heading(T::TestClocks),
        Block::List(
            List::new(
                "clocks",
                "/v1/test_clocks",
                vec![
                    column(T::TestClocks, |c| text_of(c, "id").to_owned()),
                    column(T::FrozenTime, |c| ui::when(&c["frozen_time"])),
                    column(T::Status, |c| text_of(c, "status").to_owned()),
                ],
            )
            .acting(RowAction {
                label: T::Remove,
                method: "DELETE",
                path: |c| Some(format!("/v1/test_clocks/{}", text_of(c, "id"))),
            }),
        ),
        Block::Form(Form {
            id: "clock",
            fields: vec![field("frozen_time", T::FrozenTime, Kind::DateTime).required()],
            submit: T::NewClock,
            method: "POST",
            path: "/v1/test_clocks".into(),
            body: |v| Ok(json!({ "frozen_time": rfc3339(v.get("frozen_time")) })),
            then: Then::Refresh,
        }),
        Block::Form(Form {
            id: "advance",
            fields: vec![
                field("clock", T::TestClocks, Kind::Text)
                    .required()
                    .placeholder("clock_…"),
                field("frozen_time", T::Advance, Kind::DateTime).required(),
            ],
            submit: T::Advance,
            method: "POST",
            // The clock's own path, named by the body (`__path`).
            path: String::new(),
            body: |v| {
                Ok(
                    json!({ "frozen_time": rfc3339(v.get("frozen_time")), "__path": format!("/v1/test_clocks/{}/advance", encode(&v.get("clock"))) }),
                )
            },
            then: Then::Refresh,
        }),
    ]
}
