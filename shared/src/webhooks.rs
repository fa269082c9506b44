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
    /// Not sent, because its endpoint was deleted or disabled before it went out.
    Canceled,
}

impl DeliveryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Succeeded => "SUCCEEDED",
            DeliveryStatus::Failed => "FAILED",
            DeliveryStatus::Canceled => "CANCELED",
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

/// Where an endpoint URL may point. Deliveries are made from the server, so an address
/// on the server's own network (loopback, private, link-local, carrier-grade NAT,
/// unique-local) or a name that only an internal resolver knows must never be one; plain
/// `http` to loopback is allowed only where the instance says so (a local instance,
/// whose receivers are on the developer's machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A deployed instance: public https hosts only.
    Public,
    /// A local instance: also `http` and `https` to loopback (`localhost`, 127.0.0.0/8, ::1).
    Loopback,
    /// A local instance that must reach nothing beyond the machine (the fuzz tier's): URLs
    /// are stored as on a local instance, and deliveries are sent to loopback only.
    LoopbackOnly,
}

/// Checks a webhook endpoint URL before it is stored and again before each delivery.
/// Answers the URL, or why it is refused (a sentence for the API's error message).
pub fn check_endpoint_url(text: &str, reach: Reach) -> Result<url::Url, String> {
    use url::Host;
    if text.len() > 2048 {
        return Err("URLs must be at most 2048 characters.".into());
    }
    let url = url::Url::parse(text).map_err(|_| format!("`{text}` is not an absolute URL."))?;
    let loopback = is_loopback(&url).ok_or("Endpoint URLs need a host.")?;
    if loopback {
        return match (reach, url.scheme()) {
            (Reach::Loopback | Reach::LoopbackOnly, "http" | "https") => Ok(url),
            _ => Err("Endpoint URLs must be reachable on the public internet; loopback addresses are allowed only on a local instance.".into()),
        };
    }
    if url.scheme() != "https" {
        return Err("Endpoint URLs must use https.".into());
    }
    let internal = match url.host() {
        Some(Host::Ipv4(ip)) => !is_public_v4(ip),
        Some(Host::Ipv6(ip)) => !is_public_v6(ip),
        Some(Host::Domain(name)) => {
            // A name DNS can answer: letters, digits, hyphens and dots (punycode for the rest).
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return Err(format!("`{name}` is not a host name."));
            }
            is_internal_name(name)
        }
        None => true,
    };
    if internal {
        return Err("Endpoint URLs must be reachable on the public internet: private, link-local and internal addresses are refused.".into());
    }
    Ok(url)
}

/// Checks an endpoint URL again before a delivery is sent to it: as when it was stored,
/// and, on an instance that reaches nothing beyond the machine, loopback only.
pub fn check_delivery_url(text: &str, reach: Reach) -> Result<url::Url, String> {
    let url = check_endpoint_url(text, reach)?;
    if reach == Reach::LoopbackOnly && is_loopback(&url) != Some(true) {
        return Err(
            "this instance sends webhooks to loopback addresses only (WEBHOOK_LOOPBACK=only)."
                .into(),
        );
    }
    Ok(url)
}

/// Whether the URL's host is a loopback address or name; `None` without a host.
fn is_loopback(url: &url::Url) -> Option<bool> {
    use url::Host;
    Some(match url.host()? {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
        Host::Domain(name) => is_localhost(name),
    })
}

fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// A name only an internal resolver answers: one label (`metadata`, `redis`), or a suffix
/// reserved for local networks.
fn is_internal_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    const SUFFIXES: [&str; 5] = [".local", ".internal", ".lan", ".home.arpa", ".intranet"];
    !name.contains('.') || SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

fn is_public_v4(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b); // 100.64.0.0/10, carrier-grade NAT
    let this_network = a == 0;
    let reserved = a >= 240; // 240.0.0.0/4 and the broadcast address
    let benchmarking = a == 198 && (b == 18 || b == 19);
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || shared
        || this_network
        || reserved
        || benchmarking)
}

fn is_public_v6(ip: std::net::Ipv6Addr) -> bool {
    let segments = ip.segments();
    // Addresses that carry an IPv4 address: mapped (::ffff:a.b.c.d), NAT64
    // (64:ff9b::/96) and 6to4 (2002::/16) are judged by the address inside.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        return is_public_v4(std::net::Ipv4Addr::new(a, b, c, d));
    }
    if segments[0] == 0x2002 {
        let [_, _, a, b, c, d, ..] = ip.octets();
        return is_public_v4(std::net::Ipv4Addr::new(a, b, c, d));
    }
    let unique_local = segments[0] & 0xfe00 == 0xfc00; // fc00::/7
    let link_local = segments[0] & 0xffc0 == 0xfe80; // fe80::/10
    let site_local = segments[0] & 0xffc0 == 0xfec0; // fec0::/10, deprecated
    let documentation = segments[0] == 0x2001 && segments[1] == 0x0db8;
    let compatible = segments[..6] == [0; 6]; // ::a.b.c.d, deprecated, and :: and ::1
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || site_local
        || documentation
        || compatible)
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
            DeliveryStatus::Canceled,
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

    #[test]
    fn endpoint_urls_on_the_servers_own_network_are_refused() {
        for url in [
            "https://169.254.169.254/latest",
            "https://10.0.0.5/hook",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:a00:1::]/",
            "https://localhost/",
            "https://api.localhost/",
            "https://printer.local/",
            "https://metadata.google.internal/",
            "https://metadata/",
            "https://router.home.arpa/",
            "http://example.com/hook",
            "ftp://example.com/",
            "http://127.0.0.1:6379/",
        ] {
            assert!(
                check_endpoint_url(url, Reach::Public).is_err(),
                "{url} was accepted"
            );
        }
    }

    #[test]
    fn public_https_hosts_are_accepted() {
        for url in [
            "https://example.com/hooks/till",
            "https://hooks.example.co.uk:8443/a?b=c",
            "https://93.184.216.34/hook",
            "https://[2606:4700::1111]/hook",
        ] {
            assert!(check_endpoint_url(url, Reach::Public).is_ok(), "{url}");
        }
    }

    #[test]
    fn loopback_is_reachable_only_on_a_local_instance() {
        for url in [
            "http://127.0.0.1:6379/",
            "http://localhost:8080/hook",
            "https://[::1]:9000/",
            "http://127.0.0.2/",
        ] {
            assert!(check_endpoint_url(url, Reach::Loopback).is_ok(), "{url}");
            assert!(check_endpoint_url(url, Reach::Public).is_err(), "{url}");
        }
        // A local instance still refuses the rest of the private ranges.
        assert!(check_endpoint_url("http://10.0.0.5/", Reach::Loopback).is_err());
        assert!(check_endpoint_url("https://shop.example.app*/hook", Reach::Public).is_err());
        assert!(check_endpoint_url("https://xn--mnchen-3ya.de/hook", Reach::Public).is_ok());
        assert!(check_endpoint_url("https://münchen.de/hook", Reach::Public).is_ok());
        // An instance that reaches only its own machine stores a public URL like any
        // local instance, and never sends to it.
        assert!(check_endpoint_url("https://shop.example.com/hook", Reach::LoopbackOnly).is_ok());
        assert!(check_delivery_url("https://shop.example.com/hook", Reach::LoopbackOnly).is_err());
        assert!(check_delivery_url("http://127.0.0.1:9/hook", Reach::LoopbackOnly).is_ok());
        assert!(check_delivery_url("https://shop.example.com/hook", Reach::Loopback).is_ok());
        assert!(check_endpoint_url("https://169.254.169.254/", Reach::Loopback).is_err());
    }
}
