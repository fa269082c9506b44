//! Home: the environment's funnel for the last 7 or 30 days (`GET /v1/stats`) as a chart
//! drawn here in SVG, revenue per currency, and the latest payments. A link's page shows
//! its own funnel the same way, by day or by `utm_source`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;
use till_shared::stats::day_name;

use crate::api;
use crate::sales::payment_columns;
use crate::text::{T, t};
use crate::ui::{self, Block, List, problem, text_of};

#[component]
pub fn Home() -> impl IntoView {
    ui::page(vec![
        Block::Title(t(T::Home).to_owned()),
        Block::View(funnel_view("/v1/stats".into(), false).into_any()),
        Block::Heading(T::LatestPayments),
        Block::List(
            List::new("latest-payments", "/v1/payments", payment_columns())
                .limit(5)
                .linked(|p| format!("/dashboard/payments/{}", text_of(p, "id"))),
        ),
    ])
}

/// The funnel at `path` (`…/stats`): 7 or 30 days, by day, or (`sources`) by
/// `utm_source` too.
pub fn funnel_view(path: String, sources: bool) -> impl IntoView {
    // (days, grouping)
    let choice = RwSignal::new((7_i64, "day"));
    let answer = RwSignal::new(None::<api::Answer>);
    Effect::new(move |_| {
        let (days, by) = choice.get();
        let url = format!(
            "{path}?from={}&group_by={by}",
            day_name(ui::today() - days + 1)
        );
        spawn_local(async move { answer.set(Some(api::get(&url).await)) });
    });
    let tab = move |value: (i64, &'static str), words: T| {
        view! {
            <button type="button" class="tab" aria-pressed=move || (choice.get() == value).to_string()
                on:click=move |_| choice.set(value)>{t(words)}</button>
        }
    };
    let tabs = vec![tab((7, "day"), T::Last7), tab((30, "day"), T::Last30)];
    let tabs = if sources {
        let mut tabs = tabs;
        tabs.push(tab((30, "utm_source"), T::BySource));
        tabs
    } else {
        tabs
    };
    view! {
        <div class="tabs" role="group">{tabs}</div>
        {move || match answer.get() {
            None => view! { <p role="status">{t(T::Loading)}</p> }.into_any(),
            Some(Err(failure)) => problem(Some(failure)).into_any(),
            Some(Ok(stats)) => overview(stats).into_any(),
        }}
    }
}

/// A rate (0.3333) as a percentage to one place (`33.3%`), without float formatting.
fn conversion(value: &Value) -> String {
    value.as_f64().map_or_else(
        || "—".to_owned(),
        |rate| {
            let tenths = (rate * 1000.0).round() as i64;
            format!("{}.{}%", tenths / 10, tenths % 10)
        },
    )
}

fn revenue_of(value: &Value) -> String {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| ui::money_of(r, "amount", "currency"))
                .collect::<Vec<_>>()
                .join(" · ")
        })
        .unwrap_or_default()
}

/// Totals, the chart (by day), a table of every row, revenue per currency.
fn overview(stats: Value) -> impl IntoView {
    let totals = &stats["totals"];
    let by_day = stats["group_by"] == "day";
    let rows = stats["data"].as_array().cloned().unwrap_or_default();
    let card = |id: &'static str, words: T, value: String| {
        view! { <div class="card"><dt>{t(words)}</dt><dd id=id>{value}</dd></div> }
    };
    let revenue = revenue_of(&totals["revenue"]);
    let cards = vec![
        card("funnel-views", T::Views, ui::count_of(totals, "views")),
        card(
            "funnel-sessions",
            T::SessionsWord,
            ui::count_of(totals, "sessions"),
        ),
        card("funnel-paid", T::Paid, ui::count_of(totals, "paid")),
        card(
            "funnel-conversion",
            T::Conversion,
            conversion(&totals["conversion"]),
        ),
        card(
            "funnel-revenue",
            T::Revenue,
            if revenue.is_empty() {
                "—".to_owned()
            } else {
                revenue
            },
        ),
    ];
    let table = rows
        .iter()
        .filter(|r| {
            !by_day || r["views"].as_i64().unwrap_or(0) + r["sessions"].as_i64().unwrap_or(0) > 0
        })
        .map(|r| {
            let key = if by_day {
                text_of(r, "day")
            } else {
                Some(text_of(r, "utm_source"))
                    .filter(|s| !s.is_empty())
                    .unwrap_or(t(T::NoSource))
            };
            view! {
                <tr>
                    <th scope="row">{key.to_owned()}</th>
                    <td>{ui::count_of(r, "views")}</td><td>{ui::count_of(r, "sessions")}</td>
                    <td>{ui::count_of(r, "paid")}</td><td>{conversion(&r["conversion"])}</td>
                    <td>{revenue_of(&r["revenue"])}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <dl class="cards">{cards}</dl>
        {by_day.then(|| chart(&rows))}
        <div class="table" tabindex="0">
            <table>
                <thead><tr>
                    <th scope="col">{t(if by_day { T::Date } else { T::Source })}</th>
                    <th scope="col">{t(T::Views)}</th><th scope="col">{t(T::SessionsWord)}</th>
                    <th scope="col">{t(T::Paid)}</th><th scope="col">{t(T::Conversion)}</th>
                    <th scope="col">{t(T::Revenue)}</th>
                </tr></thead>
                <tbody>{table}</tbody>
            </table>
        </div>
    }
}

/// Bars per day: views (light), checkouts, paid (dark). The numbers are in the table
/// beside it.
fn chart(days: &[Value]) -> AnyView {
    // Whole units: a day is 12 wide, the chart 1200 high.
    const HEIGHT: i64 = 1200;
    let count = |d: &Value, f: &str| d[f].as_i64().unwrap_or(0);
    let top = days
        .iter()
        .map(|d| count(d, "views").max(count(d, "sessions")))
        .max()
        .unwrap_or(0)
        .max(1);
    let width = (days.len() as i64 * 12).max(12);
    let bars = days
        .iter()
        .enumerate()
        .flat_map(|(i, d)| {
            [("views", 1, "v"), ("sessions", 4, "s"), ("paid", 7, "p")].map(|(f, dx, class)| {
                let h = count(d, f) * HEIGHT / top;
                view! {
                    <rect class=class x=(i as i64 * 12 + dx).to_string() y=(HEIGHT - h).to_string()
                        width="3" height=h.to_string()/>
                }
            })
        })
        .collect_view();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {width} {HEIGHT}") preserveAspectRatio="none" role="img"
                aria-label=t(T::ChartTitle)>
                {bars}
            </svg>
            <figcaption>
                <span class="key v">{t(T::Views)}</span>
                <span class="key s">{t(T::SessionsWord)}</span>
                <span class="key p">{t(T::Paid)}</span>
            </figcaption>
        </figure>
    }
    .into_any()
}
