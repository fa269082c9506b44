//! Webhook signatures: `Till-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, where each
//! hex is HMAC-SHA256 keyed with an endpoint secret (its UTF-8 bytes) over `"{t}.{body}"`.
//! During a secret roll there is one `v1` per active secret. Receivers verify with
//! [`verify`]: constant-time comparison and a timestamp tolerance against replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a signature's timestamp may be from the receiver's clock by default.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("no signature matches this secret and body")]
    NoMatch,
    #[error("the signature's timestamp is outside the tolerance")]
    OutsideTolerance,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The lower-case hex signature of `body` at `timestamp` with one secret.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// The whole header value, signed with every active secret.
pub fn header(timestamp: i64, secrets: &[&str], body: &[u8]) -> String {
    let mut value = format!("t={timestamp}");
    for secret in secrets {
        value.push_str(",v1=");
        value.push_str(&sign(secret, timestamp, body));
    }
    value
}

/// Checks a `Till-Signature` header against the raw body with one secret; answers the
/// signed timestamp. Any `v1` may match (the sender signs with old and new secrets while
/// a secret is rolled).
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                )
            }
            Some(("v1", value)) => {
                signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?)
            }
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::OutsideTolerance);
    }
    // `verify_slice` compares in constant time.
    let matches = signatures
        .iter()
        .any(|signature| mac(secret, timestamp, body).verify_slice(signature).is_ok());
    if matches {
        Ok(timestamp)
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// Seconds to wait before each retry after a failed attempt: about 1 min, 5 min, 30 min,
/// 2 h, 5 h, 10 h, then every 12 h while the event is under three days old.
pub const DEFAULT_RETRY_SCHEDULE: &[i64] = &[60, 300, 1_800, 7_200, 18_000, 36_000, 43_200];

/// Deliveries are retried until the event is this old.
pub const RETRY_FOR_SECS: i64 = 3 * 24 * 3600;

/// Where one event's delivery to one endpoint stands, as `webhook_deliveries.status`
/// stores it and the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeliveryStatus {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Past the retry window without a 2xx.
    Failed,
}

impl DeliveryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Succeeded => "SUCCEEDED",
            DeliveryStatus::Failed => "FAILED",
        }
    }

    /// After an attempt: delivered, or pending while a next attempt is scheduled.
    pub const fn after(succeeded: bool, retried: bool) -> DeliveryStatus {
        match (succeeded, retried) {
            (true, _) => DeliveryStatus::Succeeded,
            (false, true) => DeliveryStatus::Pending,
            (false, false) => DeliveryStatus::Failed,
        }
    }
}

/// Reads `WEBHOOK_RETRY_SCHEDULE` ("60,300,1800": seconds separated by commas); `None` when
/// it is not a list of positive whole numbers. [`crate::retry::parse_text`] with
/// [`crate::retry::WEBHOOK_LIMITS`] says why.
pub fn parse_retry_schedule(text: &str) -> Option<Vec<i64>> {
    crate::retry::parse_text(text, &crate::retry::WEBHOOK_LIMITS).ok()
}

/// When to try again after `failed_attempts` failures of an event created at
/// `event_created`: the schedule's delay (its last entry repeating), with up to 10%
/// jitter from `jitter` (0.0–1.0); `None` once the event is past the retry window.
pub fn next_attempt_at(
    schedule: &[i64],
    failed_attempts: u32,
    now: i64,
    event_created: i64,
    jitter: f64,
) -> Option<i64> {
    let index = usize::try_from(failed_attempts.saturating_sub(1)).unwrap_or(usize::MAX);
    let delay = *schedule.get(index).or(schedule.last())?;
    let spread = (delay as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as i64;
    let at = now + delay + spread;
    (at - event_created <= RETRY_FOR_SECS).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::DeliveryStatus;

    #[test]
    fn a_delivery_is_pending_only_while_a_retry_is_scheduled() {
        assert_eq!(DeliveryStatus::after(true, true), DeliveryStatus::Succeeded);
        assert_eq!(
            DeliveryStatus::after(true, false),
            DeliveryStatus::Succeeded
        );
        assert_eq!(DeliveryStatus::after(false, true), DeliveryStatus::Pending);
        assert_eq!(DeliveryStatus::after(false, false), DeliveryStatus::Failed);
        for status in [
            DeliveryStatus::Pending,
            DeliveryStatus::Succeeded,
            DeliveryStatus::Failed,
        ] {
            let stored = serde_json::to_string(&status).unwrap();
            assert_eq!(stored, format!("\"{}\"", status.as_str()));
            assert_eq!(
                serde_json::from_str::<DeliveryStatus>(&stored).unwrap(),
                status
            );
        }
    }

    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.completed"}"#;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: HMAC-SHA256(key "key", message "1700000000.body").
        assert_eq!(
            sign("key", 1_700_000_000, b"body"),
            "47b6ce0fca59474308e2921c247cb2493dce6b8101d90ac05bd0c6a37d0e046e"
        );
    }

    #[test]
    fn a_signed_body_verifies_and_returns_its_timestamp() {
        let value = header(1_000, &[SECRET], BODY);
        assert!(value.starts_with("t=1000,v1="));
        assert_eq!(
            verify(&value, BODY, SECRET, 1_100, DEFAULT_TOLERANCE_SECS),
            Ok(1_000)
        );
    }

    #[test]
    fn one_changed_byte_or_another_secret_does_not_verify() {
        let value = header(1_000, &[SECRET], BODY);
        let mut changed = BODY.to_vec();
        changed[5] ^= 1;
        assert_eq!(
            verify(&value, &changed, SECRET, 1_000, 300),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&value, BODY, "whsec_other", 1_000, 300),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused() {
        let value = header(1_000, &[SECRET], BODY);
        assert_eq!(
            verify(&value, BODY, SECRET, 1_301, 300),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            verify(&value, BODY, SECRET, 699, 300),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(verify(&value, BODY, SECRET, 1_300, 300), Ok(1_000));
    }

    #[test]
    fn during_a_roll_either_secret_verifies() {
        let value = header(5, &["whsec_old", "whsec_new"], BODY);
        assert_eq!(value.matches("v1=").count(), 2);
        assert_eq!(verify(&value, BODY, "whsec_old", 5, 300), Ok(5));
        assert_eq!(verify(&value, BODY, "whsec_new", 5, 300), Ok(5));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in ["", "t=abc,v1=00", "v1=00", "t=5", "t=5,v1=zz", "garbage"] {
            assert_eq!(
                verify(bad, BODY, SECRET, 5, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn retries_follow_the_schedule_then_repeat_its_last_delay_for_three_days() {
        let s = DEFAULT_RETRY_SCHEDULE;
        assert_eq!(next_attempt_at(s, 1, 0, 0, 0.0), Some(60));
        assert_eq!(next_attempt_at(s, 2, 100, 0, 0.0), Some(400));
        assert_eq!(next_attempt_at(s, 9, 1_000, 0, 0.0), Some(44_200));
        assert_eq!(
            next_attempt_at(s, 1, 0, 0, 1.0),
            Some(66),
            "at most 10% jitter"
        );
        assert_eq!(
            next_attempt_at(s, 9, RETRY_FOR_SECS, 0, 0.0),
            None,
            "past three days"
        );
        assert_eq!(parse_retry_schedule("1, 2,3"), Some(vec![1, 2, 3]));
        for bad in ["", "1,,2", "0", "-1", "a"] {
            assert_eq!(parse_retry_schedule(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_body_round_trips(body in proptest::collection::vec(any::<u8>(), 0..512), t in 0i64..4_000_000_000) {
            let value = header(t, &[SECRET], &body);
            prop_assert_eq!(verify(&value, &body, SECRET, t, 0), Ok(t));
        }
    }
}
