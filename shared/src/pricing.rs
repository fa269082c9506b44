//! What a cart costs: the priced line items that links, sessions and subscriptions store,
//! their subtotal, and the checks a set of lines must pass to be sold together.
//!
//! A line is a snapshot of a price taken when the link or session was made. Prices never
//! change amount once created, so the snapshot stays true; its JSON form is what D1 holds
//! in `payment_links.line_items` and `checkout_sessions.line_items`, so the field names and
//! string values below are a storage format, not a choice.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::catalog::Interval;
use crate::money::{Currency, Money, MoneyError};

/// The most units of one price a line may carry (the API's `quantity` range is 1 to this).
pub const MAX_QUANTITY: u32 = 999;

/// The longest period multiplier a recurring price may have (`prices.interval_count`'s
/// CHECK allows 1 to this).
pub const MAX_INTERVAL_COUNT: u32 = 1000;

/// Whether a price is charged once or every period. Stored as `one_time` / `recurring`
/// (the `prices.type` CHECK and the line items' `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceType {
    OneTime,
    Recurring,
}

impl PriceType {
    pub const fn as_str(self) -> &'static str {
        match self {
            PriceType::OneTime => "one_time",
            PriceType::Recurring => "recurring",
        }
    }

    /// `one_time` or `recurring`, in any letter case.
    pub fn parse(text: &str) -> Option<PriceType> {
        [PriceType::OneTime, PriceType::Recurring]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for PriceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PriceType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PriceType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PriceType::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not one_time or recurring"))
        })
    }
}

/// How often a recurring price bills: every `interval_count` `interval`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Recurrence {
    pub interval: Interval,
    pub interval_count: u32,
}

impl fmt::Display for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} × {}", self.interval_count, self.interval.as_str())
    }
}

/// Why a line or a set of lines cannot be priced. Variants that name one line of a set
/// carry its `index`, so the caller can point at `line_items[{index}]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("at least one line item is needed")]
    NoLines,
    #[error("`{0}` is not a price type (one_time or recurring)")]
    UnknownPriceType(String),
    #[error("`{0}` is not a billing interval")]
    UnknownInterval(String),
    #[error("a recurring price needs an interval")]
    MissingInterval,
    #[error("a one-time price has no interval")]
    IntervalOnOneTime,
    #[error("quantity {0} is outside 1–{MAX_QUANTITY}")]
    Quantity(i64),
    #[error("interval count {0} is outside 1–{MAX_INTERVAL_COUNT}")]
    IntervalCount(i64),
    #[error(transparent)]
    Amount(#[from] MoneyError),
    #[error("line {index} is priced in {found}, the first line in {expected}")]
    CurrencyMismatch {
        index: usize,
        expected: Currency,
        found: Currency,
    },
    #[error("line {index} is recurring but has no interval")]
    RecurringWithoutInterval { index: usize },
    #[error("line {index} bills every {found}, the first recurring line every {expected}")]
    IntervalMismatch {
        index: usize,
        expected: Recurrence,
        found: Recurrence,
    },
    #[error("the total is larger than the maximum amount")]
    TooLarge,
}

impl PricingError {
    /// The line of the set the error is about, if it is about one.
    pub const fn index(&self) -> Option<usize> {
        match self {
            PricingError::CurrencyMismatch { index, .. }
            | PricingError::RecurringWithoutInterval { index }
            | PricingError::IntervalMismatch { index, .. } => Some(*index),
            _ => None,
        }
    }
}

/// A price's columns as a row holds them (`prices`, or the default price joined into
/// `products_view` / `payment_links_view`): what a line is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceRecord<'a> {
    pub price_id: Option<&'a str>,
    pub product_id: Option<&'a str>,
    pub amount: i64,
    pub currency: &'a str,
    /// `one_time` or `recurring`.
    pub price_type: &'a str,
    pub interval: Option<&'a str>,
    pub interval_count: Option<i64>,
}

/// A priced line: `quantity` units of a price (or of an ad-hoc amount), as links and
/// sessions store it. The JSON shape is the stored one: `price_id`, `product_id`,
/// `quantity`, `amount` (the unit amount in minor units), `currency`, `type`, `interval`,
/// `interval_count`, `name`, absent values as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub price_id: Option<String>,
    pub product_id: Option<String>,
    pub quantity: u32,
    /// The unit amount, in minor units of `currency`.
    pub amount: i64,
    pub currency: Currency,
    #[serde(rename = "type")]
    pub price_type: PriceType,
    pub interval: Option<Interval>,
    pub interval_count: Option<u32>,
    pub name: Option<String>,
}

impl LineItem {
    /// `quantity` units of a stored price, named `name` (the product's name or the price's
    /// nickname, as the caller shows it). The row's strings are parsed here, once; a
    /// recurring price without an interval is refused rather than sold as one-time.
    pub fn from_price(
        price: &PriceRecord<'_>,
        quantity: i64,
        name: Option<String>,
    ) -> Result<LineItem, PricingError> {
        let quantity = u32::try_from(quantity)
            .ok()
            .filter(|q| (1..=MAX_QUANTITY).contains(q))
            .ok_or(PricingError::Quantity(quantity))?;
        let currency = Currency::parse(price.currency)?;
        Money::from_minor(price.amount, currency)?;
        let price_type = PriceType::parse(price.price_type)
            .ok_or_else(|| PricingError::UnknownPriceType(price.price_type.to_owned()))?;
        let (interval, interval_count) = match (price_type, price.interval) {
            (PriceType::OneTime, None) => (None, None),
            (PriceType::OneTime, Some(_)) => return Err(PricingError::IntervalOnOneTime),
            (PriceType::Recurring, None) => return Err(PricingError::MissingInterval),
            (PriceType::Recurring, Some(text)) => {
                let interval = Interval::parse(text)
                    .ok_or_else(|| PricingError::UnknownInterval(text.to_owned()))?;
                // Prices are stored with a count; 1 is what an absent one has always meant.
                let count = price.interval_count.unwrap_or(1);
                let count = u32::try_from(count)
                    .ok()
                    .filter(|c| (1..=MAX_INTERVAL_COUNT).contains(c))
                    .ok_or(PricingError::IntervalCount(count))?;
                (Some(interval), Some(count))
            }
        };
        Ok(LineItem {
            price_id: price.price_id.map(str::to_owned),
            product_id: price.product_id.map(str::to_owned),
            quantity,
            amount: price.amount,
            currency,
            price_type,
            interval,
            interval_count,
            name,
        })
    }

    /// The one line of an amount link: one unit of `amount`, no price, no product.
    pub fn for_amount(amount: Money, name: Option<String>) -> LineItem {
        LineItem {
            price_id: None,
            product_id: None,
            quantity: 1,
            amount: amount.amount(),
            currency: amount.currency(),
            price_type: PriceType::OneTime,
            interval: None,
            interval_count: None,
            name,
        }
    }

    pub fn is_recurring(&self) -> bool {
        self.price_type == PriceType::Recurring
    }

    /// How often the line bills: `None` for one-time lines, and for recurring lines stored
    /// without an interval (which no billing can be made of). An absent count is 1.
    pub fn recurrence(&self) -> Option<Recurrence> {
        match (self.price_type, self.interval) {
            (PriceType::Recurring, Some(interval)) => Some(Recurrence {
                interval,
                interval_count: self.interval_count.unwrap_or(1),
            }),
            _ => None,
        }
    }

    /// One unit's price.
    pub fn unit_price(&self) -> Result<Money, PricingError> {
        Ok(Money::from_minor(self.amount, self.currency)?)
    }

    /// The unit price times the quantity, checked against the maximum amount.
    pub fn line_total(&self) -> Result<Money, PricingError> {
        self.unit_price()?
            .checked_mul(self.quantity)
            .map_err(|_| PricingError::TooLarge)
    }
}

/// The sum of the lines, in their one currency. Refuses an empty set (there is no currency
/// to answer in), lines of different currencies (with the first offending index), and a
/// sum past [`crate::money::MAX_MINOR_UNITS`] — checked, never wrapped.
pub fn subtotal(lines: &[LineItem]) -> Result<Money, PricingError> {
    let first = lines.first().ok_or(PricingError::NoLines)?;
    let mut total = Money::zero(first.currency);
    for (index, line) in lines.iter().enumerate() {
        same_currency(first, line, index)?;
        total = total
            .checked_add(line.line_total()?)
            .map_err(|_| PricingError::TooLarge)?;
    }
    Ok(total)
}

/// Whether a set of lines can be sold together: at least one line, all in the first
/// line's currency, and every recurring line billing on the same interval as the first
/// recurring one (one-time lines may sit beside them; they are charged once). The first
/// line that breaks a rule is named by index.
pub fn check_lines(lines: &[LineItem]) -> Result<(), PricingError> {
    let first = lines.first().ok_or(PricingError::NoLines)?;
    let mut billing: Option<Recurrence> = None;
    for (index, line) in lines.iter().enumerate() {
        same_currency(first, line, index)?;
        if !line.is_recurring() {
            continue;
        }
        let found = line
            .recurrence()
            .ok_or(PricingError::RecurringWithoutInterval { index })?;
        match billing {
            None => billing = Some(found),
            Some(expected) if expected != found => {
                return Err(PricingError::IntervalMismatch {
                    index,
                    expected,
                    found,
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn same_currency(first: &LineItem, line: &LineItem, index: usize) -> Result<(), PricingError> {
    if line.currency == first.currency {
        Ok(())
    } else {
        Err(PricingError::CurrencyMismatch {
            index,
            expected: first.currency,
            found: line.currency,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::money::MAX_MINOR_UNITS;
    use proptest::prelude::*;
    use serde_json::json;

    /// A one-time line of `quantity` × `amount` TWD for `product`.
    pub(crate) fn one_time(product: &str, amount: i64, quantity: u32) -> LineItem {
        LineItem {
            price_id: Some(format!("price_{product}")),
            product_id: Some(product.to_owned()),
            quantity,
            amount,
            currency: Currency::Twd,
            price_type: PriceType::OneTime,
            interval: None,
            interval_count: None,
            name: Some(product.to_owned()),
        }
    }

    pub(crate) fn recurring(
        product: &str,
        amount: i64,
        interval: Interval,
        count: u32,
    ) -> LineItem {
        LineItem {
            price_type: PriceType::Recurring,
            interval: Some(interval),
            interval_count: Some(count),
            ..one_time(product, amount, 1)
        }
    }

    fn record<'a>(price_type: &'a str, interval: Option<&'a str>) -> PriceRecord<'a> {
        PriceRecord {
            price_id: Some("price_1"),
            product_id: Some("prod_1"),
            amount: 590,
            currency: "TWD",
            price_type,
            interval,
            interval_count: Some(3),
        }
    }

    #[test]
    fn price_types_round_trip_as_stored() {
        for t in [PriceType::OneTime, PriceType::Recurring] {
            assert_eq!(PriceType::parse(t.as_str()), Some(t));
            let text = serde_json::to_string(&t).unwrap();
            assert_eq!(text, format!("\"{}\"", t.as_str()));
            assert_eq!(serde_json::from_str::<PriceType>(&text).unwrap(), t);
        }
        assert_eq!(PriceType::parse("RECURRING"), Some(PriceType::Recurring));
        assert_eq!(PriceType::parse("monthly"), None);
    }

    #[test]
    fn a_line_serialises_exactly_as_links_and_sessions_store_it() {
        let line = LineItem::from_price(&record("recurring", Some("MONTH")), 2, None).unwrap();
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            json!({
                "price_id": "price_1", "product_id": "prod_1", "quantity": 2, "amount": 590,
                "currency": "TWD", "type": "recurring", "interval": "MONTH", "interval_count": 3,
                "name": null,
            })
        );
        let amount = LineItem::for_amount(
            Money::from_minor(590, Currency::Twd).unwrap(),
            Some("Donation".into()),
        );
        assert_eq!(
            serde_json::to_value(&amount).unwrap(),
            json!({
                "price_id": null, "product_id": null, "quantity": 1, "amount": 590,
                "currency": "TWD", "type": "one_time", "interval": null, "interval_count": null,
                "name": "Donation",
            })
        );
        // Byte for byte what edge's own `LineItem` wrote, field order included.
        assert_eq!(
            serde_json::to_string(&amount).unwrap(),
            r#"{"price_id":null,"product_id":null,"quantity":1,"amount":590,"currency":"TWD","type":"one_time","interval":null,"interval_count":null,"name":"Donation"}"#
        );
    }

    #[test]
    fn stored_lines_read_back_including_product_link_lines_without_an_interval() {
        // What edge wrote before lines were shared: the same shape, field for field.
        let stored = r#"[{"price_id":"price_a","product_id":"prod_a","quantity":1,"amount":300,
            "currency":"THB","type":"one_time","interval":null,"interval_count":null,"name":"Tea"},
            {"price_id":"price_b","product_id":"prod_b","quantity":3,"amount":100,"currency":"THB",
            "type":"recurring","interval":null,"interval_count":null,"name":null}]"#;
        let lines: Vec<LineItem> = serde_json::from_str(stored).unwrap();
        assert_eq!(lines[0].currency, Currency::Thb);
        assert_eq!(lines[1].quantity, 3);
        assert!(lines[1].is_recurring());
        assert_eq!(lines[1].recurrence(), None);
        let round: Vec<LineItem> =
            serde_json::from_str(&serde_json::to_string(&lines).unwrap()).unwrap();
        assert_eq!(round, lines);
    }

    #[test]
    fn a_price_becomes_a_line_only_when_its_columns_agree() {
        let line = LineItem::from_price(&record("one_time", None), 1, Some("Tea".into())).unwrap();
        assert_eq!((line.interval, line.interval_count), (None, None));
        assert_eq!(line.name.as_deref(), Some("Tea"));
        assert_eq!(
            LineItem::from_price(&record("recurring", None), 1, None),
            Err(PricingError::MissingInterval)
        );
        assert_eq!(
            LineItem::from_price(&record("one_time", Some("MONTH")), 1, None),
            Err(PricingError::IntervalOnOneTime)
        );
        assert_eq!(
            LineItem::from_price(&record("weekly", None), 1, None),
            Err(PricingError::UnknownPriceType("weekly".into()))
        );
        assert_eq!(
            LineItem::from_price(&record("recurring", Some("FORTNIGHT")), 1, None),
            Err(PricingError::UnknownInterval("FORTNIGHT".into()))
        );
        for quantity in [0, -1, 1000] {
            assert_eq!(
                LineItem::from_price(&record("one_time", None), quantity, None),
                Err(PricingError::Quantity(quantity))
            );
        }
        let unknown = PriceRecord {
            currency: "XYZ",
            ..record("one_time", None)
        };
        assert!(matches!(
            LineItem::from_price(&unknown, 1, None),
            Err(PricingError::Amount(MoneyError::UnknownCurrency(_)))
        ));
        let uncounted = PriceRecord {
            interval_count: None,
            ..record("recurring", Some("YEAR"))
        };
        assert_eq!(
            LineItem::from_price(&uncounted, 1, None)
                .unwrap()
                .recurrence(),
            Some(Recurrence {
                interval: Interval::Year,
                interval_count: 1
            })
        );
    }

    #[test]
    fn the_subtotal_sums_unit_amounts_times_quantities() {
        let lines = [one_time("tea", 120, 3), one_time("cake", 95, 1)];
        assert_eq!(
            subtotal(&lines),
            Ok(Money::from_minor(455, Currency::Twd).unwrap())
        );
    }

    #[test]
    fn the_subtotal_refuses_no_lines_mixed_currencies_and_overflow() {
        assert_eq!(subtotal(&[]), Err(PricingError::NoLines));
        let mut usd = one_time("b", 1, 1);
        usd.currency = Currency::Usd;
        assert_eq!(
            subtotal(&[one_time("a", 1, 1), one_time("a", 1, 1), usd]),
            Err(PricingError::CurrencyMismatch {
                index: 2,
                expected: Currency::Twd,
                found: Currency::Usd
            })
        );
        let big = one_time("a", MAX_MINOR_UNITS, 1);
        assert_eq!(
            subtotal(&[big.clone(), one_time("b", 1, 1)]),
            Err(PricingError::TooLarge)
        );
        assert_eq!(
            subtotal(&[one_time("a", MAX_MINOR_UNITS, 2)]),
            Err(PricingError::TooLarge)
        );
        assert_eq!(subtotal(&[big]).map(Money::amount), Ok(MAX_MINOR_UNITS));
    }

    #[test]
    fn lines_sold_together_share_a_currency_and_one_billing_interval() {
        let monthly = recurring("a", 100, Interval::Month, 1);
        let yearly = recurring("b", 100, Interval::Year, 1);
        assert_eq!(check_lines(&[]), Err(PricingError::NoLines));
        assert_eq!(
            check_lines(&[one_time("x", 1, 1), monthly.clone(), monthly.clone()]),
            Ok(())
        );
        assert_eq!(
            check_lines(&[monthly.clone(), one_time("x", 1, 1), yearly.clone()]),
            Err(PricingError::IntervalMismatch {
                index: 2,
                expected: monthly.recurrence().unwrap(),
                found: yearly.recurrence().unwrap(),
            })
        );
        let every_three = recurring("c", 100, Interval::Month, 3);
        assert_eq!(
            check_lines(&[monthly.clone(), every_three]).map_err(|e| e.index()),
            Err(Some(1))
        );
        let mut broken = monthly.clone();
        broken.interval = None;
        assert_eq!(
            check_lines(&[monthly, broken]),
            Err(PricingError::RecurringWithoutInterval { index: 1 })
        );
    }

    #[test]
    fn recurring_lines_after_a_one_time_first_line_are_still_compared() {
        // The first line is one-time: the rule compares recurring lines with each other.
        let lines = [
            one_time("x", 1, 1),
            recurring("a", 100, Interval::Month, 1),
            recurring("b", 100, Interval::Week, 1),
        ];
        assert_eq!(check_lines(&lines).map_err(|e| e.index()), Err(Some(2)));
    }

    fn any_line() -> impl Strategy<Value = LineItem> {
        (0i64..1_000_000, 1u32..=MAX_QUANTITY, any::<bool>()).prop_map(
            |(amount, quantity, monthly)| {
                if monthly {
                    LineItem {
                        quantity,
                        ..recurring("p", amount, Interval::Month, 1)
                    }
                } else {
                    one_time("p", amount, quantity)
                }
            },
        )
    }

    proptest! {
        #[test]
        fn the_subtotal_is_the_exact_sum_of_line_totals(lines in proptest::collection::vec(any_line(), 1..20)) {
            let expected: i64 = lines.iter().map(|l| l.amount * i64::from(l.quantity)).sum();
            prop_assert_eq!(subtotal(&lines).map(Money::amount), Ok(expected));
            prop_assert_eq!(check_lines(&lines), Ok(()));
        }

        #[test]
        fn stored_lines_round_trip(line in any_line()) {
            let text = serde_json::to_string(&line).unwrap();
            prop_assert_eq!(serde_json::from_str::<LineItem>(&text).unwrap(), line);
        }
    }
}
