//! Retry schedules: lists of delays in seconds, for a subscription's dunning (the account
//! setting `subscription_retry_schedule`) and for webhook redelivery (the Worker variable
//! `WEBHOOK_RETRY_SCHEDULE`). One reader and one validator; each use brings its limits.
//!
//! Both are stored and configured as text, seconds separated by commas (`"86400,259200"`);
//! the API sends the dunning schedule as a JSON list.

use serde_json::Value;

/// What a schedule must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleLimits {
    /// At most this many delays (at least one is always needed).
    pub max_entries: usize,
    pub min_delay: i64,
    pub max_delay: i64,
    /// Each delay must be larger than the one before.
    pub increasing: bool,
}

/// The dunning schedule `PATCH /v1/account` accepts: 1–10 delays after a renewal's first
/// failure, increasing (they are measured from the same first failure), each from a minute
/// to 60 days.
pub const DUNNING_LIMITS: ScheduleLimits = ScheduleLimits {
    max_entries: 10,
    min_delay: 60,
    max_delay: 60 * 86_400,
    increasing: true,
};

/// `WEBHOOK_RETRY_SCHEDULE`: any positive delays, in any order (each is a wait after one
/// failed attempt, and the last repeats). Tests run it at one second.
pub const WEBHOOK_LIMITS: ScheduleLimits = ScheduleLimits {
    max_entries: usize::MAX,
    min_delay: 1,
    max_delay: i64::MAX,
    increasing: false,
};

/// Why a schedule was refused; `index` is the offending delay's position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("expected a list of delays in seconds, or seconds separated by commas")]
    NotAList,
    #[error("at least one delay is needed")]
    Empty,
    #[error("{count} delays; at most {max} are allowed")]
    TooMany { count: usize, max: usize },
    #[error("delay {index} is not a whole number of seconds")]
    NotAWholeNumber { index: usize },
    #[error("delay {index} ({delay} s) is outside {min}–{max} seconds")]
    OutOfRange {
        index: usize,
        delay: i64,
        min: i64,
        max: i64,
    },
    #[error("delay {index} is not larger than the one before it")]
    NotIncreasing { index: usize },
}

impl ScheduleError {
    /// The delay the error is about, if it is about one.
    pub const fn index(&self) -> Option<usize> {
        match self {
            ScheduleError::NotAWholeNumber { index }
            | ScheduleError::OutOfRange { index, .. }
            | ScheduleError::NotIncreasing { index } => Some(*index),
            _ => None,
        }
    }
}

/// Checks delays against limits: the count first, then each delay in order.
pub fn validate(delays: &[i64], limits: &ScheduleLimits) -> Result<(), ScheduleError> {
    if delays.is_empty() {
        return Err(ScheduleError::Empty);
    }
    if delays.len() > limits.max_entries {
        return Err(ScheduleError::TooMany {
            count: delays.len(),
            max: limits.max_entries,
        });
    }
    for (index, &delay) in delays.iter().enumerate() {
        if !(limits.min_delay..=limits.max_delay).contains(&delay) {
            return Err(ScheduleError::OutOfRange {
                index,
                delay,
                min: limits.min_delay,
                max: limits.max_delay,
            });
        }
        if limits.increasing && index > 0 && delays[index - 1] >= delay {
            return Err(ScheduleError::NotIncreasing { index });
        }
    }
    Ok(())
}

/// Reads `"60, 300,1800"` (spaces around each delay allowed) and validates it.
pub fn parse_text(text: &str, limits: &ScheduleLimits) -> Result<Vec<i64>, ScheduleError> {
    let delays = text
        .split(',')
        .enumerate()
        .map(|(index, d)| {
            d.trim()
                .parse::<i64>()
                .map_err(|_| ScheduleError::NotAWholeNumber { index })
        })
        .collect::<Result<Vec<i64>, _>>()?;
    validate(&delays, limits)?;
    Ok(delays)
}

/// Reads a request's schedule: a JSON list of whole seconds (`[86400, 259200]`, put in
/// increasing order where the limits want one), or the text form (a form-encoded body
/// sends one).
pub fn from_json(value: &Value, limits: &ScheduleLimits) -> Result<Vec<i64>, ScheduleError> {
    match value {
        Value::Array(items) => {
            let mut delays = items
                .iter()
                .enumerate()
                .map(|(index, d)| {
                    crate::params::whole_number(d).ok_or(ScheduleError::NotAWholeNumber { index })
                })
                .collect::<Result<Vec<i64>, _>>()?;
            // A list is a set of times after the first failure: kept in order, whatever
            // order it was sent in (a delay twice is still refused).
            if limits.increasing {
                delays.sort_unstable();
            }
            validate(&delays, limits)?;
            Ok(delays)
        }
        Value::String(text) => parse_text(text, limits),
        _ => Err(ScheduleError::NotAList),
    }
}

/// An account's stored dunning schedule, or the default one when the column cannot be
/// read as a schedule `PATCH /v1/account` would have accepted (the billing job must always
/// have one, and the account endpoint shows the one the job uses).
pub fn stored_dunning_schedule(text: Option<&str>) -> Vec<i64> {
    text.and_then(|t| parse_text(t, &DUNNING_LIMITS).ok())
        .unwrap_or_else(|| crate::billing::DEFAULT_DUNNING_SCHEDULE.to_vec())
}

/// The stored form: `"86400,259200,432000"`.
pub fn to_text(delays: &[i64]) -> String {
    delays
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::DEFAULT_DUNNING_SCHEDULE;
    use crate::webhooks::DEFAULT_RETRY_SCHEDULE;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn the_defaults_pass_their_own_limits() {
        assert_eq!(validate(DEFAULT_DUNNING_SCHEDULE, &DUNNING_LIMITS), Ok(()));
        assert_eq!(validate(DEFAULT_RETRY_SCHEDULE, &WEBHOOK_LIMITS), Ok(()));
        // The migration's column default.
        assert_eq!(
            parse_text("86400,259200,432000", &DUNNING_LIMITS),
            Ok(DEFAULT_DUNNING_SCHEDULE.to_vec())
        );
    }

    #[test]
    fn dunning_takes_one_to_ten_increasing_delays_from_a_minute_to_sixty_days() {
        let ok = |d: &[i64]| validate(d, &DUNNING_LIMITS);
        assert_eq!(ok(&[60]), Ok(()));
        assert_eq!(ok(&[5_184_000]), Ok(()));
        assert_eq!(ok(&[]), Err(ScheduleError::Empty));
        let eleven: Vec<i64> = (1..=11).map(|i| i * 60).collect();
        assert_eq!(
            ok(&eleven),
            Err(ScheduleError::TooMany { count: 11, max: 10 })
        );
        assert_eq!(ok(&eleven[..10]), Ok(()));
        assert_eq!(
            ok(&[60, 59]),
            Err(ScheduleError::OutOfRange {
                index: 1,
                delay: 59,
                min: 60,
                max: 5_184_000
            })
        );
        assert_eq!(ok(&[5_184_001]).map_err(|e| e.index()), Err(Some(0)));
        assert_eq!(
            ok(&[120, 120]),
            Err(ScheduleError::NotIncreasing { index: 1 })
        );
        assert_eq!(
            ok(&[120, 60]),
            Err(ScheduleError::NotIncreasing { index: 1 })
        );
    }

    #[test]
    fn an_unreadable_stored_dunning_schedule_falls_back_to_the_default() {
        assert_eq!(stored_dunning_schedule(Some("60,120")), vec![60, 120]);
        for stored in [None, Some(""), Some("1,2"), Some("60,60")] {
            assert_eq!(
                stored_dunning_schedule(stored),
                DEFAULT_DUNNING_SCHEDULE.to_vec(),
                "{stored:?}"
            );
        }
    }

    #[test]
    fn webhook_schedules_take_any_positive_delays() {
        assert_eq!(parse_text("1", &WEBHOOK_LIMITS), Ok(vec![1]));
        assert_eq!(parse_text("5,10, 5", &WEBHOOK_LIMITS), Ok(vec![5, 10, 5]));
        assert_eq!(
            parse_text("0", &WEBHOOK_LIMITS).map_err(|e| e.index()),
            Err(Some(0))
        );
    }

    #[test]
    fn text_and_lists_read_the_same() {
        assert_eq!(
            from_json(&json!([86_400, 259_200]), &DUNNING_LIMITS),
            Ok(vec![86_400, 259_200])
        );
        assert_eq!(
            from_json(&json!("86400, 259200"), &DUNNING_LIMITS),
            Ok(vec![86_400, 259_200])
        );
        assert_eq!(
            from_json(&json!([60, "120"]), &DUNNING_LIMITS),
            Err(ScheduleError::NotAWholeNumber { index: 1 })
        );
        assert_eq!(
            from_json(&json!([60, 90.5]), &DUNNING_LIMITS),
            Err(ScheduleError::NotAWholeNumber { index: 1 })
        );
        assert_eq!(
            from_json(&json!(60), &DUNNING_LIMITS),
            Err(ScheduleError::NotAList)
        );
        assert_eq!(
            from_json(&json!([259_200, 86_400]), &DUNNING_LIMITS),
            Ok(vec![86_400, 259_200]),
            "a list is put in order"
        );
        assert!(from_json(&json!([3600, 3600]), &DUNNING_LIMITS).is_err());
        assert_eq!(
            from_json(&json!([3600.0]), &DUNNING_LIMITS),
            Ok(vec![3600]),
            "JSON's 3600.0 is the integer 3600"
        );
        assert_eq!(
            from_json(&json!([]), &DUNNING_LIMITS),
            Err(ScheduleError::Empty)
        );
        for bad in ["", "1,,2", "a", "1.5"] {
            assert!(
                matches!(
                    parse_text(bad, &WEBHOOK_LIMITS),
                    Err(ScheduleError::NotAWholeNumber { .. })
                ),
                "{bad}"
            );
        }
    }

    /// `webhooks::parse_retry_schedule` as it was before it used this module.
    fn positive_whole_numbers(text: &str) -> Option<Vec<i64>> {
        let delays: Vec<i64> = text
            .split(',')
            .map(|d| d.trim().parse::<i64>().ok().filter(|d| *d > 0))
            .collect::<Option<_>>()?;
        (!delays.is_empty()).then_some(delays)
    }

    proptest! {
        #[test]
        fn webhook_limits_accept_exactly_what_the_webhook_variable_always_took(text in "[-+0-9, a]{0,16}") {
            prop_assert_eq!(parse_text(&text, &WEBHOOK_LIMITS).ok(), positive_whole_numbers(&text));
        }

        #[test]
        fn a_valid_schedule_round_trips_through_its_stored_text(
            mut delays in proptest::collection::vec(60i64..=5_184_000, 1..=10)
        ) {
            delays.sort_unstable();
            delays.dedup();
            prop_assert_eq!(parse_text(&to_text(&delays), &DUNNING_LIMITS), Ok(delays));
        }
    }
}
