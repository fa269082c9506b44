//! A funnel's arithmetic: views → checkout sessions → paid, over a range of UTC days, by
//! day or by `utm_source`. The Worker counts; this decides the range and the rates.

use std::collections::BTreeMap;

use time::{Date, Month};

use crate::time::parse_request_time;

/// The longest range one request may ask for, in days.
pub const MAX_DAYS: i64 = 366;
/// The range when none is given: the last 30 days, today included.
pub const DEFAULT_DAYS: i64 = 30;
/// Sources one answer lists; the rest are added up under `~other`.
pub const MAX_SOURCES: usize = 100;

const DAY: i64 = 86_400;
/// The Julian day of 1970-01-01.
const EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// UTC days, both ends included, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub first: i64,
    pub last: i64,
}

/// Why a range was refused: the field, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError(pub &'static str, pub String);

impl Range {
    /// `from` and `to` as `YYYY-MM-DD` (a UTC day), an ISO 8601 time or Unix seconds (its
    /// day); by default the [`DEFAULT_DAYS`] up to today. At most [`MAX_DAYS`] days.
    pub fn read(from: Option<&str>, to: Option<&str>, now: i64) -> Result<Range, RangeError> {
        let read = |field: &'static str, text: Option<&str>| {
            text.map(|text| {
                day_of(text).ok_or_else(|| {
                    RangeError(
                        field,
                        format!("`{field}` must be a day (YYYY-MM-DD) or a time."),
                    )
                })
            })
            .transpose()
        };
        let last = read("to", to)?.unwrap_or(now.div_euclid(DAY));
        let first = read("from", from)?.unwrap_or(last - DEFAULT_DAYS + 1);
        if first > last {
            return Err(RangeError("from", "`from` is after `to`.".into()));
        }
        if last - first + 1 > MAX_DAYS {
            return Err(RangeError(
                "from",
                format!("A range is at most {MAX_DAYS} days."),
            ));
        }
        Ok(Range { first, last })
    }

    /// The range's first second.
    pub fn start(&self) -> i64 {
        self.first * DAY
    }

    /// The second after its last.
    pub fn end(&self) -> i64 {
        (self.last + 1) * DAY
    }

    /// Its days as `YYYY-MM-DD`, in order.
    pub fn days(&self) -> impl Iterator<Item = String> {
        (self.first..=self.last).map(day_name)
    }
}

/// The day (since 1970-01-01) a `YYYY-MM-DD`, an ISO 8601 time or Unix seconds names.
/// (Read and written here rather than through `time`'s format descriptions: those cost the
/// dashboard 3.5 KB and the Worker 7 KB of brotli, against budgets with less to spare.)
pub fn day_of(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-' {
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = text.get(range)?;
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let month = Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
        let date = Date::from_calendar_date(
            i32::try_from(number(0..4)?).ok()?,
            month,
            u8::try_from(number(8..10)?).ok()?,
        )
        .ok()?;
        return Some(i64::from(date.to_julian_day()) - EPOCH_JULIAN_DAY);
    }
    let at = parse_request_time(&serde_json::Value::String(text.to_owned())).ok()?;
    Some(at.div_euclid(DAY))
}

/// `YYYY-MM-DD` of a day since 1970-01-01.
pub fn day_name(day: i64) -> String {
    i32::try_from(day + EPOCH_JULIAN_DAY)
        .ok()
        .and_then(|julian| Date::from_julian_day(julian).ok())
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_default()
}

/// One row of a funnel: what a day, a source or the whole range counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Funnel {
    pub views: i64,
    pub sessions: i64,
    pub paid: i64,
    /// Paid amounts by currency, in minor units.
    pub revenue: BTreeMap<String, i64>,
}

impl Funnel {
    /// Paid per view, to four places; `None` without views.
    pub fn conversion(&self) -> Option<f64> {
        (self.views > 0).then(|| {
            let rate = self.paid as f64 / self.views as f64;
            (rate * 10_000.0).round() / 10_000.0
        })
    }

    pub fn add(&mut self, other: &Funnel) {
        self.views += other.views;
        self.sessions += other.sessions;
        self.paid += other.paid;
        for (currency, amount) in &other.revenue {
            *self.revenue.entry(currency.clone()).or_default() += amount;
        }
    }

    fn weight(&self) -> i64 {
        self.views + self.sessions
    }
}

/// Sources by weight (views + sessions), at most [`MAX_SOURCES`], the rest added up under
/// `~other`.
pub fn top_sources(rows: BTreeMap<String, Funnel>) -> Vec<(String, Funnel)> {
    let mut rows: Vec<(String, Funnel)> = rows.into_iter().collect();
    rows.sort_by(|a, b| b.1.weight().cmp(&a.1.weight()).then(a.0.cmp(&b.0)));
    if rows.len() > MAX_SOURCES {
        let mut other = Funnel::default();
        for (_, row) in rows.drain(MAX_SOURCES - 1..) {
            other.add(&row);
        }
        rows.push(("~other".into(), other));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_256_000; // 2026-12-03T00:00:00Z

    #[test]
    fn days_read_and_name_the_same() {
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(day_of("2026-12-03"), Some(NOW / DAY));
        assert_eq!(day_name(NOW / DAY), "2026-12-03");
        assert_eq!(day_of("2026-12-03T23:59:59Z"), Some(NOW / DAY));
        assert_eq!(day_of("2026-02-30"), None);
        assert_eq!(day_of("2026-1-03x"), None);
        assert_eq!(day_of("+026-12-03"), None);
    }

    #[test]
    fn the_default_range_is_thirty_days_to_today() {
        let range = Range::read(None, None, NOW + 5).unwrap();
        assert_eq!(range.last - range.first + 1, DEFAULT_DAYS);
        assert_eq!(range.days().last().unwrap(), "2026-12-03");
        assert_eq!(range.end(), NOW + DAY);
    }

    #[test]
    fn ranges_are_bounded_and_ordered() {
        assert!(Range::read(Some("2026-12-04"), Some("2026-12-03"), NOW).is_err());
        assert!(Range::read(Some("2025-01-01"), Some("2026-12-03"), NOW).is_err());
        let one = Range::read(Some("2026-12-03"), Some("2026-12-03"), NOW).unwrap();
        assert_eq!(one.days().collect::<Vec<_>>(), ["2026-12-03"]);
        assert_eq!(Range::read(Some("soon"), None, NOW).unwrap_err().0, "from");
    }

    #[test]
    fn conversion_is_paid_per_view() {
        let funnel = Funnel {
            views: 3,
            sessions: 2,
            paid: 1,
            ..Funnel::default()
        };
        assert_eq!(funnel.conversion(), Some(0.3333));
        assert_eq!(Funnel::default().conversion(), None);
    }

    #[test]
    fn sources_past_the_cap_are_added_up() {
        let rows = (0..150)
            .map(|i| {
                (
                    format!("s{i:03}"),
                    Funnel {
                        views: i,
                        ..Funnel::default()
                    },
                )
            })
            .collect();
        let top = top_sources(rows);
        assert_eq!(top.len(), MAX_SOURCES);
        assert_eq!(top[0].0, "s149");
        let other = &top.last().unwrap().1;
        assert_eq!(other.views, (0..=50).sum::<i64>());
    }
}
