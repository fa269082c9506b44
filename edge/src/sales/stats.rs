//! Funnels: views → checkout sessions → paid, and revenue per currency, for one payment
//! link (`GET /v1/payment_links/{id}/stats`) or the whole environment (`GET /v1/stats`),
//! by UTC day or by `utm_source`. Views come from `link_view_days`, sessions and sales
//! (`paid`: completed checkouts) from `checkout_sessions`, revenue (gross, before refunds)
//! from `payments`: every payment, so the environment's also counts subscription renewals,
//! which are not checkouts.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use till_shared::stats::{Funnel, Range, top_sources};
use till_shared::visit::source_of;

use crate::api::call::Call;
use crate::api::reply::Reply;
use crate::db::{self, Sql};
use crate::error::{ApiError, ApiResult};
use crate::links::payment_links;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Grouping {
    Day,
    Source,
}

#[derive(Deserialize)]
struct Count {
    k: Option<String>,
    n: i64,
}

#[derive(Deserialize)]
struct Money {
    k: Option<String>,
    currency: String,
    amount: i64,
}

/// `GET /v1/payment_links/{id}/stats`.
pub async fn of_link(call: &mut Call<'_>) -> ApiResult<Reply> {
    let link = payment_links::load(call, call.id()?).await?;
    funnel(call, Some(link.id)).await
}

/// `GET /v1/stats`: every link and checkout of the environment.
pub async fn of_account(call: &mut Call<'_>) -> ApiResult<Reply> {
    funnel(call, None).await
}

async fn funnel(call: &Call<'_>, link: Option<String>) -> ApiResult<Reply> {
    let range = Range::read(call.query("from"), call.query("to"), db::now_unix())
        .map_err(|e| ApiError::invalid(e.0, e.1))?;
    let grouping = match call.query("group_by").unwrap_or("day") {
        "day" => Grouping::Day,
        "utm_source" => Grouping::Source,
        _ => {
            return Err(ApiError::invalid(
                "group_by",
                "`group_by` is `day` or `utm_source`.",
            ));
        }
    };
    let principal = call.principal()?;
    let db = db::db(call.ctx)?;
    let mut prepared = Vec::with_capacity(4);
    for (i, sql) in statements(grouping, &range, link.is_some())
        .into_iter()
        .enumerate()
    {
        let sql = sql.bind("link", link.as_deref()).scoped(principal);
        let sql = if i == 0 {
            sql
        } else {
            sql.bind("start", range.start()).bind("end", range.end())
        };
        prepared.push(sql.prepare(&db)?);
    }
    let results = db.batch(prepared).await?;
    let counts = [
        results[0].results::<Count>()?,
        results[1].results::<Count>()?,
        results[2].results::<Count>()?,
    ];
    let rows = add_up(grouping, &range, counts, results[3].results()?);
    let mut totals = Funnel::default();
    for row in rows.values() {
        totals.add(row);
    }
    let (name, data) = match grouping {
        Grouping::Day => ("day", rows.into_iter().collect::<Vec<_>>()),
        Grouping::Source => ("utm_source", top_sources(rows)),
    };
    let data: Vec<Value> = data
        .into_iter()
        .map(|(key, row)| {
            let mut value = render(&row);
            value[name] = json!(key);
            value
        })
        .collect();
    Ok(Reply::ok(json!({
        "object": "stats",
        "payment_link": link,
        "from": till_shared::stats::day_name(range.first),
        "to": till_shared::stats::day_name(range.last),
        "group_by": name,
        "totals": render(&totals),
        "data": data,
    })))
}

/// The four reads, keyed by day or source: views, sessions, completed checkouts, and
/// payments per currency. `:link` is bound (maybe to NULL) by the caller, and `:start` /
/// `:end` on all but the first.
fn statements(grouping: Grouping, range: &Range, of_one_link: bool) -> Vec<Sql> {
    let key = |time: &str| match grouping {
        Grouping::Day => format!("date({time}, 'unixepoch')"),
        Grouping::Source => "json_extract(utm, '$.utm_source')".to_owned(),
    };
    let of_link = if of_one_link {
        "payment_link_id = :link"
    } else {
        ":link IS NULL"
    };
    let views_key = match grouping {
        Grouping::Day => "v.day",
        Grouping::Source => "v.source",
    };
    vec![
        Sql::new(&format!(
            "SELECT {views_key} AS k, sum(v.views) AS n
             FROM link_view_days v JOIN payment_links l ON l.id = v.payment_link_id
             WHERE l.account_id = :account AND l.environment = :environment
               AND (:link IS NULL OR v.payment_link_id = :link)
               AND v.day BETWEEN :first AND :last
             GROUP BY k"
        ))
        .bind("first", till_shared::stats::day_name(range.first))
        .bind("last", till_shared::stats::day_name(range.last)),
        Sql::new(&format!(
            "SELECT {} AS k, count(*) AS n FROM checkout_sessions
             WHERE account_id = :account AND environment = :environment AND {of_link}
               AND created_at >= :start AND created_at < :end
             GROUP BY k",
            key("created_at")
        )),
        Sql::new(&format!(
            "SELECT {} AS k, count(*) AS n FROM checkout_sessions
             WHERE account_id = :account AND environment = :environment AND {of_link}
               AND status = 'COMPLETE' AND completed_at >= :start AND completed_at < :end
             GROUP BY k",
            key("completed_at")
        )),
        Sql::new(&format!(
            "SELECT {} AS k, p.currency, sum(p.amount) AS amount
             FROM payments_view p LEFT JOIN checkout_sessions s ON s.id = p.checkout_session_id
             WHERE p.account_id = :account AND p.environment = :environment
               AND (:link IS NULL OR p.payment_link_id = :link)
               AND p.created_at >= :start AND p.created_at < :end
             GROUP BY k, p.currency",
            match grouping {
                Grouping::Day => "date(p.created_at, 'unixepoch')",
                Grouping::Source => "json_extract(s.utm, '$.utm_source')",
            }
        )),
    ]
}

/// The rows of the answer: every day of the range (or each source seen), with what each
/// read counted for it.
fn add_up(
    grouping: Grouping,
    range: &Range,
    counts: [Vec<Count>; 3],
    money: Vec<Money>,
) -> BTreeMap<String, Funnel> {
    // Views were counted under their normalised source (`~other` past a day's cap);
    // sessions and sales carry the source as the visit sent it.
    let normal = |k: Option<String>, counted: bool| match grouping {
        Grouping::Day => k.unwrap_or_default(),
        Grouping::Source if counted => k.unwrap_or_default(),
        Grouping::Source => source_of(k.as_deref()),
    };
    let mut rows: BTreeMap<String, Funnel> = BTreeMap::new();
    if grouping == Grouping::Day {
        for day in range.days() {
            rows.insert(day, Funnel::default());
        }
    }
    for (step, counted) in counts.into_iter().enumerate() {
        for count in counted {
            let row = rows.entry(normal(count.k, step == 0)).or_default();
            match step {
                0 => row.views += count.n,
                1 => row.sessions += count.n,
                _ => row.paid += count.n,
            }
        }
    }
    for paid in money {
        *rows
            .entry(normal(paid.k, false))
            .or_default()
            .revenue
            .entry(paid.currency)
            .or_default() += paid.amount;
    }
    rows
}

fn render(funnel: &Funnel) -> Value {
    json!({
        "views": funnel.views,
        "sessions": funnel.sessions,
        "paid": funnel.paid,
        "conversion": funnel.conversion(),
        "revenue": funnel
            .revenue
            .iter()
            .map(|(currency, amount)| json!({"currency": currency, "amount": amount}))
            .collect::<Vec<_>>(),
    })
}
