//! The hosts of a merchant's own sites (`allowed_redirect_hosts`, per account and
//! environment): where a checkout opened with the publishable key may send the shopper
//! (`success_url`, `cancel_url`), and which pages may frame the checkout in Till's overlay.
//!
//! An entry is a host and nothing more: `shop.example`, `shop.example:8443`,
//! `127.0.0.1:8787`, `[::1]:3000`, or `*.shop.example` (any subdomain, not `shop.example`
//! itself). Without a port it means the scheme's default port, as a CSP source does, so the
//! same entry decides a redirect and a `frame-ancestors` source alike. URLs are https;
//! in SANDBOX also plain http to a loopback host (as [`crate::params::validate_redirect_url`]
//! allows).

use url::Url;

/// At most this many entries per account and environment.
pub const MAX_ALLOWED_HOSTS: usize = 20;

/// One entry of the list, normalised (lowercase, IDN as punycode, no default port).
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    /// `*.` before the host: its subdomains only.
    subdomains: bool,
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    fn text(&self) -> String {
        let star = if self.subdomains { "*." } else { "" };
        match self.port {
            Some(port) => format!("{star}{}:{port}", self.host),
            None => format!("{star}{}", self.host),
        }
    }

    fn matches(&self, url: &Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        let default = if url.scheme() == "http" { 80 } else { 443 };
        if self.port.unwrap_or(default) != port {
            return false;
        }
        if self.subdomains {
            host.strip_suffix(self.host.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
        } else {
            host == self.host
        }
    }

    fn loopback(&self) -> bool {
        !self.subdomains && is_loopback(&self.host)
    }
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Why an entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("At most {MAX_ALLOWED_HOSTS} hosts.")]
    TooMany,
    #[error(
        "`{0}` is not a host: give the host alone (`shop.example`, `shop.example:8443`, `*.shop.example`), without scheme, path or query."
    )]
    NotAHost(String),
    #[error(
        "`{0}`: a wildcard stands for the first label only, and needs a domain of two labels or more after it (`*.shop.example`)."
    )]
    Wildcard(String),
}

/// An account's allowed hosts in one environment, parsed once. Empty (the default for a
/// new account): no redirect may be set with the publishable key and no site may frame the
/// checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<HostPattern>);

impl AllowedHosts {
    /// Reads a request's list: each entry checked and normalised, duplicates kept once.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowedHosts, (usize, HostError)> {
        if entries.len() > MAX_ALLOWED_HOSTS {
            return Err((0, HostError::TooMany));
        }
        let mut patterns: Vec<HostPattern> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let pattern = parse_pattern(entry.as_ref()).map_err(|e| (i, e))?;
            if !patterns.contains(&pattern) {
                patterns.push(pattern);
            }
        }
        Ok(AllowedHosts(patterns))
    }

    /// The list as stored (a JSON array of normalised entries); anything unreadable is
    /// the empty list, which allows nothing.
    pub fn from_stored(text: Option<&str>) -> AllowedHosts {
        let entries: Vec<String> = text
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let patterns = entries.iter().filter_map(|e| parse_pattern(e).ok());
        AllowedHosts(patterns.take(MAX_ALLOWED_HOSTS).collect())
    }

    /// The normalised entries, as the API shows them and D1 stores them.
    pub fn entries(&self) -> Vec<String> {
        self.0.iter().map(HostPattern::text).collect()
    }

    pub fn to_stored(&self) -> String {
        serde_json::Value::from(self.entries()).to_string()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a URL is on an allowed host: https, or (in SANDBOX) http to a loopback host.
    fn allows(&self, url: &Url, sandbox: bool) -> bool {
        let scheme = match url.scheme() {
            "https" => true,
            "http" => sandbox && url.host_str().is_some_and(is_loopback),
            _ => false,
        };
        scheme && self.0.iter().any(|p| p.matches(url))
    }

    /// Whether a redirect URL (`success_url`, `cancel_url`; `{CHECKOUT_SESSION_ID}` may
    /// appear in it) goes to an allowed host.
    pub fn allows_redirect(&self, text: &str, sandbox: bool) -> bool {
        let probe = text.replace(crate::redirect::SESSION_ID_PLACEHOLDER, "cs_placeholder");
        Url::parse(&probe).is_ok_and(|url| self.allows(&url, sandbox))
    }

    /// Whether a page of this origin (`https://shop.example`) may frame the checkout.
    pub fn allows_origin(&self, origin: &str, sandbox: bool) -> bool {
        Url::parse(origin).is_ok_and(|url| self.allows(&url, sandbox))
    }

    /// The CSP sources of every allowed host (`https://shop.example`, and in SANDBOX
    /// `http://localhost:3000` for a loopback entry); empty when nothing is allowed.
    pub fn frame_sources(&self, sandbox: bool) -> Vec<String> {
        let mut sources = Vec::with_capacity(self.0.len());
        for pattern in &self.0 {
            sources.push(format!("https://{}", pattern.text()));
            if sandbox && pattern.loopback() {
                sources.push(format!("http://{}", pattern.text()));
            }
        }
        sources
    }
}

/// An entry's grammar, as the OpenAPI document states it (anchored there): a DNS name
/// whose last label starts with a letter, a dotted IPv4 address or `[::1]`, optionally
/// `:port`, optionally after `*.` (then a name of two labels or more). [`AllowedHosts::parse`]
/// accepts exactly these (any letter case), and a property test holds the two together.
pub const ENTRY_PATTERN: &str = concat!(
    r"(?:\*\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    r"|(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    r"|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])",
    r"|\[::1\])",
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
);

/// The longest entry: `*.`, a name of 253 characters, `:65535`.
pub const MAX_ENTRY_CHARS: usize = 261;

/// One entry ([`ENTRY_PATTERN`]): a host, optionally `:port`, optionally after `*.`;
/// nothing else.
fn parse_pattern(entry: &str) -> Result<HostPattern, HostError> {
    let not_a_host = || HostError::NotAHost(entry.to_owned());
    if entry.len() > MAX_ENTRY_CHARS {
        return Err(not_a_host());
    }
    let lower = entry.to_ascii_lowercase();
    let (subdomains, rest) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    if rest.contains('*') {
        return Err(HostError::Wildcard(entry.to_owned()));
    }
    let (host, port) = match rest.rsplit_once(':').filter(|_| rest != "[::1]") {
        Some((host, port)) => (host, Some(parse_port(port).ok_or_else(not_a_host)?)),
        None => (rest, None),
    };
    let kind = host_kind(host).ok_or_else(not_a_host)?;
    if subdomains && (kind != HostKind::Name || !host.contains('.')) {
        return Err(HostError::Wildcard(entry.to_owned()));
    }
    Ok(HostPattern {
        subdomains,
        host: host.to_owned(),
        // The scheme's default port is what an entry without one means already.
        port: port.filter(|&p| p != 443),
    })
}

/// `0`–`65535` in decimal, without a sign or leading zeros beyond four digits.
fn parse_port(text: &str) -> Option<u16> {
    let digits = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    let five_without_zero = text.len() < 5 || !text.starts_with('0');
    (digits && five_without_zero)
        .then(|| text.parse().ok())
        .flatten()
}

#[derive(Debug, PartialEq, Eq)]
enum HostKind {
    Name,
    Address,
}

/// A lowercase DNS name whose last label starts with a letter, a dotted IPv4 address
/// without leading zeros, or `[::1]`.
fn host_kind(host: &str) -> Option<HostKind> {
    if host == "[::1]" {
        return Some(HostKind::Address);
    }
    let labels: Vec<&str> = host.split('.').collect();
    let octet = |l: &&str| {
        !l.is_empty()
            && l.len() <= 3
            && l.bytes().all(|b| b.is_ascii_digit())
            && (l.len() == 1 || !l.starts_with('0'))
            && l.parse::<u8>().is_ok()
    };
    if labels.len() == 4 && labels.iter().all(octet) {
        return Some(HostKind::Address);
    }
    let label = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let last = labels.last()?;
    (labels.iter().all(label) && last.starts_with(|c: char| c.is_ascii_lowercase()))
        .then_some(HostKind::Name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(entries).unwrap()
    }

    #[test]
    fn entries_are_hosts_normalised_and_kept_once() {
        let list = hosts(&[
            "Shop.Example",
            "shop.example",
            "shop.example:443",
            "shop.example:8443",
            "*.Shop.example",
            "xn--bcher-kva.example",
            "127.0.0.1:8787",
            "[::1]:3000",
            "localhost:3000",
        ]);
        assert_eq!(
            list.entries(),
            [
                "shop.example",
                "shop.example:8443",
                "*.shop.example",
                "xn--bcher-kva.example",
                "127.0.0.1:8787",
                "[::1]:3000",
                "localhost:3000",
            ]
        );
        assert_eq!(AllowedHosts::from_stored(Some(&list.to_stored())), list);
    }

    #[test]
    fn anything_but_a_host_is_refused_naming_the_entry() {
        for bad in [
            "",
            "https://shop.example",
            "shop.example/",
            "shop.example/thanks",
            "shop.example?x=1",
            "shop.example#x",
            "user@shop.example",
            "shop example",
            " shop.example",
            "shop.example.",
            "shop.example:",
            "shop.example:99999",
            "sh%6Fp.example",
            "shop.example\\evil.example",
            "bücher.example",
            "shop..example",
            "-shop.example",
            "shop-.example",
            "shop.123",
            "999.1.1.1",
            "1.2.3",
            "127.000.0.1",
            "[::2]",
            "shop.example:08443",
            "shop.example:+80",
        ] {
            assert!(
                matches!(hosts_err(&[bad]), (0, HostError::NotAHost(_))),
                "{bad:?} was accepted"
            );
        }
        for bad in [
            "*",
            "*.",
            "*.com",
            "a.*.shop.example",
            "*shop.example",
            "*.127.0.0.1",
        ] {
            assert!(
                matches!(
                    hosts_err(&[bad]),
                    (0, HostError::Wildcard(_) | HostError::NotAHost(_))
                ),
                "{bad:?} was accepted"
            );
        }
        assert_eq!(
            hosts_err(&["shop.example", "https://x.example"]).0,
            1,
            "the error names the entry"
        );
        let many: Vec<String> = (0..=MAX_ALLOWED_HOSTS)
            .map(|i| format!("s{i}.example"))
            .collect();
        assert_eq!(hosts_err(&many).1, HostError::TooMany);
        assert!(AllowedHosts::parse(&many[..MAX_ALLOWED_HOSTS]).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn every_entry_the_document_allows_is_accepted(
            entry in proptest::string::string_regex(ENTRY_PATTERN).unwrap()
        ) {
            proptest::prop_assume!(entry.len() <= MAX_ENTRY_CHARS);
            proptest::prop_assert!(AllowedHosts::parse(&[&entry]).is_ok(), "{entry:?} was refused");
        }
    }

    fn hosts_err<S: AsRef<str>>(entries: &[S]) -> (usize, HostError) {
        AllowedHosts::parse(entries).unwrap_err()
    }

    #[test]
    fn a_redirect_is_allowed_only_to_a_listed_host_and_port() {
        let list = hosts(&["shop.example", "pay.shop.example:8443", "*.brand.example"]);
        for ok in [
            "https://shop.example/thanks?id={CHECKOUT_SESSION_ID}",
            "https://SHOP.example",
            "https://shop.example:443/x",
            "https://pay.shop.example:8443/done",
            "https://eu.brand.example/x",
            "https://a.b.brand.example/x",
        ] {
            assert!(list.allows_redirect(ok, false), "{ok} was refused");
        }
        for refused in [
            "https://evil.example/",
            "https://shop.example.evil.example/",
            "https://evilshop.example/",
            "https://shop.example:8443/",
            "https://pay.shop.example/",
            "https://brand.example/",
            "https://evilbrand.example/",
            "https://shop.example@evil.example/",
            "https://evil.example\\@shop.example/",
            "https://evil.example/https://shop.example/",
            "http://shop.example/",
            "javascript:alert(1)//shop.example",
            "//shop.example/",
            "/thanks",
        ] {
            assert!(
                !list.allows_redirect(refused, true),
                "{refused} was allowed"
            );
        }
        assert!(!AllowedHosts::default().allows_redirect("https://shop.example/", false));
    }

    #[test]
    fn plain_http_is_allowed_only_to_a_listed_loopback_host_in_sandbox() {
        let list = hosts(&["localhost:3000", "127.0.0.1:8787", "shop.example"]);
        assert!(list.allows_redirect("http://localhost:3000/ok", true));
        assert!(list.allows_origin("http://127.0.0.1:8787", true));
        assert!(!list.allows_redirect("http://localhost:3000/ok", false));
        assert!(!list.allows_origin("http://127.0.0.1:8787", false));
        assert!(!list.allows_origin("http://127.0.0.1:9999", true));
        assert!(!list.allows_origin("http://shop.example", true));
        assert_eq!(
            list.frame_sources(true),
            [
                "https://localhost:3000",
                "http://localhost:3000",
                "https://127.0.0.1:8787",
                "http://127.0.0.1:8787",
                "https://shop.example",
            ]
        );
        assert_eq!(
            list.frame_sources(false),
            [
                "https://localhost:3000",
                "https://127.0.0.1:8787",
                "https://shop.example"
            ]
        );
    }

    #[test]
    fn an_origin_frames_the_checkout_only_when_listed() {
        let list = hosts(&["shop.example", "*.brand.example"]);
        assert!(list.allows_origin("https://shop.example", false));
        assert!(list.allows_origin("https://eu.brand.example", false));
        assert!(!list.allows_origin("https://evil.example", false));
        assert!(!list.allows_origin("null", false));
        assert!(!list.allows_origin("https://shop.example:8443", false));
        assert_eq!(
            list.frame_sources(false),
            ["https://shop.example", "https://*.brand.example"]
        );
    }

    #[test]
    fn a_stored_list_that_does_not_read_allows_nothing() {
        for stored in [None, Some("not json"), Some("{}"), Some("[1]")] {
            assert!(AllowedHosts::from_stored(stored).is_empty(), "{stored:?}");
        }
        assert_eq!(
            AllowedHosts::from_stored(Some(r#"["shop.example", "https://bad"]"#)).entries(),
            ["shop.example"]
        );
    }
}
