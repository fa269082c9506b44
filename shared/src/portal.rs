//! The customer portal's rules: what a portal session may open (its deep-link flows), how
//! long its URL and its browser session last, the CSRF token of its forms, and what a
//! customer is entitled to from their subscriptions (`GET /v1/customers/entitlements`).

use crate::billing::State;

/// How long a portal URL may wait for its first use, and how long the browser session it
/// opens lasts from then.
pub const SESSION_SECS: i64 = 3600;

/// How long an ended subscription still shows in entitlements (as `canceled`), so an app
/// can tell "ended" from "never had it".
pub const ENDED_SHOWN_SECS: i64 = 30 * 86_400;

/// Where a portal session opens, besides the overview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Cancel one subscription at the end of its period.
    Cancel,
    /// Replace the card (of one subscription, or of all).
    UpdatePaymentMethod,
    /// Choose another of the product's allowed prices.
    SwitchPlan,
}

impl Flow {
    pub const ALL: [Flow; 3] = [Flow::Cancel, Flow::UpdatePaymentMethod, Flow::SwitchPlan];

    pub const fn as_str(self) -> &'static str {
        match self {
            Flow::Cancel => "cancel",
            Flow::UpdatePaymentMethod => "update_payment_method",
            Flow::SwitchPlan => "switch_plan",
        }
    }

    /// A flow by its name (`cancel`, `update_payment_method`, `switch_plan`).
    pub fn parse(name: &str) -> Option<Flow> {
        Flow::ALL
            .into_iter()
            .find(|flow| flow.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the flow is about one subscription (and so needs its id).
    pub const fn needs_subscription(self) -> bool {
        !matches!(self, Flow::UpdatePaymentMethod)
    }

    /// The portal path (after `/portal`) the flow lands on.
    pub fn path(self, subscription_id: Option<&str>) -> String {
        match (self, subscription_id) {
            (Flow::Cancel, Some(id)) => format!("/subscriptions/{id}/cancel"),
            (Flow::SwitchPlan, Some(id)) => format!("/subscriptions/{id}/switch"),
            (Flow::UpdatePaymentMethod, Some(id)) => format!("/card?subscription={id}"),
            _ => "/card".to_owned(),
        }
    }
}

/// A portal session's state as its API object shows it.
pub fn status(
    expires_at: i64,
    accessed_at: Option<i64>,
    browse_until: Option<i64>,
    now: i64,
) -> &'static str {
    let open = match accessed_at {
        None => now < expires_at,
        Some(_) => browse_until.is_some_and(|end| now < end),
    };
    if open { "active" } else { "expired" }
}

/// The CSRF token of a browser session's forms: derived from its cookie token, which only
/// that browser holds, so a page elsewhere cannot know it and nothing more is stored.
pub fn csrf_token(browser_token: &str) -> String {
    crate::keys::sha256_hex(format!("till-portal-csrf:{browser_token}").as_bytes())[..32].to_owned()
}

/// What the customer may use, as entitlements name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entitled {
    // In order of preference when several subscriptions cover one product.
    Active,
    Trialing,
    PastDue,
    Canceled,
}

impl Entitled {
    pub const fn as_str(self) -> &'static str {
        match self {
            Entitled::Active => "active",
            Entitled::Trialing => "trialing",
            Entitled::PastDue => "past_due",
            Entitled::Canceled => "canceled",
        }
    }
}

/// What entitlements read of one subscription.
#[derive(Debug, Clone)]
pub struct Held {
    pub subscription_id: String,
    pub product_ids: Vec<String>,
    pub state: State,
    pub cancel_at_period_end: bool,
    pub current_period_end: Option<i64>,
    pub ended_at: Option<i64>,
    /// The time the subscription lives on (its test clock's, or now).
    pub now: i64,
}

impl Held {
    /// What this subscription entitles to now, if anything:
    /// - ACTIVE and TRIALING are `active` and `trialing`, until the end of the period a
    ///   cancellation at period end waits for (then `canceled`, even before the biller has
    ///   written it);
    /// - PAST_DUE keeps access while retries run (`past_due`: the app decides);
    /// - CANCELED and COMPLETED show as `canceled` for [`ENDED_SHOWN_SECS`] after they
    ///   ended (a COMPLETED one stays `active` until its last paid period ends);
    /// - INCOMPLETE and UNPAID entitle to nothing.
    pub fn entitled(&self) -> Option<Entitled> {
        let period_over = self.current_period_end.is_some_and(|end| end <= self.now);
        let recently = |at: Option<i64>| at.is_some_and(|at| self.now - at < ENDED_SHOWN_SECS);
        match self.state {
            State::Active | State::Trialing if self.cancel_at_period_end && period_over => {
                recently(self.current_period_end).then_some(Entitled::Canceled)
            }
            State::Active => Some(Entitled::Active),
            State::Trialing => Some(Entitled::Trialing),
            State::PastDue => Some(Entitled::PastDue),
            State::Completed if !period_over && self.current_period_end.is_some() => {
                Some(Entitled::Active)
            }
            State::Canceled | State::Completed => {
                recently(self.ended_at.or(self.current_period_end)).then_some(Entitled::Canceled)
            }
            State::Incomplete | State::Unpaid => None,
        }
    }
}

/// One product the customer is entitled to, and the subscription that entitles them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    pub product_id: String,
    pub status: Entitled,
    pub subscription_id: String,
}

/// One entitlement per product, from the best of the subscriptions that cover it (`held`
/// newest first: among equals, the newest wins), in the order products first appear.
pub fn entitlements(held: &[Held]) -> Vec<Entitlement> {
    let mut out: Vec<Entitlement> = Vec::new();
    for sub in held {
        let Some(status) = sub.entitled() else {
            continue;
        };
        for product in &sub.product_ids {
            match out.iter_mut().find(|e| &e.product_id == product) {
                Some(existing) if status < existing.status => {
                    existing.status = status;
                    existing.subscription_id = sub.subscription_id.clone();
                }
                Some(_) => {}
                None => out.push(Entitlement {
                    product_id: product.clone(),
                    status,
                    subscription_id: sub.subscription_id.clone(),
                }),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(id: &str, state: State, now: i64) -> Held {
        Held {
            subscription_id: id.to_owned(),
            product_ids: vec!["prod_a".to_owned()],
            state,
            cancel_at_period_end: false,
            current_period_end: Some(1_000),
            ended_at: None,
            now,
        }
    }

    #[test]
    fn states_map_to_what_an_app_gates_on() {
        assert_eq!(
            held("s", State::Active, 500).entitled(),
            Some(Entitled::Active)
        );
        assert_eq!(
            held("s", State::Trialing, 500).entitled(),
            Some(Entitled::Trialing)
        );
        assert_eq!(
            held("s", State::PastDue, 500).entitled(),
            Some(Entitled::PastDue)
        );
        assert_eq!(held("s", State::Unpaid, 500).entitled(), None);
        assert_eq!(held("s", State::Incomplete, 500).entitled(), None);
        let ended = Held {
            ended_at: Some(900),
            ..held("s", State::Canceled, 1_000)
        };
        assert_eq!(ended.entitled(), Some(Entitled::Canceled));
        let long_ago = Held {
            now: 900 + ENDED_SHOWN_SECS,
            ..ended
        };
        assert_eq!(long_ago.entitled(), None);
    }

    #[test]
    fn a_cancellation_at_period_end_keeps_access_until_the_end() {
        let set = Held {
            cancel_at_period_end: true,
            ..held("s", State::Active, 999)
        };
        assert_eq!(set.entitled(), Some(Entitled::Active));
        let over = Held { now: 1_000, ..set };
        assert_eq!(over.entitled(), Some(Entitled::Canceled));
    }

    #[test]
    fn a_completed_subscription_lasts_its_last_paid_period() {
        assert_eq!(
            held("s", State::Completed, 999).entitled(),
            Some(Entitled::Active)
        );
        assert_eq!(
            held("s", State::Completed, 1_001).entitled(),
            Some(Entitled::Canceled)
        );
    }

    #[test]
    fn one_entitlement_per_product_from_the_best_subscription() {
        let old_active = held("sub_old", State::Active, 500);
        let new_past_due = held("sub_new", State::PastDue, 500);
        let mut other = held("sub_b", State::Trialing, 500);
        other.product_ids = vec!["prod_b".to_owned(), "prod_a".to_owned()];
        let list = entitlements(&[new_past_due, other, old_active]);
        assert_eq!(
            list,
            vec![
                Entitlement {
                    product_id: "prod_a".to_owned(),
                    status: Entitled::Active,
                    subscription_id: "sub_old".to_owned()
                },
                Entitlement {
                    product_id: "prod_b".to_owned(),
                    status: Entitled::Trialing,
                    subscription_id: "sub_b".to_owned()
                },
            ]
        );
        assert!(entitlements(&[held("s", State::Unpaid, 500)]).is_empty());
    }

    #[test]
    fn a_url_waits_an_hour_and_a_browser_session_an_hour_from_its_use() {
        assert_eq!(status(3600, None, None, 3599), "active");
        assert_eq!(status(3600, None, None, 3600), "expired");
        assert_eq!(status(3600, Some(10), Some(3610), 3605), "active");
        assert_eq!(status(3600, Some(10), Some(3610), 3610), "expired");
    }

    #[test]
    fn flows_parse_in_both_spellings_and_land_on_their_page() {
        for flow in Flow::ALL {
            assert_eq!(Flow::parse(flow.as_str()), Some(flow));
        }
        assert_eq!(Flow::parse("CANCEL"), Some(Flow::Cancel));
        assert_eq!(Flow::parse("delete_everything"), None);
        assert_eq!(
            Flow::Cancel.path(Some("sub_1")),
            "/subscriptions/sub_1/cancel"
        );
        assert_eq!(Flow::UpdatePaymentMethod.path(None), "/card");
    }

    #[test]
    fn csrf_tokens_differ_per_browser_session() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a").len(), 32);
    }
}
