//! What a client is counted as when anyone may start something without an account (a
//! checkout from a buy button): its address as Cloudflare reports it, an IPv6 address by
//! its /64 (one subscriber's whole prefix, which it can rotate through freely).

use std::net::IpAddr;

/// The throttle key of a client address (`CF-Connecting-IP`); all clients without a
/// readable address (local development without Cloudflare in front) share one.
pub fn client_bucket(address: Option<&str>) -> String {
    match address
        .map(str::trim)
        .and_then(|a| a.parse::<IpAddr>().ok())
    {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_address_is_its_own_bucket() {
        assert_eq!(client_bucket(Some("203.0.113.7")), "203.0.113.7");
        assert_eq!(client_bucket(Some(" 203.0.113.7 ")), "203.0.113.7");
        assert_eq!(client_bucket(Some("::ffff:203.0.113.7")), "203.0.113.7");
    }

    #[test]
    fn ipv6_addresses_of_one_prefix_share_a_bucket() {
        let a = client_bucket(Some("2001:db8:1:2::1"));
        let b = client_bucket(Some("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"));
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, client_bucket(Some("2001:db8:1:3::1")));
    }

    #[test]
    fn a_missing_or_unreadable_address_is_one_bucket() {
        assert_eq!(client_bucket(None), "unknown");
        assert_eq!(client_bucket(Some("not an address")), "unknown");
    }
}
