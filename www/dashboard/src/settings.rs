//! Settings (`PATCH /v1/account`): what failed renewals do, the sites checkouts may return
//! to and be embedded in, and the branding checkout pages, receipts and buttons show.

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::text::{T, t};
use crate::ui::{Block, Form, Kind, Screen, Then, Values, field, text_of};

#[component]
pub fn Settings() -> impl IntoView {
    view! { <Screen path=Signal::derive(|| "/v1/account".to_owned()) blocks=settings/> }
}

fn joined(value: &Value, separator: &str, each: fn(&Value) -> Option<String>) -> String {
    value
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(each)
                .collect::<Vec<_>>()
                .join(separator)
        })
        .unwrap_or_default()
}

fn account_form(
    id: &'static str,
    fields: Vec<crate::ui::Field>,
    body: fn(&Values) -> Result<Value, String>,
) -> Block {
    Block::Form(Form {
        id,
        fields,
        submit: T::Save,
        method: "PATCH",
        path: "/v1/account".into(),
        body,
        then: Then::Refresh,
    })
}

fn settings(a: Value) -> Vec<Block> {
    let hours = joined(&a["subscription_retry_schedule"], ", ", |s| {
        s.as_i64().map(|s| {
            let tenths = s * 10 / 3600;
            if tenths % 10 == 0 {
                (tenths / 10).to_string()
            } else {
                format!("{}.{}", tenths / 10, tenths % 10)
            }
        })
    });
    let hosts = joined(&a["allowed_redirect_hosts"], "\n", |h| {
        h.as_str().map(str::to_owned)
    });
    let brand = &a["branding"];
    vec![
        Block::Title(t(T::Settings).to_owned()),
        Block::Heading(T::Dunning),
        account_form(
            "dunning",
            vec![
                field("schedule", T::RetrySchedule, Kind::Text)
                    .value(hours)
                    .placeholder("24, 72, 168"),
                field(
                    "final_state",
                    T::FinalState,
                    Kind::Choose(vec![("UNPAID", T::Unpaid), ("CANCELED", T::Canceled)]),
                )
                .value(text_of(&a, "subscription_final_state")),
            ],
            |v| {
                let seconds = v
                    .get("schedule")
                    .split(',')
                    .map(|h| {
                        let h = h.trim();
                        let (whole, tenth) = h.split_once('.').unwrap_or((h, "0"));
                        let whole: i64 =
                            whole.parse().map_err(|_| t(T::RetrySchedule).to_owned())?;
                        let tenth: i64 = tenth
                            .get(..1)
                            .unwrap_or("0")
                            .parse()
                            .map_err(|_| t(T::RetrySchedule).to_owned())?;
                        Ok(whole * 3600 + tenth * 360)
                    })
                    .collect::<Result<Vec<i64>, String>>()?;
                Ok(
                    json!({ "subscription_retry_schedule": seconds, "subscription_final_state": v.get("final_state") }),
                )
            },
        ),
        Block::Heading(T::RedirectHosts),
        account_form(
            "hosts",
            vec![
                field("hosts", T::RedirectHosts, Kind::Lines)
                    .value(hosts)
                    .hint(T::RedirectHostsHelp),
            ],
            |v| {
                let list: Vec<String> = v
                    .get("hosts")
                    .lines()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
                    .collect();
                Ok(json!({ "allowed_redirect_hosts": list }))
            },
        ),
        Block::Heading(T::Branding),
        Block::Note(T::BrandingHelp),
        account_form(
            "branding",
            vec![
                field("display_name", T::DisplayName, Kind::Text)
                    .value(text_of(brand, "display_name")),
                field("logo_url", T::LogoUrl, Kind::Url)
                    .value(text_of(brand, "logo_url"))
                    .placeholder("https://…/logo.png"),
                field("accent_color", T::AccentColor, Kind::Text)
                    .value(text_of(brand, "accent_color"))
                    .placeholder("#4f46e5"),
            ],
            |v| {
                Ok(json!({ "branding": {
                    "display_name": v.some("display_name"),
                    "logo_url": v.some("logo_url"),
                    "accent_color": v.some("accent_color"),
                } }))
            },
        ),
    ]
}
