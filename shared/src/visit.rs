//! Who is visiting a short link: a person's browser, or something that only looks (a chat
//! app's or social network's link-preview crawler, a search engine, a browser prefetching
//! or prerendering the page, a `HEAD` request). Lookers get a preview page and create
//! nothing.

/// User agents of crawlers and link previewers, lowercase; a substring match is enough.
const CRAWLERS: &[&str] = &[
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "slackbot",
    "discordbot",
    "whatsapp",
    "telegrambot",
    "linkedinbot",
    "line/",
    "kakaotalk",
    "skypeuripreview",
    "embedly",
    "iframely",
    "pinterest",
    "redditbot",
    "googlebot",
    "bingbot",
    "applebot",
    "yandex",
    "duckduckbot",
    "bot;",
    "crawler",
    "spider",
    "preview",
];

/// Whether a request only looks at the link: `HEAD`, a prefetch or prerender (`Purpose`,
/// `Sec-Purpose`, `X-Moz`), or a crawler's `User-Agent`. `header` answers a request header.
pub fn is_preview(method: &str, header: impl Fn(&str) -> Option<String>) -> bool {
    if method.eq_ignore_ascii_case("HEAD") {
        return true;
    }
    let lower = |name: &str| header(name).unwrap_or_default().to_ascii_lowercase();
    let purpose = format!(
        "{} {} {}",
        lower("Purpose"),
        lower("Sec-Purpose"),
        lower("X-Moz")
    );
    if ["prefetch", "prerender", "preview"]
        .iter()
        .any(|p| purpose.contains(p))
    {
        return true;
    }
    let agent = lower("User-Agent");
    CRAWLERS.iter().any(|c| agent.contains(c))
}

/// The `utm_source` a view is counted under: trimmed, lowercase, letters, digits and
/// `._-+` only (anything else dropped), at most [`MAX_SOURCE_CHARS`] characters; `""` when
/// none is left.
pub fn source_of(utm_source: Option<&str>) -> String {
    utm_source
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_alphanumeric() || "._-+".contains(*c))
        .flat_map(char::to_lowercase)
        .take(MAX_SOURCE_CHARS)
        .collect()
}

/// The longest `utm_source` the funnel keeps.
pub const MAX_SOURCE_CHARS: usize = 40;

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_browser_visit_is_a_person() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36";
        assert!(!is_preview("GET", headers(&[("User-Agent", chrome)])));
        assert!(!is_preview("GET", headers(&[])));
    }

    #[test]
    fn crawlers_prefetches_and_head_only_look() {
        assert!(is_preview("HEAD", headers(&[])));
        assert!(is_preview(
            "GET",
            headers(&[("User-Agent", "facebookexternalhit/1.1")])
        ));
        assert!(is_preview(
            "GET",
            headers(&[("User-Agent", "Mozilla/5.0 (compatible; Discordbot/2.0)")])
        ));
        assert!(is_preview(
            "GET",
            headers(&[("Sec-Purpose", "prefetch;prerender")])
        ));
        assert!(is_preview("GET", headers(&[("Purpose", "prefetch")])));
        assert!(is_preview("GET", headers(&[("X-Moz", "prefetch")])));
    }

    #[test]
    fn sources_are_short_plain_and_lowercase() {
        assert_eq!(source_of(Some(" Newsletter ")), "newsletter");
        assert_eq!(source_of(Some("ig<script>")), "igscript");
        assert_eq!(source_of(Some("臉書")), "臉書");
        assert_eq!(source_of(None), "");
        assert_eq!(
            source_of(Some(&"x".repeat(90))).chars().count(),
            MAX_SOURCE_CHARS
        );
    }
}
