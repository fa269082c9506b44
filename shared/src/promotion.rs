//! Promotion codes at the till: whether a code can be used now, which lines of a cart it
//! applies to, and how much it takes off — computed on the eligible lines only, so a code
//! for one product never discounts the rest of the cart.

use crate::catalog::Discount;
use crate::money::{Currency, Money, MoneyError};
use crate::pricing::{LineItem, PricingError, subtotal};

/// What anyone but the merchant is told of a code that cannot be used, whatever the reason
/// (no such code, switched off, expired, redeemed, for other products): telling them apart
/// would let a public key or a shopper find out which codes exist.
pub const NOT_USABLE_HERE: &str = "This promotion code cannot be used for this purchase.";

/// How many promotion codes the hosted page lets a shopper try, so that codes cannot be
/// found by guessing: per checkout session and per client address, over a sliding window.
/// A shopper who mistypes a code a few times never meets the limits; a script trying a
/// word list does at once, and an address opening session after session meets the
/// address's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeAttempts {
    pub per_session: i64,
    pub per_address: i64,
    pub window_secs: i64,
}

/// Ten codes per session and thirty per address in any hour.
pub const CODE_ATTEMPTS: CodeAttempts = CodeAttempts {
    per_session: 10,
    per_address: 30,
    window_secs: 3600,
};

/// Why a code cannot be used at all right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("This promotion code is no longer active.")]
    Inactive,
    #[error("This promotion code has expired.")]
    Expired,
    #[error("This promotion code has been fully redeemed.")]
    FullyRedeemed,
}

impl Unusable {
    /// The sentence the API answers with (the same as `Display`).
    pub const fn message(self) -> &'static str {
        match self {
            Unusable::Inactive => "This promotion code is no longer active.",
            Unusable::Expired => "This promotion code has expired.",
            Unusable::FullyRedeemed => "This promotion code has been fully redeemed.",
        }
    }
}

/// Why a code does not discount a cart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    #[error(transparent)]
    Unusable(#[from] Unusable),
    /// The code is restricted to products none of the lines is for.
    #[error("This promotion code does not apply to these products.")]
    NotApplicable,
    /// A fixed amount off in one currency cannot come off a cart in another.
    #[error("This promotion code is in {code}, the items in {items}.")]
    CurrencyMismatch { code: Currency, items: Currency },
    /// The cart itself cannot be priced.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// The stored code has neither a percentage nor an amount with its currency.
    #[error("the promotion code has no readable discount")]
    Malformed,
}

/// The discount of a `promotion_codes` row: `percent_off` (kept to 1–100), or
/// `amount_off` in `currency`. The table's CHECKs make exactly one of them present.
pub fn stored_discount(
    percent_off: Option<i64>,
    amount_off: Option<i64>,
    currency: Option<&str>,
) -> Result<Discount, PromotionError> {
    match (percent_off, amount_off, currency) {
        (Some(percent), _, _) => Ok(Discount::Percent(percent.clamp(1, 100) as u8)),
        (None, Some(amount), Some(currency)) => {
            let currency = Currency::parse(currency).map_err(|_| PromotionError::Malformed)?;
            Money::from_minor(amount, currency)
                .map(Discount::Amount)
                .map_err(|_| PromotionError::Malformed)
        }
        _ => Err(PromotionError::Malformed),
    }
}

/// A promotion code as the till applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub discount: Discount,
    /// The products the code is for; empty means every line is eligible.
    pub product_ids: Vec<String>,
    pub active: bool,
    /// The code stops working at this instant (Unix seconds).
    pub expires_at: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub times_redeemed: i64,
}

/// What a cart costs with a promotion applied (or without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Money,
    pub discount: Money,
    pub total: Money,
}

impl Totals {
    /// A cart without a discount.
    pub fn undiscounted(lines: &[LineItem]) -> Result<Totals, PricingError> {
        let subtotal = subtotal(lines)?;
        Ok(Totals {
            subtotal,
            discount: Money::zero(subtotal.currency()),
            total: subtotal,
        })
    }
}

impl Promotion {
    /// Why the code cannot be used at `now`, checked in this order: switched off, past its
    /// expiry (an expiry *at* `now` has passed), redeemed as often as allowed.
    pub fn unusable_reason(&self, now: i64) -> Option<Unusable> {
        if !self.active {
            Some(Unusable::Inactive)
        } else if self.expires_at.is_some_and(|at| at <= now) {
            Some(Unusable::Expired)
        } else if self
            .max_redemptions
            .is_some_and(|max| self.times_redeemed >= max)
        {
            Some(Unusable::FullyRedeemed)
        } else {
            None
        }
    }

    /// Whether the code takes anything off this line: every line for an unrestricted code,
    /// else lines of the listed products (a line without a product — an amount link — is
    /// never eligible for a restricted code).
    pub fn applies_to(&self, line: &LineItem) -> bool {
        self.product_ids.is_empty()
            || line
                .product_id
                .as_ref()
                .is_some_and(|id| self.product_ids.contains(id))
    }

    /// The subtotal of the lines the code applies to (zero when none does). The whole cart
    /// must price: one currency, no overflow.
    pub fn eligible_subtotal(&self, lines: &[LineItem]) -> Result<Money, PromotionError> {
        let currency = subtotal(lines)?.currency();
        let mut eligible = Money::zero(currency);
        for line in lines.iter().filter(|l| self.applies_to(l)) {
            eligible = eligible
                .checked_add(line.line_total()?)
                .map_err(|_| PricingError::TooLarge)?;
        }
        Ok(eligible)
    }

    /// The amount taken off the cart: a percentage of the eligible lines' subtotal
    /// (rounded down), or the fixed amount capped at that subtotal. Refused when no line is
    /// eligible, or when a fixed amount is in another currency than the cart. Whether the
    /// code can be used now is [`Promotion::unusable_reason`]'s question, not this one's.
    pub fn discount_for(&self, lines: &[LineItem]) -> Result<Money, PromotionError> {
        let eligible = self.eligible_subtotal(lines)?;
        if !lines.iter().any(|l| self.applies_to(l)) {
            return Err(PromotionError::NotApplicable);
        }
        match self.discount.amount_off(eligible) {
            Ok(off) => Ok(off),
            Err(MoneyError::CurrencyMismatch(code, items)) => {
                Err(PromotionError::CurrencyMismatch { code, items })
            }
            // A percentage or a capped amount of a valid subtotal is itself valid.
            Err(_) => Err(PromotionError::Pricing(PricingError::TooLarge)),
        }
    }

    /// The cart's totals with this code, if it can be used at `now` and applies.
    pub fn totals_at(&self, lines: &[LineItem], now: i64) -> Result<Totals, PromotionError> {
        if let Some(reason) = self.unusable_reason(now) {
            return Err(reason.into());
        }
        let subtotal = subtotal(lines)?;
        let discount = self.discount_for(lines)?;
        let total = Money::from_minor(subtotal.amount() - discount.amount(), subtotal.currency())
            .map_err(|_| PricingError::TooLarge)?;
        Ok(Totals {
            subtotal,
            discount,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::tests::one_time;
    use proptest::prelude::*;

    fn twd(amount: i64) -> Money {
        Money::from_minor(amount, Currency::Twd).unwrap()
    }

    fn code(discount: Discount, products: &[&str]) -> Promotion {
        Promotion {
            discount,
            product_ids: products.iter().map(|p| (*p).to_owned()).collect(),
            active: true,
            expires_at: None,
            max_redemptions: None,
            times_redeemed: 0,
        }
    }

    #[test]
    fn a_code_for_one_product_discounts_only_that_product() {
        // TWD's minor unit is one dollar (see money.rs): NT$10,000 is 10_000.
        let sticker = one_time("prod_sticker", 10_000, 1);
        let laptop = one_time("prod_laptop", 300_000, 1);
        let half_off_stickers = code(Discount::Percent(50), &["prod_sticker"]);
        let cart = [sticker, laptop];
        assert_eq!(half_off_stickers.eligible_subtotal(&cart), Ok(twd(10_000)));
        assert_eq!(half_off_stickers.discount_for(&cart), Ok(twd(5_000)));
        assert_eq!(
            half_off_stickers.totals_at(&cart, 0),
            Ok(Totals {
                subtotal: twd(310_000),
                discount: twd(5_000),
                total: twd(305_000),
            })
        );
    }

    #[test]
    fn a_fixed_amount_is_capped_at_the_eligible_lines() {
        let cart = [one_time("a", 300, 2), one_time("b", 10_000, 1)];
        let off = code(Discount::Amount(twd(1_000)), &["a"]);
        assert_eq!(off.discount_for(&cart), Ok(twd(600)));
        let small = code(Discount::Amount(twd(100)), &["a"]);
        assert_eq!(small.discount_for(&cart), Ok(twd(100)));
    }

    #[test]
    fn a_code_for_products_not_in_the_cart_does_not_apply() {
        let cart = [one_time("a", 300, 1)];
        let other = code(Discount::Percent(10), &["b"]);
        assert_eq!(
            other.discount_for(&cart),
            Err(PromotionError::NotApplicable)
        );
        let amount_link = [LineItem::for_amount(twd(500), None)];
        assert_eq!(
            other.discount_for(&amount_link),
            Err(PromotionError::NotApplicable)
        );
        let any = code(Discount::Percent(10), &[]);
        assert_eq!(any.discount_for(&amount_link), Ok(twd(50)));
    }

    #[test]
    fn an_amount_code_in_another_currency_is_refused() {
        let cart = [one_time("a", 300, 1)];
        let dollars = code(
            Discount::Amount(Money::from_minor(100, Currency::Usd).unwrap()),
            &[],
        );
        assert_eq!(
            dollars.discount_for(&cart),
            Err(PromotionError::CurrencyMismatch {
                code: Currency::Usd,
                items: Currency::Twd
            })
        );
        assert_eq!(
            dollars.discount_for(&cart).unwrap_err().to_string(),
            "This promotion code is in USD, the items in TWD."
        );
    }

    #[test]
    fn a_cart_that_cannot_be_priced_gets_no_discount() {
        let any = code(Discount::Percent(10), &[]);
        assert_eq!(
            any.discount_for(&[]),
            Err(PromotionError::Pricing(PricingError::NoLines))
        );
        let mut usd = one_time("b", 1, 1);
        usd.currency = Currency::Usd;
        assert!(matches!(
            any.discount_for(&[one_time("a", 1, 1), usd]),
            Err(PromotionError::Pricing(PricingError::CurrencyMismatch {
                index: 1,
                ..
            }))
        ));
    }

    #[test]
    fn unusable_codes_say_why_in_the_apis_words() {
        let mut promo = code(Discount::Percent(10), &[]);
        assert_eq!(promo.unusable_reason(100), None);
        promo.expires_at = Some(100);
        assert_eq!(promo.unusable_reason(99), None);
        assert_eq!(promo.unusable_reason(100), Some(Unusable::Expired));
        promo.max_redemptions = Some(3);
        promo.times_redeemed = 3;
        promo.expires_at = None;
        assert_eq!(promo.unusable_reason(0), Some(Unusable::FullyRedeemed));
        promo.active = false;
        assert_eq!(promo.unusable_reason(0), Some(Unusable::Inactive));
        assert_eq!(
            promo.totals_at(&[one_time("a", 1, 1)], 0),
            Err(PromotionError::Unusable(Unusable::Inactive))
        );
        for reason in [
            Unusable::Inactive,
            Unusable::Expired,
            Unusable::FullyRedeemed,
        ] {
            assert_eq!(reason.to_string(), reason.message());
        }
    }

    #[test]
    fn the_public_refusal_is_the_pages_words() {
        use crate::locale::{Locale, Text};
        assert_eq!(Locale::En.text(Text::InvalidPromotion), NOT_USABLE_HERE);
    }

    #[test]
    fn stored_discounts_read_as_the_table_allows() {
        assert_eq!(
            stored_discount(Some(20), None, None),
            Ok(Discount::Percent(20))
        );
        assert_eq!(
            stored_discount(Some(250), None, None),
            Ok(Discount::Percent(100))
        );
        assert_eq!(
            stored_discount(None, Some(500), Some("TWD")),
            Ok(Discount::Amount(twd(500)))
        );
        assert_eq!(
            stored_discount(None, Some(500), None),
            Err(PromotionError::Malformed)
        );
        assert_eq!(
            stored_discount(None, Some(5), Some("XYZ")),
            Err(PromotionError::Malformed)
        );
        assert_eq!(
            stored_discount(None, None, None),
            Err(PromotionError::Malformed)
        );
    }

    fn any_discount() -> impl Strategy<Value = Discount> {
        prop_oneof![
            (1u8..=100).prop_map(Discount::Percent),
            (0i64..2_000_000).prop_map(|a| Discount::Amount(twd(a))),
        ]
    }

    /// Carts of up to 12 lines of products `p0`..`p5`, small enough never to overflow.
    fn any_cart() -> impl Strategy<Value = Vec<LineItem>> {
        proptest::collection::vec((0usize..6, 0i64..1_000_000, 1u32..=999), 1..12).prop_map(
            |lines| {
                lines
                    .into_iter()
                    .map(|(product, amount, quantity)| {
                        one_time(&format!("p{product}"), amount, quantity)
                    })
                    .collect()
            },
        )
    }

    fn any_restriction() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec((0usize..6).prop_map(|p| format!("p{p}")), 0..3)
    }

    proptest! {
        #[test]
        fn the_discount_is_never_negative_nor_more_than_the_eligible_lines(
            discount in any_discount(), products in any_restriction(), cart in any_cart()
        ) {
            let promo = Promotion { product_ids: products, ..code(discount, &[]) };
            match promo.discount_for(&cart) {
                Ok(off) => {
                    let eligible = promo.eligible_subtotal(&cart).unwrap();
                    prop_assert!(off.amount() >= 0);
                    prop_assert!(off.amount() <= eligible.amount());
                    let totals = promo.totals_at(&cart, 0).unwrap();
                    prop_assert_eq!(totals.total.amount(), totals.subtotal.amount() - off.amount());
                }
                Err(error) => {
                    prop_assert_eq!(error, PromotionError::NotApplicable);
                    prop_assert!(cart.iter().all(|l| !promo.applies_to(l)));
                }
            }
        }

        #[test]
        fn an_unrestricted_code_discounts_the_whole_subtotal(discount in any_discount(), cart in any_cart()) {
            let promo = code(discount, &[]);
            let whole = discount.amount_off(subtotal(&cart).unwrap()).unwrap();
            prop_assert_eq!(promo.discount_for(&cart), Ok(whole));
        }

        #[test]
        fn adding_an_ineligible_line_never_changes_the_discount(
            discount in any_discount(), products in any_restriction(), cart in any_cart(),
            amount in 0i64..1_000_000, quantity in 1u32..=999, at in 0usize..12,
        ) {
            let promo = Promotion { product_ids: products.clone(), ..code(discount, &[]) };
            prop_assume!(!products.is_empty());
            let before = promo.discount_for(&cart);
            let mut more = cart.clone();
            more.insert(at.min(cart.len()), one_time("not-on-the-list", amount, quantity));
            prop_assert_eq!(promo.discount_for(&more), before);
        }
    }
}
