//! Timestamps on the wire: responses carry ISO 8601 UTC; requests may send ISO 8601 or
//! Unix seconds. Storage keeps Unix seconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("expected an ISO 8601 time or Unix seconds")]
    Malformed,
    #[error("time is out of the supported range")]
    OutOfRange,
}

/// `2026-03-25T12:00:00Z` for a Unix time in seconds.
pub fn to_iso8601(unix_seconds: i64) -> Result<String, TimeError> {
    let at =
        OffsetDateTime::from_unix_timestamp(unix_seconds).map_err(|_| TimeError::OutOfRange)?;
    at.format(&Rfc3339).map_err(|_| TimeError::OutOfRange)
}

/// The earliest time a request may name: 0001-01-01T00:00:00Z.
pub const MIN_REQUEST_TIME: i64 = -62_135_596_800;
/// The latest: 9999-12-31T23:59:59Z (every stored time renders as four-digit years).
pub const MAX_REQUEST_TIME: i64 = 253_402_300_799;

/// Reads a request's time field: a JSON number of Unix seconds (`1790000000`, or
/// `1790000000.0`), a string of digits, or an ISO 8601 (RFC 3339) string with an offset;
/// from year 1 to year 9999.
pub fn parse_request_time(value: &serde_json::Value) -> Result<i64, TimeError> {
    let at = match value {
        serde_json::Value::Number(_) => {
            crate::params::whole_number(value).ok_or(TimeError::Malformed)?
        }
        serde_json::Value::String(text)
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            text.parse().map_err(|_| TimeError::OutOfRange)?
        }
        serde_json::Value::String(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map(OffsetDateTime::unix_timestamp)
            .map_err(|_| TimeError::Malformed)?,
        _ => return Err(TimeError::Malformed),
    };
    if (MIN_REQUEST_TIME..=MAX_REQUEST_TIME).contains(&at) {
        Ok(at)
    } else {
        Err(TimeError::OutOfRange)
    }
}

/// `(month, year)` in UTC of a Unix time, for card expiry checks.
pub fn month_and_year(unix_seconds: i64) -> (u32, u32) {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .map(|at| {
            (
                u32::from(u8::from(at.month())),
                u32::try_from(at.year()).unwrap_or(0),
            )
        })
        .unwrap_or((1, 1970))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn request_times_are_years_1_to_9999_and_whole_numbers_may_carry_a_fraction_of_zero() {
        assert_eq!(
            parse_request_time(&json!(1_790_000_000.0)),
            Ok(1_790_000_000)
        );
        assert_eq!(
            parse_request_time(&json!(MAX_REQUEST_TIME)),
            Ok(MAX_REQUEST_TIME)
        );
        assert_eq!(
            parse_request_time(&json!(MAX_REQUEST_TIME + 1)),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            parse_request_time(&json!(MIN_REQUEST_TIME - 1)),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            parse_request_time(&json!("0001-01-01T00:00:00Z")),
            Ok(MIN_REQUEST_TIME)
        );
        assert_eq!(parse_request_time(&json!(1.5)), Err(TimeError::Malformed));
        assert!(to_iso8601(MAX_REQUEST_TIME).is_ok() && to_iso8601(MIN_REQUEST_TIME).is_ok());
    }

    #[test]
    fn formats_utc_with_a_z() {
        assert_eq!(to_iso8601(1_774_440_000).unwrap(), "2026-03-25T12:00:00Z");
        assert_eq!(to_iso8601(0).unwrap(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn accepts_unix_seconds_and_iso_strings() {
        assert_eq!(parse_request_time(&json!(1_774_440_000)), Ok(1_774_440_000));
        assert_eq!(parse_request_time(&json!("1774440000")), Ok(1_774_440_000));
        assert_eq!(
            parse_request_time(&json!("2026-03-25T12:00:00Z")),
            Ok(1_774_440_000)
        );
        assert_eq!(
            parse_request_time(&json!("2026-03-25T20:00:00+08:00")),
            Ok(1_774_440_000)
        );
        assert_eq!(
            parse_request_time(&json!("2026-03-25T12:00:00.000Z")),
            Ok(1_774_440_000)
        );
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            json!("yesterday"),
            json!("2026-13-01T00:00:00Z"),
            json!(1.5),
            json!(null),
            json!(true),
            json!(""),
        ] {
            assert_eq!(parse_request_time(&bad), Err(TimeError::Malformed), "{bad}");
        }
    }

    #[test]
    fn month_and_year_for_card_expiry() {
        assert_eq!(month_and_year(1_774_440_000), (3, 2026));
        assert_eq!(month_and_year(1_798_761_599), (12, 2026));
    }

    proptest! {
        #[test]
        fn iso_round_trips(seconds in 0i64..4_102_444_800) {
            let text = to_iso8601(seconds).unwrap();
            prop_assert_eq!(parse_request_time(&serde_json::Value::String(text)), Ok(seconds));
        }
    }
}
