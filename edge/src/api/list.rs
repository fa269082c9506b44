//! Lists: paging by cursor or by page number, filters, and the list envelope every list
//! answers with.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use till_shared::time::parse_request_time;
use worker::wasm_bindgen::JsValue;

use crate::api::call::Call;
use crate::db::{Bind, Principal, Sql, db, find};
use crate::error::{ApiError, ApiResult};

/// How a list is paged: by cursor (`limit`, `starting_after`, `ending_before`), or by page
/// number (`page`, `page_size`) with a total count, as the documents that use each expect.
pub enum Paging {
    Cursor {
        limit: i64,
        starting_after: Option<String>,
        ending_before: Option<String>,
    },
    Page {
        page: i64,
        page_size: i64,
        ascending: bool,
    },
}

impl Paging {
    pub fn from_query(call: &Call) -> ApiResult<Paging> {
        let number = |name: &str, min: i64, max: i64| -> ApiResult<Option<i64>> {
            match call.query(name) {
                None => Ok(None),
                Some(text) => match text.parse::<i64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(ApiError::invalid(
                        name,
                        format!("`{name}` must be a whole number from {min} to {max}."),
                    )),
                },
            }
        };
        let page_size = number("page_size", 1, 100)?.or(number("pageSize", 1, 100)?);
        let page = number("page", 1, 1_000_000)?;
        if page.is_some() || page_size.is_some() {
            let ascending = match call.query("order") {
                None => false,
                Some(order) => match order.to_ascii_lowercase().as_str() {
                    "asc" | "created_at:asc" | "chronological" => true,
                    "desc" | "created_at:desc" | "reverse_chronological" => false,
                    _ => {
                        return Err(ApiError::invalid(
                            "order",
                            "`order` must be `asc` or `desc`.",
                        ));
                    }
                },
            };
            return Ok(Paging::Page {
                page: page.unwrap_or(1),
                page_size: page_size.unwrap_or(10),
                ascending,
            });
        }
        let starting_after = call.query("starting_after").map(str::to_owned);
        let ending_before = call.query("ending_before").map(str::to_owned);
        if starting_after.is_some() && ending_before.is_some() {
            return Err(ApiError::invalid(
                "ending_before",
                "Send `starting_after` or `ending_before`, not both.",
            ));
        }
        Ok(Paging::Cursor {
            limit: number("limit", 1, 100)?.unwrap_or(20),
            starting_after,
            ending_before,
        })
    }
}

/// A filter on a list: a SQL condition with at most one named parameter, and its value.
pub struct Filter {
    condition: &'static str,
    value: Option<JsValue>,
}

impl Filter {
    /// A condition on one value (`"product_id = :product"`); the names of one list's
    /// filters differ from each other and from `:account`, `:environment` and `:seq`.
    pub fn eq(condition: &'static str, value: impl Bind) -> Filter {
        Filter {
            condition,
            value: Some(value.js()),
        }
    }

    /// A condition on the rows alone (`"deleted = 0"`).
    pub fn always(condition: &'static str) -> Filter {
        Filter {
            condition,
            value: None,
        }
    }

    /// `?active=true|false`, which every list accepts.
    pub fn active(call: &Call<'_>) -> Option<Filter> {
        call.query("active")
            .map(|active| Filter::eq("active = :active", active == "true"))
    }

    /// The parameter's name, as the condition writes it.
    fn name(&self) -> &str {
        let after = self.condition.split_once(':').map_or("", |(_, rest)| rest);
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        &after[..end]
    }
}

/// `created_gte` / `created_lte` (ISO 8601 or Unix seconds), which every list of things
/// that happened accepts.
pub fn created_range(call: &Call<'_>) -> ApiResult<Vec<Filter>> {
    let mut filters = Vec::new();
    for (name, condition) in [
        ("created_gte", "created_at >= :created_gte"),
        ("created_lte", "created_at <= :created_lte"),
    ] {
        if let Some(text) = call.query(name) {
            let at = parse_request_time(&Value::String(text.to_owned()))
                .map_err(|e| ApiError::invalid(name, e.to_string()))?;
            filters.push(Filter::eq(condition, at));
        }
    }
    Ok(filters)
}

/// `sql` with the scope and every filter bound.
fn bound(sql: &str, principal: &Principal, filters: &[Filter]) -> Sql {
    filters.iter().fold(
        Sql::new(sql).scoped(principal),
        |sql, filter| match &filter.value {
            Some(value) => sql.bind(filter.name(), value.clone()),
            None => sql,
        },
    )
}

/// The rows a page reads: its conditions and values past the scope and filters, the
/// order, how many, from where, and whether to turn the rows around afterwards (a page
/// read backwards from `ending_before`).
struct Window {
    after: Option<(&'static str, i64)>,
    order: &'static str,
    limit: i64,
    offset: i64,
    reverse: bool,
}

impl Window {
    async fn of(call: &Call<'_>, view: &'static str, paging: &Paging) -> ApiResult<Window> {
        match paging {
            Paging::Cursor {
                limit,
                starting_after,
                ending_before,
            } => {
                let (cursor, forward) = match (starting_after, ending_before) {
                    (Some(id), _) => (Some((id, "starting_after")), true),
                    (_, Some(id)) => (Some((id, "ending_before")), false),
                    _ => (None, true),
                };
                let after = match cursor {
                    Some((id, param)) => {
                        let seq = seq_of(call, view, id, param).await?;
                        Some((if forward { "seq < :seq" } else { "seq > :seq" }, seq))
                    }
                    None => None,
                };
                Ok(Window {
                    after,
                    order: if forward { "seq DESC" } else { "seq ASC" },
                    limit: *limit,
                    offset: 0,
                    reverse: !forward,
                })
            }
            Paging::Page {
                page,
                page_size,
                ascending,
            } => Ok(Window {
                after: None,
                order: if *ascending { "seq ASC" } else { "seq DESC" },
                limit: *page_size,
                offset: (page - 1) * page_size,
                reverse: false,
            }),
        }
    }
}

/// Where a cursor's row stands in the list.
async fn seq_of(call: &Call<'_>, view: &'static str, id: &str, param: &str) -> ApiResult<i64> {
    #[derive(serde::Deserialize)]
    struct At {
        seq: i64,
    }
    let at: At = find(call.ctx, view, call.principal()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("object", id, Some(param)))?;
    Ok(at.seq)
}

/// One page of rows of `view` (a `*_view` with a `seq` column) in the caller's scope,
/// newest first (or as `Paging` says), rendered as the list object:
/// `{"object":"list","data","has_more"}` (+ `count`, `page`, `page_size`, `list` in page
/// mode).
pub async fn list<T: DeserializeOwned>(
    call: &Call<'_>,
    view: &'static str,
    filters: Vec<Filter>,
    render: impl Fn(T) -> ApiResult<Value>,
) -> ApiResult<Value> {
    let principal = call.principal()?;
    let paging = Paging::from_query(call)?;
    let db = db(call.ctx)?;
    let scope = std::iter::once("account_id = :account AND environment = :environment")
        .chain(filters.iter().map(|f| f.condition))
        .collect::<Vec<_>>()
        .join(" AND ");
    let window = Window::of(call, view, &paging).await?;
    let after = window
        .after
        .map(|(condition, _)| format!(" AND {condition}"));
    let sql = format!(
        "SELECT * FROM {view} WHERE {scope}{} ORDER BY {} LIMIT {} OFFSET {}",
        after.unwrap_or_default(),
        window.order,
        window.limit + 1,
        window.offset,
    );
    let mut page = bound(&sql, principal, &filters);
    if let Some((_, seq)) = window.after {
        page = page.bind("seq", seq);
    }
    let mut rows: Vec<T> = page.prepare(&db)?.all().await?.results()?;
    let has_more = rows.len() as i64 > window.limit;
    rows.truncate(usize::try_from(window.limit).unwrap_or(0));
    if window.reverse {
        rows.reverse();
    }
    let data = rows
        .into_iter()
        .map(render)
        .collect::<ApiResult<Vec<Value>>>()?;
    let mut body = json!({ "object": "list", "data": data, "has_more": has_more });
    if let Paging::Page {
        page, page_size, ..
    } = paging
    {
        #[derive(serde::Deserialize)]
        struct Count {
            n: i64,
        }
        let sql = format!("SELECT count(*) AS n FROM {view} WHERE {scope}");
        let count: Option<Count> = bound(&sql, principal, &filters)
            .prepare(&db)?
            .first(None)
            .await?;
        body["count"] = json!(count.map_or(0, |c| c.n));
        body["page"] = json!(page);
        body["page_size"] = json!(page_size);
        // The payment-links SDK document reads `list`; it is the same array.
        body["list"] = body["data"].clone();
    }
    Ok(body)
}

/// A PATCH of `metadata`: replaced when sent, cleared when sent as null, kept otherwise.
/// Answers the text to store.
pub fn patch_metadata(
    p: &mut till_shared::params::Params,
    stored: Option<&str>,
) -> ApiResult<Option<String>> {
    Ok(match p.patch("metadata", |p, f| p.metadata(f))? {
        Some(new) => new.map(|m| Value::Object(m).to_string()),
        None => stored.map(str::to_owned),
    })
}
