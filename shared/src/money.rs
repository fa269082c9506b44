//! Money as integer minor units of an ISO 4217 currency.
//!
//! Amounts travel and are stored as integers in the currency's smallest unit (100 = 1.00
//! USD, 100 = 100 JPY). Every currency knows its exponent, so a decimal amount that the
//! currency cannot represent (1.5 JPY, 12.345 USD) is rejected rather than rounded.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount Till accepts, in minor units: 12 digits. Far above any real price,
/// far below `i64::MAX`, so that a quantity or a sum of line items is checked, not wrapped.
pub const MAX_MINOR_UNITS: i64 = 999_999_999_999;

/// Why an amount or a currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency code `{0}`")]
    UnknownCurrency(String),
    #[error("amount must not be negative")]
    Negative,
    #[error("amount is larger than the maximum of {MAX_MINOR_UNITS} minor units")]
    TooLarge,
    #[error("{currency} has {exponent} decimal places; the amount has more")]
    TooManyDecimals { currency: Currency, exponent: u8 },
    #[error("`{0}` is not a decimal amount")]
    Malformed(String),
    #[error("cannot combine amounts in {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
}

macro_rules! currencies {
    ($($variant:ident => $code:literal, $exponent:literal, $symbol:literal;)+) => {
        /// A currency Till can charge in, with its minor-unit exponent.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Currency {
            $($variant,)+
        }

        impl Currency {
            /// Every supported currency, in declaration order.
            pub const ALL: &'static [Currency] = &[$(Currency::$variant,)+];

            /// The upper-case ISO 4217 code, as responses carry it.
            pub const fn code(self) -> &'static str {
                match self { $(Currency::$variant => $code,)+ }
            }

            /// Decimal places of the minor unit: 0 for JPY, 2 for USD.
            pub const fn exponent(self) -> u8 {
                match self { $(Currency::$variant => $exponent,)+ }
            }

            /// The symbol shoppers recognise (`NT$`, `¥`, `฿`).
            pub const fn symbol(self) -> &'static str {
                match self { $(Currency::$variant => $symbol,)+ }
            }

            /// Parses a code in any letter case (`thb`, `THB`), as the reference APIs send both.
            pub fn parse(code: &str) -> Result<Self, MoneyError> {
                $(if code.eq_ignore_ascii_case($code) { return Ok(Currency::$variant); })+
                Err(MoneyError::UnknownCurrency(code.to_owned()))
            }
        }
    };
}

// TWD: ISO 4217 lists two decimals, but Taiwan dollar prices are whole dollars in practice
// and the payment-link document prices in them (`"price": 590, "currency": "TWD"` is
// NT$590), so Till's TWD minor unit is one dollar.
currencies! {
    Twd => "TWD", 0, "NT$";
    Hkd => "HKD", 2, "HK$";
    Jpy => "JPY", 0, "¥";
    Thb => "THB", 2, "฿";
    Cny => "CNY", 2, "CN¥";
    Usd => "USD", 2, "$";
    Eur => "EUR", 2, "€";
    Gbp => "GBP", 2, "£";
    Sgd => "SGD", 2, "S$";
    Krw => "KRW", 0, "₩";
    Myr => "MYR", 2, "RM";
    Php => "PHP", 2, "₱";
    Idr => "IDR", 2, "Rp";
    Vnd => "VND", 0, "₫";
    Aud => "AUD", 2, "A$";
    Cad => "CAD", 2, "CA$";
}

impl Currency {
    /// Minor units in one major unit: 100 for USD, 1 for JPY.
    pub const fn minor_per_major(self) -> i64 {
        10_i64.pow(self.exponent() as u32)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// A non-negative amount of one currency, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Money {
    amount: i64,
    currency: Currency,
}

impl Money {
    /// An amount given in minor units, as the API receives it.
    pub fn from_minor(amount: i64, currency: Currency) -> Result<Self, MoneyError> {
        if amount < 0 {
            return Err(MoneyError::Negative);
        }
        if amount > MAX_MINOR_UNITS {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money { amount, currency })
    }

    /// Zero of a currency.
    pub const fn zero(currency: Currency) -> Self {
        Money {
            amount: 0,
            currency,
        }
    }

    /// An amount written in major units with an optional fraction (`"12.34"`, `"590"`).
    /// A fraction finer than the currency's minor unit is an error, never rounded.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let malformed = || MoneyError::Malformed(text.to_owned());
        let text = text.trim();
        if let Some(rest) = text.strip_prefix('-') {
            return if is_decimal(rest) {
                Err(MoneyError::Negative)
            } else {
                Err(malformed())
            };
        }
        if !is_decimal(text) {
            return Err(malformed());
        }
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let exponent = currency.exponent();
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > usize::from(exponent) {
            return Err(MoneyError::TooManyDecimals { currency, exponent });
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| MoneyError::TooLarge)?
        };
        let mut minor_fraction: i64 = 0;
        for position in 0..usize::from(exponent) {
            let digit = fraction.as_bytes().get(position).map_or(0, |b| b - b'0');
            minor_fraction = minor_fraction * 10 + i64::from(digit);
        }
        let amount = whole
            .checked_mul(currency.minor_per_major())
            .and_then(|minor| minor.checked_add(minor_fraction))
            .ok_or(MoneyError::TooLarge)?;
        Money::from_minor(amount, currency)
    }

    pub const fn amount(self) -> i64 {
        self.amount
    }

    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// The amount in major units as a plain decimal (`"12.34"`, `"590"`), the inverse of
    /// [`Money::parse_decimal`].
    pub fn to_decimal_string(self) -> String {
        let per_major = self.currency.minor_per_major();
        let whole = self.amount / per_major;
        match self.currency.exponent() {
            0 => whole.to_string(),
            exponent => {
                let fraction = self.amount % per_major;
                format!("{whole}.{fraction:0width$}", width = usize::from(exponent))
            }
        }
    }

    /// The sum of two amounts of the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::TooLarge)?;
        Money::from_minor(sum, self.currency)
    }

    /// The amount times a quantity (a line item).
    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        let product = self
            .amount
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::TooLarge)?;
        Money::from_minor(product, self.currency)
    }
}

impl fmt::Display for Money {
    /// `590 TWD`, `12.34 USD`: unambiguous, for logs and messages. Shopper-facing,
    /// localised formatting belongs to the checkout page.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

/// Digits with at most one decimal point, and at least one digit.
fn is_decimal(text: &str) -> bool {
    let mut points = 0;
    let mut digits = 0;
    for c in text.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' => points += 1,
            _ => return false,
        }
    }
    digits > 0 && points <= 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_required_currency_is_known_with_its_exponent() {
        let expected = [
            ("TWD", 0),
            ("HKD", 2),
            ("JPY", 0),
            ("THB", 2),
            ("CNY", 2),
            ("USD", 2),
            ("EUR", 2),
            ("GBP", 2),
            ("SGD", 2),
            ("KRW", 0),
            ("MYR", 2),
            ("PHP", 2),
            ("IDR", 2),
            ("VND", 0),
            ("AUD", 2),
            ("CAD", 2),
        ];
        for (code, exponent) in expected {
            let currency = Currency::parse(code).unwrap();
            assert_eq!(currency.code(), code);
            assert_eq!(currency.exponent(), exponent, "{code}");
        }
        assert_eq!(Currency::ALL.len(), expected.len());
    }

    #[test]
    fn currency_codes_parse_in_any_case_and_unknown_codes_are_refused() {
        assert_eq!(Currency::parse("thb"), Ok(Currency::Thb));
        assert_eq!(Currency::parse("Jpy"), Ok(Currency::Jpy));
        assert_eq!(
            Currency::parse("XYZ"),
            Err(MoneyError::UnknownCurrency("XYZ".into()))
        );
        assert!(Currency::parse("").is_err());
        assert!(Currency::parse("USDX").is_err());
    }

    #[test]
    fn decimal_amounts_become_minor_units() {
        let usd = |s| Money::parse_decimal(s, Currency::Usd).map(Money::amount);
        assert_eq!(usd("12.34"), Ok(1234));
        assert_eq!(usd("12.3"), Ok(1230));
        assert_eq!(usd("12"), Ok(1200));
        assert_eq!(usd(".5"), Ok(50));
        assert_eq!(usd("12.340"), Ok(1234));
        assert_eq!(
            Money::parse_decimal("590", Currency::Twd).map(Money::amount),
            Ok(590)
        );
        assert_eq!(
            Money::parse_decimal("1000", Currency::Jpy).map(Money::amount),
            Ok(1000)
        );
    }

    #[test]
    fn amounts_the_currency_cannot_represent_are_refused() {
        assert_eq!(
            Money::parse_decimal("1.5", Currency::Jpy),
            Err(MoneyError::TooManyDecimals {
                currency: Currency::Jpy,
                exponent: 0
            })
        );
        assert!(matches!(
            Money::parse_decimal("12.345", Currency::Usd),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert_eq!(
            Money::parse_decimal("-1", Currency::Usd),
            Err(MoneyError::Negative)
        );
        for junk in ["", ".", "1.2.3", "1e5", "abc", " 1 2", "+1", "--1"] {
            assert!(
                matches!(
                    Money::parse_decimal(junk, Currency::Usd),
                    Err(MoneyError::Malformed(_))
                ),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(
            Money::parse_decimal("99999999999999999999999", Currency::Usd),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(
            Money::parse_decimal("10000000000", Currency::Usd),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(
            Money::from_minor(MAX_MINOR_UNITS + 1, Currency::Jpy),
            Err(MoneyError::TooLarge)
        );
        let big = Money::from_minor(MAX_MINOR_UNITS, Currency::Jpy).unwrap();
        assert_eq!(big.checked_mul(2), Err(MoneyError::TooLarge));
        assert_eq!(big.checked_add(big), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::from_minor(i64::MAX / 2, Currency::Jpy),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn amounts_of_different_currencies_do_not_add() {
        let a = Money::from_minor(1, Currency::Usd).unwrap();
        let b = Money::from_minor(1, Currency::Eur).unwrap();
        assert_eq!(
            a.checked_add(b),
            Err(MoneyError::CurrencyMismatch(Currency::Usd, Currency::Eur))
        );
    }

    #[test]
    fn decimal_strings_show_the_currency_exponent() {
        let m = |amount, currency| Money::from_minor(amount, currency).unwrap();
        assert_eq!(m(1234, Currency::Usd).to_decimal_string(), "12.34");
        assert_eq!(m(5, Currency::Thb).to_decimal_string(), "0.05");
        assert_eq!(m(590, Currency::Twd).to_decimal_string(), "590");
        assert_eq!(m(7440, Currency::Thb).to_string(), "74.40 THB");
    }

    #[test]
    fn currency_serialises_upper_case_and_deserialises_any_case() {
        assert_eq!(serde_json::to_string(&Currency::Thb).unwrap(), "\"THB\"");
        let parsed: Currency = serde_json::from_str("\"thb\"").unwrap();
        assert_eq!(parsed, Currency::Thb);
        assert!(serde_json::from_str::<Currency>("\"ZZZ\"").is_err());
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        proptest::sample::select(Currency::ALL)
    }

    proptest! {
        #[test]
        fn decimal_form_round_trips(amount in 0..=MAX_MINOR_UNITS, currency in any_currency()) {
            let money = Money::from_minor(amount, currency).unwrap();
            let text = money.to_decimal_string();
            prop_assert_eq!(Money::parse_decimal(&text, currency), Ok(money));
        }

        #[test]
        fn one_digit_past_the_exponent_is_refused(whole in 0u32..1_000_000, currency in any_currency()) {
            let digits = "1".repeat(usize::from(currency.exponent()) + 1);
            let text = format!("{whole}.{digits}");
            let refused = matches!(
                Money::parse_decimal(&text, currency),
                Err(MoneyError::TooManyDecimals { .. })
            );
            prop_assert!(refused);
        }

        #[test]
        fn sums_never_exceed_the_maximum(a in 0..=MAX_MINOR_UNITS, b in 0..=MAX_MINOR_UNITS) {
            let x = Money::from_minor(a, Currency::Usd).unwrap();
            let y = Money::from_minor(b, Currency::Usd).unwrap();
            match x.checked_add(y) {
                Ok(sum) => prop_assert_eq!(sum.amount(), a + b),
                Err(error) => {
                    prop_assert_eq!(error, MoneyError::TooLarge);
                    prop_assert!(a + b > MAX_MINOR_UNITS);
                }
            }
        }

        #[test]
        fn whatever_text_parses_is_in_range_and_round_trips(text in "[-0-9.a ]{0,24}", currency in any_currency()) {
            if let Ok(money) = Money::parse_decimal(&text, currency) {
                prop_assert!((0..=MAX_MINOR_UNITS).contains(&money.amount()));
                prop_assert_eq!(Money::parse_decimal(&money.to_decimal_string(), currency), Ok(money));
            }
        }
    }
}
