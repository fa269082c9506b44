//! Catalogue rules: billing intervals, product slugs, promotion discounts, and the small
//! validations the merchant API shares (emails, codes, locales).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::money::{Money, MoneyError};

/// A recurring price's billing period unit. MINUTE and HOUR exist only in SANDBOX, so
/// billing can be watched in real time while testing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    pub const fn as_str(self) -> &'static str {
        match self {
            Interval::Minute => "MINUTE",
            Interval::Hour => "HOUR",
            Interval::Day => "DAY",
            Interval::Week => "WEEK",
            Interval::Month => "MONTH",
            Interval::Year => "YEAR",
        }
    }

    /// Accepts the documents' spellings: `MONTH`, `month`, `monthly`, `months`; `minutes`.
    pub fn parse(text: &str) -> Option<Interval> {
        let word = text.trim().to_ascii_lowercase();
        let word = word.strip_suffix('s').unwrap_or(&word);
        Some(match word {
            "minute" => Interval::Minute,
            "hour" | "hourly" => Interval::Hour,
            "day" | "daily" => Interval::Day,
            "week" | "weekly" => Interval::Week,
            "month" | "monthly" => Interval::Month,
            "year" | "yearly" | "annual" | "annually" => Interval::Year,
            _ => return None,
        })
    }

    /// Whether an account in this environment may bill on this interval.
    pub const fn allowed(self, sandbox: bool) -> bool {
        sandbox || !matches!(self, Interval::Minute | Interval::Hour)
    }
}

/// Stored and sent as [`Interval::as_str`] (`"MONTH"`), the form the `prices` table's CHECK
/// allows; read with [`Interval::parse`], so any documented spelling is understood.
impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Interval::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a billing interval")))
    }
}

/// A URL-safe slug from a name: lower-case ASCII letters and digits separated by single
/// hyphens (`"Pro Monthly!"` → `pro-monthly`). Non-ASCII names give an empty slug; the
/// caller then makes one up.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    slug.chars()
        .take(64)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// Whether a merchant-given slug is acceptable: what [`slugify`] could produce, 1–64 chars.
pub fn is_valid_slug(slug: &str) -> bool {
    (1..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
}

/// Promotion codes: 1–64 letters, digits, `-` or `_`. Compared without regard to case.
pub fn is_valid_promotion_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A plausible email address: one `@`, something before it, a dotted domain of non-empty
/// labels after it, printable ASCII without spaces (an internationalized domain in its
/// `xn--` form), at most 254 characters. Deliverability is the receipt's problem, not ours.
/// [`EMAIL_PATTERN`] says the same to the OpenAPI document.
/// A host name as the OpenAPI document's patterns write it: dot-separated labels of
/// letters, digits and inner hyphens (1–63 characters), ending in a top-level name of 2–24
/// letters.
pub const HOST_PATTERN: &str = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.[A-Za-z]{2,24}";
/// What may follow the host: a path (and query) of URL characters that need no escaping.
pub const PATH_PATTERN: &str = "(/[A-Za-z0-9._~!$&'()*+,;=:@%/?{}-]*)?";

/// Whether `host` is a name [`HOST_PATTERN`] matches.
pub fn is_host_name(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let top = labels.last().copied().unwrap_or_default();
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && (2..=24).contains(&top.len())
        && top.bytes().all(|b| b.is_ascii_alphabetic())
}

/// An image of a product: `https://` + a host name + a path of unescaped URL characters
/// (`^https://{HOST_PATTERN}{PATH_PATTERN}$`), at most 2048 characters.
pub fn is_image_url(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("https://") else {
        return false;
    };
    let (host, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    text.len() <= 2048
        && is_host_name(host)
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~!$&'()*+,;=:@%/?{}-".contains(&b))
}

pub const EMAIL_PATTERN: &str = "^[!-?A-~]+@[!--/-?A-~]+(\\.[!--/-?A-~]+)+$";

pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && email.bytes().all(|b| b.is_ascii_graphic())
}

/// The checkout page's languages.
pub const LOCALES: &[&str] = &["auto", "en", "zh-TW", "zh-CN", "ja", "th"];

/// What a visit's query may set on its checkout (`prefilled_email`, `prefilled_name`,
/// `client_reference_id`, `locale`). A value that would not pass is dropped, not a reason
/// to lose the sale; names and references are cut to 200 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefill {
    pub email: Option<String>,
    pub name: Option<String>,
    pub client_reference_id: Option<String>,
    pub locale: Option<String>,
}

impl Prefill {
    pub fn read(param: impl Fn(&str) -> Option<String>) -> Prefill {
        let cut =
            |v: String| Some(v.chars().take(200).collect::<String>()).filter(|v| !v.is_empty());
        Prefill {
            email: param("prefilled_email").filter(|e| is_plausible_email(e)),
            name: param("prefilled_name").and_then(cut),
            client_reference_id: param("client_reference_id").and_then(cut),
            locale: param("locale").filter(|l| LOCALES.contains(&l.as_str())),
        }
    }
}

/// A promotion's effect on a subtotal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// 1–100 percent off, rounded down to the minor unit (in the shopper's favour never by
    /// more than the advertised percentage).
    Percent(u8),
    /// A fixed amount off, never below zero.
    Amount(Money),
}

impl Discount {
    /// The amount taken off `subtotal`.
    pub fn amount_off(self, subtotal: Money) -> Result<Money, MoneyError> {
        match self {
            Discount::Percent(percent) => {
                let off = i128::from(subtotal.amount()) * i128::from(percent.min(100)) / 100;
                Money::from_minor(off as i64, subtotal.currency())
            }
            Discount::Amount(amount) => {
                if amount.currency() != subtotal.currency() {
                    return Err(MoneyError::CurrencyMismatch(
                        amount.currency(),
                        subtotal.currency(),
                    ));
                }
                Money::from_minor(amount.amount().min(subtotal.amount()), subtotal.currency())
            }
        }
    }
}

/// Why a price cannot be sold now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotPurchasable {
    #[error("This price is archived.")]
    PriceArchived,
    #[error("This price's product is archived.")]
    ProductArchived,
}

/// Whether a price can be sold: it and its product are both active. Every way of selling
/// (a session by price, by product or by line items, a link when it is made and when it is
/// visited, a buy button) asks this, so an archived price or product is sold by none.
pub const fn purchasable(price_active: bool, product_active: bool) -> Result<(), NotPurchasable> {
    match (price_active, product_active) {
        (false, _) => Err(NotPurchasable::PriceArchived),
        (true, false) => Err(NotPurchasable::ProductArchived),
        (true, true) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_an_active_price_of_an_active_product_is_purchasable() {
        assert_eq!(purchasable(true, true), Ok(()));
        assert_eq!(purchasable(false, true), Err(NotPurchasable::PriceArchived));
        assert_eq!(
            purchasable(true, false),
            Err(NotPurchasable::ProductArchived)
        );
        assert_eq!(
            purchasable(false, false),
            Err(NotPurchasable::PriceArchived)
        );
    }

    use super::*;
    use crate::money::{Currency, MAX_MINOR_UNITS};
    use proptest::prelude::*;

    #[test]
    fn intervals_accept_every_documented_spelling() {
        for (text, interval) in [
            ("MONTH", Interval::Month),
            ("monthly", Interval::Month),
            ("months", Interval::Month),
            ("yearly", Interval::Year),
            ("YEAR", Interval::Year),
            ("week", Interval::Week),
            ("daily", Interval::Day),
            ("minutes", Interval::Minute),
            ("hours", Interval::Hour),
        ] {
            assert_eq!(Interval::parse(text), Some(interval), "{text}");
        }
        assert_eq!(Interval::parse("fortnightly"), None);
        assert!(Interval::Minute.allowed(true));
        assert!(!Interval::Minute.allowed(false));
        assert!(!Interval::Hour.allowed(false));
        assert!(Interval::Month.allowed(false));
    }

    #[test]
    fn intervals_are_stored_upper_case_as_the_prices_table_checks() {
        for interval in [
            Interval::Minute,
            Interval::Hour,
            Interval::Day,
            Interval::Week,
            Interval::Month,
            Interval::Year,
        ] {
            let text = serde_json::to_string(&interval).unwrap();
            assert_eq!(text, format!("\"{}\"", interval.as_str()));
            assert_eq!(serde_json::from_str::<Interval>(&text).unwrap(), interval);
        }
        assert_eq!(
            serde_json::from_str::<Interval>("\"monthly\"").unwrap(),
            Interval::Month
        );
        assert!(serde_json::from_str::<Interval>("\"fortnight\"").is_err());
    }

    #[test]
    fn slugs_are_lower_case_words_joined_by_hyphens() {
        assert_eq!(slugify("Pro Monthly"), "pro-monthly");
        assert_eq!(slugify("  Hot Latte -- Large!! "), "hot-latte-large");
        assert_eq!(slugify("電子書"), "");
        assert!(is_valid_slug("pro-monthly"));
        for bad in ["", "Pro", "-a", "a-", "a--b", "a b", "a_b"] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn image_urls_are_https_on_a_named_host() {
        for good in [
            "https://cdn.example.com/a/b.png",
            "https://shop.example.co/img?w=200&h=100",
            "https://x.io",
        ] {
            assert!(is_image_url(good), "{good}");
        }
        for bad in [
            "http://cdn.example.com/a.png",
            "https://cdn.example.com*/a.png",
            "https://1.2.3.4/a.png",
            "https://localhost/a.png",
            "https://cdn.example.com:8443/a.png",
            "https://cdn.example.com/a b.png",
            "https://-x.example.com/a.png",
            "https://cdn.example.c0m/a.png",
        ] {
            assert!(!is_image_url(bad), "{bad}");
        }
    }

    #[test]
    fn emails_and_codes() {
        assert!(is_plausible_email("user@example.com"));
        for bad in [
            "user",
            "@example.com",
            "user@",
            "user@example",
            "a b@example.com",
            "a@b@c.com",
            "user@.com",
            "user@example..com",
            "user@example.com.",
            "josé@example.com",
            "user\u{85}@example.com",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
        assert!(is_valid_promotion_code("LAUNCH20"));
        assert!(is_valid_promotion_code("summer_sale-2026"));
        assert!(!is_valid_promotion_code("two words"));
        assert!(!is_valid_promotion_code(""));
    }

    #[test]
    fn percent_discounts_round_down_and_amount_discounts_stop_at_zero() {
        let usd = |a| Money::from_minor(a, Currency::Usd).unwrap();
        assert_eq!(
            Discount::Percent(20).amount_off(usd(590)).unwrap(),
            usd(118)
        );
        assert_eq!(Discount::Percent(33).amount_off(usd(100)).unwrap(), usd(33));
        assert_eq!(
            Discount::Percent(15).amount_off(usd(999)).unwrap(),
            usd(149)
        );
        assert_eq!(
            Discount::Percent(100).amount_off(usd(999)).unwrap(),
            usd(999)
        );
        assert_eq!(
            Discount::Amount(usd(500)).amount_off(usd(300)).unwrap(),
            usd(300)
        );
        let jpy = Money::from_minor(100, Currency::Jpy).unwrap();
        assert!(Discount::Amount(jpy).amount_off(usd(300)).is_err());
    }

    proptest! {
        #[test]
        fn a_discount_never_exceeds_the_subtotal(subtotal in 0..=MAX_MINOR_UNITS, percent in 1u8..=100, off in 0..=MAX_MINOR_UNITS) {
            let subtotal = Money::from_minor(subtotal, Currency::Thb).unwrap();
            let by_percent = Discount::Percent(percent).amount_off(subtotal).unwrap();
            prop_assert!(by_percent.amount() <= subtotal.amount());
            prop_assert!(by_percent.amount() * 100 <= subtotal.amount() * i64::from(percent));
            let by_amount = Discount::Amount(Money::from_minor(off, Currency::Thb).unwrap()).amount_off(subtotal).unwrap();
            prop_assert_eq!(by_amount.amount(), off.min(subtotal.amount()));
        }
    }

    #[test]
    fn prefills_keep_what_passes_and_drop_the_rest() {
        let long = "名".repeat(300);
        let query = [
            ("prefilled_email", "not-an-email"),
            ("prefilled_name", long.as_str()),
            ("client_reference_id", ""),
            ("locale", "ja"),
        ];
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let prefill = Prefill::read(param);
        assert_eq!(prefill.email, None);
        assert_eq!(prefill.name.map(|n| n.chars().count()), Some(200));
        assert_eq!(prefill.client_reference_id, None);
        assert_eq!(prefill.locale.as_deref(), Some("ja"));
        assert_eq!(
            Prefill::read(|n| (n == "prefilled_email").then(|| "mei@example.com".to_owned())).email,
            Some("mei@example.com".to_owned())
        );
    }
}
