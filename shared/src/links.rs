//! Whether a payment link can sell right now, and if not, why — with the page and the
//! HTTP status each reason answers with, so the short-link path, the checkout page and the
//! payment all say the same thing.
//!
//! D1 has the last word: the session INSERT and the reservation repeat these conditions
//! in SQL. This is the same rule read from a row (possibly a cached one), to refuse early
//! and to explain a refusal.

use crate::keys::Environment;
use crate::locale::Text;
use crate::pricing::{LineItem, PriceRecord};

/// The columns of a link that decide whether it can sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState {
    pub active: bool,
    pub deleted: bool,
    /// Reusable; a single-use link sells once.
    pub multiple: bool,
    pub max_completions: Option<i64>,
    pub completed_count: i64,
    /// Payments in flight: they hold a completion until they complete or are released.
    pub reserved_count: i64,
    /// Whether the link prices to at least one line (a product link whose product lost its
    /// price has none).
    pub has_lines: bool,
}

/// Why a link cannot sell now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unavailable {
    /// No link has this code or id.
    NotFound,
    Deleted,
    /// Deactivated (archived) by the merchant.
    Inactive,
    /// `max_completions` payments are completed or in flight.
    SoldOut,
    /// A single-use link that was paid (or is being paid).
    Used,
    /// The link has nothing to sell.
    NothingToSell,
}

impl Unavailable {
    /// The status of the page that says so: 404 for a link that never existed, 410 Gone
    /// for one that existed and cannot sell any more.
    pub const fn status(self) -> u16 {
        match self {
            Unavailable::NotFound => 404,
            _ => 410,
        }
    }

    /// The shopper-facing sentence of that page. A deleted or empty link reads like an
    /// inactive one: the shopper cannot act on the difference.
    pub const fn text(self) -> Text {
        match self {
            Unavailable::NotFound => Text::LinkNotFound,
            Unavailable::Deleted | Unavailable::Inactive | Unavailable::NothingToSell => {
                Text::LinkInactive
            }
            Unavailable::SoldOut | Unavailable::Used => Text::LinkExhausted,
        }
    }

    /// A stable code for logs and API answers.
    pub const fn code(self) -> &'static str {
        match self {
            Unavailable::NotFound => "link_not_found",
            Unavailable::Deleted => "link_deleted",
            Unavailable::Inactive => "link_inactive",
            Unavailable::SoldOut => "link_sold_out",
            Unavailable::Used => "link_used",
            Unavailable::NothingToSell => "link_has_no_items",
        }
    }
}

/// A link's answer to "can it sell now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payability {
    Payable,
    Unavailable(Unavailable),
}

impl Payability {
    pub const fn is_payable(self) -> bool {
        matches!(self, Payability::Payable)
    }

    pub const fn unavailable(self) -> Option<Unavailable> {
        match self {
            Payability::Payable => None,
            Payability::Unavailable(reason) => Some(reason),
        }
    }
}

impl LinkState {
    /// Whether the link sells now. Checked in this order, so the most lasting reason is the
    /// one shown: deleted, inactive, its limit reached (completions *and* reservations
    /// count, as the session INSERT's guard counts them), a single-use link used, no lines.
    pub fn payability(&self) -> Payability {
        let taken = self.completed_count.saturating_add(self.reserved_count);
        let reason = if self.deleted {
            Unavailable::Deleted
        } else if !self.active {
            Unavailable::Inactive
        } else if self.max_completions.is_some_and(|max| taken >= max) {
            Unavailable::SoldOut
        } else if !self.multiple && taken >= 1 {
            Unavailable::Used
        } else if !self.has_lines {
            Unavailable::NothingToSell
        } else {
            return Payability::Payable;
        };
        Payability::Unavailable(reason)
    }
}

/// A link as stored, with its product's summary. Also the snapshot cached in KV for the
/// short-link path.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct LinkRow {
    pub id: String,
    pub account_id: String,
    pub url_id: String,
    pub kind: String,
    pub name: Option<String>,
    pub product_id: Option<String>,
    pub line_items: String,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(
        deserialize_with = "crate::sql::flag",
        serialize_with = "crate::sql::as_flag"
    )]
    pub multiple: bool,
    pub promotion_code: Option<String>,
    #[serde(
        deserialize_with = "crate::sql::flag",
        serialize_with = "crate::sql::as_flag"
    )]
    pub allow_promotion_codes: bool,
    pub collect_payment_method: String,
    pub success_url: Option<String>,
    pub after_completion: Option<String>,
    pub custom_fields: String,
    pub billing_address_collection: String,
    pub customer_creation: String,
    pub submit_type: String,
    pub max_completions: Option<i64>,
    pub metadata: Option<String>,
    #[serde(
        deserialize_with = "crate::sql::flag",
        serialize_with = "crate::sql::as_flag"
    )]
    pub active: bool,
    #[serde(
        deserialize_with = "crate::sql::flag",
        serialize_with = "crate::sql::as_flag"
    )]
    pub deleted: bool,
    pub view_count: i64,
    pub session_count: i64,
    pub completed_count: i64,
    pub reserved_count: i64,
    pub created_via: String,
    pub environment: Environment,
    pub created_at: i64,
    pub updated_at: i64,
    pub product_name: Option<String>,
    pub product_slug: Option<String>,
    pub product_price_id: Option<String>,
    pub product_price: Option<i64>,
    pub product_currency: Option<String>,
    pub product_price_type: Option<String>,
    /// Absent from snapshots cached before the view had it.
    #[serde(default)]
    pub product_price_interval: Option<String>,
    #[serde(default)]
    pub product_price_interval_count: Option<i64>,
}

impl LinkRow {
    /// What a session created from the link would sell: the product's current default
    /// price for product links, the stored lines otherwise.
    pub fn priced_lines(&self) -> Vec<LineItem> {
        if self.kind == "product" {
            let (Some(amount), Some(currency)) = (self.product_price, &self.product_currency)
            else {
                return Vec::new();
            };
            let price = PriceRecord {
                price_id: self.product_price_id.as_deref(),
                product_id: self.product_id.as_deref(),
                amount,
                currency,
                price_type: self.product_price_type.as_deref().unwrap_or("one_time"),
                interval: self.product_price_interval.as_deref(),
                interval_count: self.product_price_interval_count,
            };
            return LineItem::from_price(&price, 1, self.product_name.clone())
                .map(|line| vec![line])
                .unwrap_or_default();
        }
        serde_json::from_str(&self.line_items).unwrap_or_default()
    }

    /// What decides whether the link can sell now.
    pub fn state(&self) -> LinkState {
        LinkState {
            active: self.active,
            deleted: self.deleted,
            multiple: self.multiple,
            max_completions: self.max_completions,
            completed_count: self.completed_count,
            reserved_count: self.reserved_count,
            has_lines: !self.priced_lines().is_empty(),
        }
    }

    pub fn url(&self, base: &str) -> String {
        format!("{base}/{}", self.url_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn open() -> LinkState {
        LinkState {
            active: true,
            deleted: false,
            multiple: true,
            max_completions: None,
            completed_count: 0,
            reserved_count: 0,
            has_lines: true,
        }
    }

    fn reason(state: LinkState) -> Option<Unavailable> {
        state.payability().unavailable()
    }

    #[test]
    fn an_active_link_with_lines_sells() {
        assert_eq!(open().payability(), Payability::Payable);
        assert!(open().payability().is_payable());
    }

    #[test]
    fn deleted_and_inactive_links_are_gone() {
        let deleted = LinkState {
            deleted: true,
            active: false,
            ..open()
        };
        assert_eq!(reason(deleted), Some(Unavailable::Deleted));
        let inactive = LinkState {
            active: false,
            ..open()
        };
        assert_eq!(reason(inactive), Some(Unavailable::Inactive));
        for r in [Unavailable::Deleted, Unavailable::Inactive] {
            assert_eq!((r.status(), r.text()), (410, Text::LinkInactive));
        }
    }

    #[test]
    fn reservations_count_against_max_completions() {
        let limited = LinkState {
            max_completions: Some(3),
            completed_count: 2,
            ..open()
        };
        assert_eq!(limited.payability(), Payability::Payable);
        let held = LinkState {
            reserved_count: 1,
            ..limited
        };
        assert_eq!(reason(held), Some(Unavailable::SoldOut));
        assert_eq!(
            (Unavailable::SoldOut.status(), Unavailable::SoldOut.text()),
            (410, Text::LinkExhausted)
        );
    }

    #[test]
    fn a_single_use_link_sells_once() {
        let single = LinkState {
            multiple: false,
            ..open()
        };
        assert!(single.payability().is_payable());
        let paying = LinkState {
            reserved_count: 1,
            ..single
        };
        assert_eq!(reason(paying), Some(Unavailable::Used));
        assert_eq!(Unavailable::Used.text(), Text::LinkExhausted);
    }

    #[test]
    fn a_link_with_nothing_to_sell_reads_as_inactive() {
        let empty = LinkState {
            has_lines: false,
            ..open()
        };
        assert_eq!(reason(empty), Some(Unavailable::NothingToSell));
        assert_eq!(Unavailable::NothingToSell.text(), Text::LinkInactive);
        assert_eq!(Unavailable::NothingToSell.status(), 410);
    }

    #[test]
    fn the_most_lasting_reason_wins() {
        let everything_wrong = LinkState {
            active: false,
            deleted: true,
            multiple: false,
            max_completions: Some(1),
            completed_count: 1,
            reserved_count: 0,
            has_lines: false,
        };
        assert_eq!(reason(everything_wrong), Some(Unavailable::Deleted));
        assert_eq!(Unavailable::NotFound.status(), 404);
        assert_eq!(Unavailable::NotFound.text(), Text::LinkNotFound);
    }

    proptest! {
        /// The same rule as the session INSERT's SQL guard (`active = 1 AND deleted = 0 AND
        /// (max_completions IS NULL OR completed + reserved < max) AND (multiple = 1 OR
        /// completed + reserved = 0)`), plus having lines.
        #[test]
        fn payable_exactly_when_the_insert_guard_would_pass(
            active in any::<bool>(), deleted in any::<bool>(), multiple in any::<bool>(),
            max in proptest::option::of(1i64..5), completed in 0i64..5, reserved in 0i64..3,
            has_lines in any::<bool>(),
        ) {
            let state = LinkState { active, deleted, multiple, max_completions: max,
                completed_count: completed, reserved_count: reserved, has_lines };
            let taken = completed + reserved;
            let guard = active && !deleted && max.is_none_or(|m| taken < m) && (multiple || taken == 0);
            prop_assert_eq!(state.payability().is_payable(), guard && has_lines);
        }
    }
}
