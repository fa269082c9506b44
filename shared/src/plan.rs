//! What a set of lines makes: the checkout mode it needs (a recurring line means a
//! subscription) and the plan a subscription bills every period — one currency, one
//! interval, the amount checked — with intervals that exist only in SANDBOX refused
//! elsewhere.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::Interval;
use crate::money::{Currency, Money};
use crate::pricing::{LineItem, Recurrence};

/// A checkout session's mode, stored and sent upper-case as the documents name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckoutMode {
    Payment,
    Subscription,
    /// Saves a card and charges nothing.
    Setup,
}

impl CheckoutMode {
    pub const ALL: [CheckoutMode; 3] = [
        CheckoutMode::Payment,
        CheckoutMode::Subscription,
        CheckoutMode::Setup,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CheckoutMode::Payment => "PAYMENT",
            CheckoutMode::Subscription => "SUBSCRIPTION",
            CheckoutMode::Setup => "SETUP",
        }
    }

    /// Any letter case.
    pub fn parse(text: &str) -> Option<CheckoutMode> {
        CheckoutMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether the session takes money now (SETUP does not: no subtotal, no discount).
    pub const fn charges(self) -> bool {
        !matches!(self, CheckoutMode::Setup)
    }

    /// Whether the session keeps the card for later charges (SETUP saves it, SUBSCRIPTION
    /// bills it again); the bank must accept that before anything is charged.
    pub const fn saves_card(self) -> bool {
        !matches!(self, CheckoutMode::Payment)
    }
}

impl fmt::Display for CheckoutMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why lines cannot make the requested checkout or subscription. Variants about one line
/// carry its index in the list the caller passed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("at least one item is needed")]
    NoLines,
    #[error("SUBSCRIPTION mode needs a recurring price")]
    SubscriptionNeedsRecurring,
    #[error("a recurring price needs mode SUBSCRIPTION")]
    PaymentWithRecurring,
    #[error("line {index} is one-time; subscriptions bill recurring prices only")]
    OneTime { index: usize },
    #[error("line {index} is recurring but has no interval")]
    MissingInterval { index: usize },
    #[error("line {index} bills every {interval:?}, which exists only in SANDBOX")]
    SandboxOnlyInterval { index: usize, interval: Interval },
    #[error("line {index} is in {found}, the subscription in {expected}")]
    CurrencyMismatch {
        index: usize,
        expected: Currency,
        found: Currency,
    },
    #[error("line {index} bills every {found}, the subscription every {expected}")]
    IntervalMismatch {
        index: usize,
        expected: Recurrence,
        found: Recurrence,
    },
    #[error("the subscription's amount is too large")]
    TooLarge,
    #[error("quantity applies to one-item subscriptions")]
    NotOneItem,
    #[error("new items must keep the subscription's currency and billing interval")]
    TermsChanged,
}

impl PlanError {
    /// The line the error is about, if it is about one.
    pub const fn index(&self) -> Option<usize> {
        match self {
            PlanError::OneTime { index }
            | PlanError::MissingInterval { index }
            | PlanError::SandboxOnlyInterval { index, .. }
            | PlanError::CurrencyMismatch { index, .. }
            | PlanError::IntervalMismatch { index, .. } => Some(*index),
            _ => None,
        }
    }
}

/// The mode a session with these lines runs in: the one requested, or SUBSCRIPTION when
/// a line is recurring and PAYMENT otherwise. A PAYMENT cannot carry a recurring line
/// (nothing would bill it again) and a SUBSCRIPTION needs one; SETUP takes any lines, as
/// it charges nothing.
pub fn checkout_mode(
    requested: Option<CheckoutMode>,
    lines: &[LineItem],
) -> Result<CheckoutMode, PlanError> {
    let recurring = lines.iter().any(LineItem::is_recurring);
    match requested {
        None if recurring => Ok(CheckoutMode::Subscription),
        None => Ok(CheckoutMode::Payment),
        Some(CheckoutMode::Subscription) if !recurring => {
            Err(PlanError::SubscriptionNeedsRecurring)
        }
        Some(CheckoutMode::Payment) if recurring => Err(PlanError::PaymentWithRecurring),
        Some(mode) => Ok(mode),
    }
}

/// One item of a subscription, as `subscriptions.items` stores it: `price_id`,
/// `product_id`, `quantity`, `unit_amount`, `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    pub price_id: Option<String>,
    pub product_id: Option<String>,
    pub quantity: u32,
    pub unit_amount: i64,
    pub name: Option<String>,
}

/// What a subscription bills every period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    /// The sum of the items, in the plan's currency.
    pub amount: Money,
    pub recurrence: Recurrence,
}

impl Plan {
    /// A plan of stored items (`subscriptions.items`), its amount summed and checked.
    pub fn new(
        items: Vec<PlanItem>,
        currency: Currency,
        recurrence: Recurrence,
    ) -> Result<Plan, PlanError> {
        let mut amount = Money::zero(currency);
        for item in &items {
            amount = Money::from_minor(item.unit_amount, currency)
                .and_then(|unit| unit.checked_mul(item.quantity))
                .and_then(|line| amount.checked_add(line))
                .map_err(|_| PlanError::TooLarge)?;
        }
        Ok(Plan {
            items,
            amount,
            recurrence,
        })
    }

    pub fn currency(&self) -> Currency {
        self.amount.currency()
    }

    /// The same one-item plan with another quantity (a quantity change through the API).
    pub fn with_quantity(&self, quantity: u32) -> Result<Plan, PlanError> {
        let [item] = self.items.as_slice() else {
            return Err(PlanError::NotOneItem);
        };
        let item = PlanItem {
            quantity,
            ..item.clone()
        };
        Plan::new(vec![item], self.currency(), self.recurrence)
    }

    /// Whether this plan may replace a subscription's items: no proration exists, so the
    /// currency and the billing interval must stay as they are.
    pub fn keeps_terms(&self, currency: Currency, recurrence: Recurrence) -> Result<(), PlanError> {
        if self.currency() == currency && self.recurrence == recurrence {
            Ok(())
        } else {
            Err(PlanError::TermsChanged)
        }
    }
}

/// The plan of a subscription created through the API: every line is billed every period,
/// so every line must be recurring, on an interval this environment allows (MINUTE and
/// HOUR only in SANDBOX), in the first line's currency and on its interval.
pub fn subscription_plan(lines: &[LineItem], sandbox: bool) -> Result<Plan, PlanError> {
    plan_of(lines, sandbox, OneTimeLines::Refuse)
}

/// The plan of a SUBSCRIPTION checkout: its recurring lines. One-time lines beside them are
/// charged with the first payment only, so they are left out rather than refused; errors
/// still index the full list.
pub fn checkout_plan(lines: &[LineItem], sandbox: bool) -> Result<Plan, PlanError> {
    if !lines.iter().any(LineItem::is_recurring) {
        return Err(PlanError::SubscriptionNeedsRecurring);
    }
    plan_of(lines, sandbox, OneTimeLines::Skip)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OneTimeLines {
    Refuse,
    Skip,
}

fn plan_of(lines: &[LineItem], sandbox: bool, one_time: OneTimeLines) -> Result<Plan, PlanError> {
    if lines.is_empty() {
        return Err(PlanError::NoLines);
    }
    let mut terms: Option<(Currency, Recurrence)> = None;
    let mut items = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if !line.is_recurring() {
            match one_time {
                OneTimeLines::Skip => continue,
                OneTimeLines::Refuse => return Err(PlanError::OneTime { index }),
            }
        }
        let recurrence = line
            .recurrence()
            .ok_or(PlanError::MissingInterval { index })?;
        if !recurrence.interval.allowed(sandbox) {
            return Err(PlanError::SandboxOnlyInterval {
                index,
                interval: recurrence.interval,
            });
        }
        let (currency, expected) = *terms.get_or_insert((line.currency, recurrence));
        if line.currency != currency {
            return Err(PlanError::CurrencyMismatch {
                index,
                expected: currency,
                found: line.currency,
            });
        }
        if recurrence != expected {
            return Err(PlanError::IntervalMismatch {
                index,
                expected,
                found: recurrence,
            });
        }
        items.push(PlanItem {
            price_id: line.price_id.clone(),
            product_id: line.product_id.clone(),
            quantity: line.quantity,
            unit_amount: line.amount,
            name: line.name.clone(),
        });
    }
    let (currency, recurrence) = terms.ok_or(PlanError::SubscriptionNeedsRecurring)?;
    Plan::new(items, currency, recurrence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::MAX_MINOR_UNITS;
    use crate::pricing::tests::{one_time, recurring};
    use proptest::prelude::*;
    use serde_json::json;

    const MONTHLY: Recurrence = Recurrence {
        interval: Interval::Month,
        interval_count: 1,
    };

    #[test]
    fn modes_round_trip_upper_case() {
        for mode in CheckoutMode::ALL {
            assert_eq!(CheckoutMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(
            CheckoutMode::parse("subscription"),
            Some(CheckoutMode::Subscription)
        );
        assert!(!CheckoutMode::Setup.charges() && CheckoutMode::Payment.charges());
        assert!(CheckoutMode::Setup.saves_card() && CheckoutMode::Subscription.saves_card());
        assert!(!CheckoutMode::Payment.saves_card());
    }

    #[test]
    fn a_recurring_line_makes_a_subscription_unless_told_otherwise() {
        let tea = one_time("tea", 100, 1);
        let club = recurring("club", 300, Interval::Month, 1);
        let mixed = [tea.clone(), club.clone()];
        assert_eq!(checkout_mode(None, &mixed), Ok(CheckoutMode::Subscription));
        assert_eq!(
            checkout_mode(None, std::slice::from_ref(&tea)),
            Ok(CheckoutMode::Payment)
        );
        assert_eq!(
            checkout_mode(Some(CheckoutMode::Payment), &mixed),
            Err(PlanError::PaymentWithRecurring)
        );
        assert_eq!(
            checkout_mode(Some(CheckoutMode::Subscription), &[tea]),
            Err(PlanError::SubscriptionNeedsRecurring)
        );
        assert_eq!(
            checkout_mode(Some(CheckoutMode::Setup), &mixed),
            Ok(CheckoutMode::Setup)
        );
    }

    #[test]
    fn a_subscription_bills_the_sum_of_its_recurring_lines() {
        let lines = [
            recurring("a", 300, Interval::Month, 1),
            LineItem {
                quantity: 2,
                ..recurring("b", 150, Interval::Month, 1)
            },
        ];
        let plan = subscription_plan(&lines, false).unwrap();
        assert_eq!(plan.amount, Money::from_minor(600, Currency::Twd).unwrap());
        assert_eq!(plan.recurrence, MONTHLY);
        assert_eq!(
            serde_json::to_value(&plan.items).unwrap(),
            json!([
                {"price_id": "price_a", "product_id": "a", "quantity": 1, "unit_amount": 300, "name": "a"},
                {"price_id": "price_b", "product_id": "b", "quantity": 2, "unit_amount": 150, "name": "b"},
            ])
        );
    }

    #[test]
    fn api_subscriptions_refuse_one_time_lines_and_checkouts_leave_them_to_the_first_payment() {
        let lines = [
            one_time("setup-fee", 500, 1),
            recurring("club", 300, Interval::Month, 1),
        ];
        assert_eq!(
            subscription_plan(&lines, false),
            Err(PlanError::OneTime { index: 0 })
        );
        let plan = checkout_plan(&lines, false).unwrap();
        assert_eq!(plan.amount.amount(), 300);
        assert_eq!(plan.items.len(), 1);
        assert_eq!(
            checkout_plan(&[one_time("tea", 1, 1)], true),
            Err(PlanError::SubscriptionNeedsRecurring)
        );
        assert_eq!(subscription_plan(&[], true), Err(PlanError::NoLines));
    }

    #[test]
    fn minute_and_hour_intervals_bill_only_in_sandbox() {
        let lines = [recurring("a", 1, Interval::Minute, 5)];
        assert!(subscription_plan(&lines, true).is_ok());
        assert_eq!(
            subscription_plan(&lines, false),
            Err(PlanError::SandboxOnlyInterval {
                index: 0,
                interval: Interval::Minute
            })
        );
    }

    #[test]
    fn every_line_shares_the_first_lines_currency_and_interval() {
        let mut usd = recurring("b", 1, Interval::Month, 1);
        usd.currency = Currency::Usd;
        let lines = [
            one_time("fee", 1, 1),
            recurring("a", 1, Interval::Month, 1),
            usd,
        ];
        assert_eq!(
            checkout_plan(&lines, false),
            Err(PlanError::CurrencyMismatch {
                index: 2,
                expected: Currency::Twd,
                found: Currency::Usd
            })
        );
        let lines = [
            recurring("a", 1, Interval::Month, 1),
            recurring("b", 1, Interval::Month, 2),
        ];
        assert_eq!(
            subscription_plan(&lines, false).map_err(|e| e.index()),
            Err(Some(1))
        );
    }

    #[test]
    fn a_recurring_line_without_an_interval_is_refused_not_dropped() {
        let mut line = recurring("a", 1, Interval::Month, 1);
        line.interval = None;
        assert_eq!(
            checkout_plan(&[line], false),
            Err(PlanError::MissingInterval { index: 0 })
        );
    }

    #[test]
    fn amounts_past_the_maximum_are_refused() {
        let lines = [
            recurring("a", MAX_MINOR_UNITS, Interval::Month, 1),
            recurring("b", 1, Interval::Month, 1),
        ];
        assert_eq!(subscription_plan(&lines, false), Err(PlanError::TooLarge));
    }

    #[test]
    fn a_quantity_change_applies_to_one_item_plans_and_keeps_the_terms() {
        let one = subscription_plan(&[recurring("a", 250, Interval::Month, 1)], false).unwrap();
        let four = one.with_quantity(4).unwrap();
        assert_eq!(four.amount.amount(), 1_000);
        assert_eq!(four.items[0].quantity, 4);
        assert_eq!(four.keeps_terms(Currency::Twd, MONTHLY), Ok(()));
        assert_eq!(
            four.keeps_terms(Currency::Usd, MONTHLY),
            Err(PlanError::TermsChanged)
        );
        let yearly = Recurrence {
            interval: Interval::Year,
            interval_count: 1,
        };
        assert_eq!(
            four.keeps_terms(Currency::Twd, yearly),
            Err(PlanError::TermsChanged)
        );
        let two = subscription_plan(
            &[
                recurring("a", 1, Interval::Month, 1),
                recurring("b", 1, Interval::Month, 1),
            ],
            false,
        )
        .unwrap();
        assert_eq!(two.with_quantity(2), Err(PlanError::NotOneItem));
        assert_eq!(one.with_quantity(u32::MAX), Err(PlanError::TooLarge));
        let max = subscription_plan(
            &[recurring("a", MAX_MINOR_UNITS, Interval::Month, 1)],
            false,
        )
        .unwrap();
        assert_eq!(max.with_quantity(2), Err(PlanError::TooLarge));
    }

    #[test]
    fn stored_items_read_back_into_a_plan() {
        let stored = r#"[{"price_id":"price_a","product_id":"prod_a","quantity":3,"unit_amount":200,"name":null}]"#;
        let items: Vec<PlanItem> = serde_json::from_str(stored).unwrap();
        let plan = Plan::new(items, Currency::Thb, MONTHLY).unwrap();
        assert_eq!(plan.amount, Money::from_minor(600, Currency::Thb).unwrap());
        assert_eq!(serde_json::to_string(&plan.items).unwrap(), stored);
    }

    proptest! {
        #[test]
        fn the_checkout_plan_is_the_recurring_part_of_the_cart(
            cart in proptest::collection::vec((0i64..100_000, 1u32..=999, any::<bool>()), 1..12)
        ) {
            let lines: Vec<LineItem> = cart
                .iter()
                .map(|&(amount, quantity, repeats)| {
                    let line = if repeats { recurring("p", amount, Interval::Week, 1) } else { one_time("p", amount, 1) };
                    LineItem { quantity, ..line }
                })
                .collect();
            let recurring_total: i64 = lines
                .iter()
                .filter(|l| l.is_recurring())
                .map(|l| l.amount * i64::from(l.quantity))
                .sum();
            match checkout_plan(&lines, false) {
                Ok(plan) => prop_assert_eq!(plan.amount.amount(), recurring_total),
                Err(error) => {
                    prop_assert_eq!(error, PlanError::SubscriptionNeedsRecurring);
                    prop_assert!(lines.iter().all(|l| !l.is_recurring()));
                }
            }
        }
    }
}
