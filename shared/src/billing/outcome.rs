//! The billing job's decisions for one claimed subscription: whether to charge it now
//! ([`next_step`]), and what the charge's result does ([`outcome`]) — the subscription's
//! next state and billing time, the billing order's record, and the events to write. The
//! job keeps the I/O: the claim, the processor, and the one D1 batch that stores this.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Cycle, DEFAULT_DUNNING_SCHEDULE, FinalFailure, Schedule, State};
use super::{after_failure, after_payment};
use crate::money::{Currency, Money};

/// Who started a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// The schedule (cron or a test clock).
    Auto,
    /// The first charge of a subscription created through the API: a failure makes it
    /// INCOMPLETE rather than starting dunning.
    Creation,
    /// `POST /v1/subscriptions/{id}/retry`.
    Manual,
}

impl Trigger {
    /// `trigger_by` as billing orders and charges store it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Trigger::Auto | Trigger::Creation => "auto",
            Trigger::Manual => "manual",
        }
    }
}

/// An account's dunning settings as the billing job applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dunning {
    /// Seconds after a renewal's first failure at which it is retried.
    pub schedule: Vec<i64>,
    pub final_failure: FinalFailure,
}

impl Dunning {
    /// From `accounts.subscription_retry_schedule` and `subscription_final_state`; what
    /// cannot be read is the default (1, 3, 5 days; then UNPAID).
    pub fn from_stored(schedule: Option<&str>, final_state: Option<&str>) -> Dunning {
        Dunning {
            schedule: crate::retry::stored_dunning_schedule(schedule),
            final_failure: final_state
                .and_then(FinalFailure::parse)
                .unwrap_or(FinalFailure::Unpaid),
        }
    }
}

impl Default for Dunning {
    fn default() -> Dunning {
        Dunning {
            schedule: DEFAULT_DUNNING_SCHEDULE.to_vec(),
            final_failure: FinalFailure::Unpaid,
        }
    }
}

/// What the billing job knows of one claimed subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due<'a> {
    pub trigger: Trigger,
    /// The subscription's time: its test clock's, or the platform's.
    pub now: i64,
    /// The subscription's schedule fields as stored.
    pub schedule: Schedule,
    pub cycle: Cycle,
    pub total_billing_cycles: Option<u32>,
    pub cancel_at_period_end: bool,
    /// Attempts already made at the open billing order (0 before its first).
    pub open_attempts: u32,
    /// When the open order first failed, if it did.
    pub open_first_failed_at: Option<i64>,
    pub dunning: &'a Dunning,
}

/// The charge about to be attempted: the open billing order's `attempt`-th try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOrder {
    pub sequence_no: u32,
    pub attempt: u32,
    /// When the order was due by the calendar.
    pub billing_time: i64,
    /// When the order after it is due.
    pub next_billing_time: i64,
}

impl OpenOrder {
    /// The processor's idempotency key for this attempt: a biller that dies and is
    /// replaced charges with the same key, so the card is charged once.
    pub fn idempotency_key(&self, subscription_id: &str) -> String {
        format!(
            "{}:{}",
            super::billing_order_id(subscription_id, self.sequence_no),
            self.attempt
        )
    }
}

/// What to do with a claimed subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Let go of the claim and change nothing: it has ended, a manual retry does not apply
    /// to its state, or its billing times are out of range.
    Release,
    /// Its period ended while it was set to cancel then: it ends unbilled.
    Cancel(Box<Outcome>),
    /// Charge the open order.
    Charge(OpenOrder),
}

/// How the money is collected for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collect {
    /// Nothing to charge: the order is paid without the processor.
    Free,
    /// Charge the saved card this amount.
    Card(Money),
    /// The charge fails before reaching the processor, with this failure code.
    Decline(&'static str),
}

/// How an order of `amount` minor units of `currency` is collected: a zero amount is paid
/// as it is, an amount the currency cannot carry is a processing error, and without a
/// usable saved card there is no one to charge.
pub fn collect(amount: i64, currency: &str, has_saved_card: bool) -> Collect {
    if amount == 0 {
        return Collect::Free;
    }
    let Some(money) = Currency::parse(currency)
        .ok()
        .and_then(|c| Money::from_minor(amount, c).ok())
    else {
        return Collect::Decline("processing_error");
    };
    if has_saved_card {
        Collect::Card(money)
    } else {
        Collect::Decline("no_payment_method")
    }
}

/// The processor's answer, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeResult {
    Paid,
    Failed,
}

/// A billing order's status as `billing_orders.status` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Paid,
    Failed,
}

impl OrderStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Paid => "PAID",
            OrderStatus::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        [OrderStatus::Paid, OrderStatus::Failed]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl Serialize for OrderStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OrderStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        OrderStatus::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a billing order status"))
        })
    }
}

/// The billing order as the attempt leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRecord {
    pub sequence_no: u32,
    pub status: OrderStatus,
    pub billing_time: i64,
    /// The period this order pays for (a late manual payment starts it today).
    pub period_start: i64,
    pub period_end: i64,
    pub attempts: u32,
    pub first_failed_at: Option<i64>,
    pub paid_at: Option<i64>,
}

/// An event the outcome writes, in the order it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillingEvent {
    BillingOrderPaid,
    BillingOrderFailed,
    /// A renewal was paid: the subscription with its `billing_order`.
    SubscriptionRenewed,
    /// Every state change.
    SubscriptionUpdated,
    SubscriptionCompleted,
    SubscriptionCanceled,
    SubscriptionPastDue,
    SubscriptionUnpaid,
}

impl BillingEvent {
    pub const fn as_str(self) -> &'static str {
        match self {
            BillingEvent::BillingOrderPaid => "billing_order.paid",
            BillingEvent::BillingOrderFailed => "billing_order.failed",
            BillingEvent::SubscriptionRenewed => "subscription.renewed",
            BillingEvent::SubscriptionUpdated => "subscription.updated",
            BillingEvent::SubscriptionCompleted => "subscription.completed",
            BillingEvent::SubscriptionCanceled => "subscription.canceled",
            BillingEvent::SubscriptionPastDue => "subscription.past_due",
            BillingEvent::SubscriptionUnpaid => "subscription.unpaid",
        }
    }

    /// Whether the event's object is the billing order (else the subscription).
    pub const fn is_about_the_order(self) -> bool {
        matches!(
            self,
            BillingEvent::BillingOrderPaid | BillingEvent::BillingOrderFailed
        )
    }

    /// The state's own event, beside `subscription.updated`, for states that have one.
    pub const fn entering(state: State) -> Option<BillingEvent> {
        match state {
            State::Completed => Some(BillingEvent::SubscriptionCompleted),
            State::Canceled => Some(BillingEvent::SubscriptionCanceled),
            State::PastDue => Some(BillingEvent::SubscriptionPastDue),
            State::Unpaid => Some(BillingEvent::SubscriptionUnpaid),
            _ => None,
        }
    }
}

/// Everything a billing decision changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub schedule: Schedule,
    /// Billing times stay whole periods from here; moved only by a late manual payment.
    pub anchor_time: i64,
    pub anchor_sequence: u32,
    /// Set when the subscription ends now (a live subscription has neither).
    pub ended_at: Option<i64>,
    pub canceled_at: Option<i64>,
    /// The billing order's record; `None` when nothing was charged.
    pub order: Option<OrderRecord>,
    pub events: Vec<BillingEvent>,
}

/// A billing time past what the calendar can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("billing time out of range")]
pub struct OutOfRange;

/// Whether to charge a claimed subscription now, and which order.
pub fn next_step(due: &Due<'_>) -> Step {
    let state = due.schedule.state;
    if due.trigger == Trigger::Auto
        && due.cancel_at_period_end
        && matches!(state, State::Active | State::Trialing)
    {
        return Step::Cancel(Box::new(canceled_at_period_end(due)));
    }
    if !state.is_live() || (due.trigger == Trigger::Manual && !state.retryable()) {
        return Step::Release;
    }
    let Some(sequence_no) = due.schedule.completed_billing_iteration.checked_add(1) else {
        return Step::Release;
    };
    let times = sequence_no.checked_add(1).and_then(|next| {
        Some((
            due.cycle.billing_time(sequence_no)?,
            due.cycle.billing_time(next)?,
        ))
    });
    let Some((billing_time, next_billing_time)) = times else {
        return Step::Release;
    };
    Step::Charge(OpenOrder {
        sequence_no,
        attempt: due.open_attempts.saturating_add(1),
        billing_time,
        next_billing_time,
    })
}

/// The period's end came with `cancel_at_period_end` set: CANCELED, ended when the period
/// ended (the time it came due), nothing more to bill.
fn canceled_at_period_end(due: &Due<'_>) -> Outcome {
    Outcome {
        schedule: Schedule {
            state: State::Canceled,
            next_billing_time: None,
            due_at: None,
            ..due.schedule
        },
        anchor_time: due.cycle.anchor,
        anchor_sequence: due.cycle.anchor_sequence,
        ended_at: due.schedule.due_at,
        canceled_at: Some(due.now),
        order: None,
        events: vec![BillingEvent::SubscriptionCanceled],
    }
}

/// What a charge of `order` did:
/// - paid: the next period is scheduled, or the subscription COMPLETES after its
///   `total_billing_cycles`; paid by hand after the next billing time had passed, the
///   calendar restarts today instead of billing again at once;
/// - failed by hand: nothing changes but the order;
/// - failed at creation: INCOMPLETE;
/// - failed on schedule: PAST_DUE with the next retry from the dunning schedule, then the
///   account's final state (UNPAID or CANCELED) once it is used up.
///
/// Events: the order's (`billing_order.paid` + `subscription.renewed`, or
/// `billing_order.failed`), then `subscription.updated` and the new state's own event when
/// the state changed.
pub fn outcome(
    due: &Due<'_>,
    order: &OpenOrder,
    result: ChargeResult,
) -> Result<Outcome, OutOfRange> {
    let now = due.now;
    let mut cycle = due.cycle;
    let (schedule, period, first_failed_at) = match result {
        ChargeResult::Paid => {
            if due.trigger == Trigger::Manual && now >= order.next_billing_time {
                cycle = Cycle {
                    anchor: now,
                    anchor_sequence: order.sequence_no,
                    ..cycle
                };
            }
            let schedule = after_payment(&cycle, order.sequence_no, due.total_billing_cycles)
                .ok_or(OutOfRange)?;
            let period = (
                schedule.current_period_start.unwrap_or(order.billing_time),
                schedule
                    .current_period_end
                    .unwrap_or(order.next_billing_time),
            );
            (schedule, period, due.open_first_failed_at)
        }
        ChargeResult::Failed => {
            let schedule = if due.trigger == Trigger::Manual {
                due.schedule
            } else {
                after_failure(
                    &due.schedule,
                    order.attempt,
                    due.open_first_failed_at.unwrap_or(now),
                    &due.dunning.schedule,
                    due.dunning.final_failure,
                    due.trigger == Trigger::Creation,
                )
            };
            let period = (order.billing_time, order.next_billing_time);
            (schedule, period, due.open_first_failed_at.or(Some(now)))
        }
    };
    let paid = result == ChargeResult::Paid;
    let mut events = if paid {
        vec![
            BillingEvent::BillingOrderPaid,
            BillingEvent::SubscriptionRenewed,
        ]
    } else {
        vec![BillingEvent::BillingOrderFailed]
    };
    if schedule.state != due.schedule.state {
        events.push(BillingEvent::SubscriptionUpdated);
        events.extend(BillingEvent::entering(schedule.state));
    }
    let ended = !schedule.state.is_live();
    Ok(Outcome {
        schedule,
        anchor_time: cycle.anchor,
        anchor_sequence: cycle.anchor_sequence,
        ended_at: ended.then_some(now),
        canceled_at: (schedule.state == State::Canceled).then_some(now),
        order: Some(OrderRecord {
            sequence_no: order.sequence_no,
            status: if paid {
                OrderStatus::Paid
            } else {
                OrderStatus::Failed
            },
            billing_time: order.billing_time,
            period_start: period.0,
            period_end: period.1,
            attempts: order.attempt,
            first_failed_at,
            paid_at: paid.then_some(now),
        }),
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Interval;
    use BillingEvent::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const DAY: i64 = 86_400;

    fn jan_31() -> i64 {
        datetime!(2027-01-31 09:00 UTC).unix_timestamp()
    }

    fn monthly() -> Cycle {
        Cycle {
            anchor: jan_31(),
            anchor_sequence: 1,
            interval: Interval::Month,
            interval_count: 1,
        }
    }

    /// An ACTIVE monthly subscription whose first charge was paid, due for its second.
    fn active(dunning: &Dunning) -> Due<'_> {
        let schedule = after_payment(&monthly(), 1, None).unwrap();
        Due {
            trigger: Trigger::Auto,
            now: schedule.due_at.unwrap(),
            schedule,
            cycle: monthly(),
            total_billing_cycles: None,
            cancel_at_period_end: false,
            open_attempts: 0,
            open_first_failed_at: None,
            dunning,
        }
    }

    fn charge(due: &Due<'_>) -> OpenOrder {
        match next_step(due) {
            Step::Charge(order) => order,
            other => panic!("expected a charge, got {other:?}"),
        }
    }

    /// Runs one attempt and answers the subscription as it is stored afterwards.
    fn attempt<'a>(due: &Due<'a>, result: ChargeResult) -> (Outcome, Due<'a>) {
        let order = charge(due);
        let outcome = outcome(due, &order, result).unwrap();
        let record = outcome.order.unwrap();
        let after = Due {
            schedule: outcome.schedule,
            open_attempts: if result == ChargeResult::Paid {
                0
            } else {
                record.attempts
            },
            open_first_failed_at: if result == ChargeResult::Paid {
                None
            } else {
                record.first_failed_at
            },
            now: outcome.schedule.due_at.unwrap_or(due.now),
            ..*due
        };
        (outcome, after)
    }

    #[test]
    fn a_paid_renewal_opens_the_next_period_on_the_calendar() {
        let dunning = Dunning::default();
        let due = active(&dunning);
        let order = charge(&due);
        assert_eq!((order.sequence_no, order.attempt), (2, 1));
        assert_eq!(
            order.billing_time,
            datetime!(2027-02-28 09:00 UTC).unix_timestamp()
        );
        assert_eq!(order.idempotency_key("sub_1"), "sub_ord_sub_1_0002:1");
        let done = outcome(&due, &order, ChargeResult::Paid).unwrap();
        assert_eq!(done.schedule.state, State::Active);
        assert_eq!(done.schedule.completed_billing_iteration, 2);
        let march_31 = datetime!(2027-03-31 09:00 UTC).unix_timestamp();
        assert_eq!(done.schedule.next_billing_time, Some(march_31));
        assert_eq!(done.schedule.due_at, Some(march_31));
        assert_eq!(done.events, vec![BillingOrderPaid, SubscriptionRenewed]);
        let record = done.order.unwrap();
        assert_eq!(record.status, OrderStatus::Paid);
        assert_eq!(record.paid_at, Some(due.now));
        assert_eq!(
            (record.period_start, record.period_end),
            (order.billing_time, march_31)
        );
        assert_eq!((done.ended_at, done.canceled_at), (None, None));
        assert_eq!((done.anchor_time, done.anchor_sequence), (jan_31(), 1));
    }

    #[test]
    fn failed_renewals_go_past_due_on_the_schedule_then_unpaid() {
        let dunning = Dunning::default();
        let due = active(&dunning);
        let failed_at = due.now;
        let (first, due) = attempt(&due, ChargeResult::Failed);
        assert_eq!(first.schedule.state, State::PastDue);
        assert_eq!(first.schedule.retry_at, Some(failed_at + DAY));
        assert_eq!(
            first.events,
            vec![BillingOrderFailed, SubscriptionUpdated, SubscriptionPastDue]
        );
        assert_eq!(first.order.unwrap().first_failed_at, Some(failed_at));
        let (second, due) = attempt(&due, ChargeResult::Failed);
        assert_eq!(second.schedule.retry_at, Some(failed_at + 3 * DAY));
        assert_eq!(second.events, vec![BillingOrderFailed], "no state change");
        assert_eq!(second.order.unwrap().first_failed_at, Some(failed_at));
        let (third, due) = attempt(&due, ChargeResult::Failed);
        assert_eq!(third.schedule.retry_at, Some(failed_at + 5 * DAY));
        let (last, _) = attempt(&due, ChargeResult::Failed);
        assert_eq!(last.order.unwrap().attempts, 4);
        assert_eq!(last.schedule.state, State::Unpaid);
        assert_eq!((last.schedule.retry_at, last.schedule.due_at), (None, None));
        assert_eq!(
            last.events,
            vec![BillingOrderFailed, SubscriptionUpdated, SubscriptionUnpaid]
        );
        assert_eq!(last.ended_at, None, "UNPAID is kept, to be retried by hand");
    }

    #[test]
    fn an_account_that_cancels_after_the_last_retry_ends_the_subscription() {
        let dunning = Dunning::from_stored(Some("3600"), Some("CANCELED"));
        let due = active(&dunning);
        let (_, due) = attempt(&due, ChargeResult::Failed);
        let (last, _) = attempt(&due, ChargeResult::Failed);
        assert_eq!(last.schedule.state, State::Canceled);
        assert_eq!(last.schedule.next_billing_time, None);
        assert_eq!(
            (last.ended_at, last.canceled_at),
            (Some(due.now), Some(due.now))
        );
        assert_eq!(
            last.events,
            vec![
                BillingOrderFailed,
                SubscriptionUpdated,
                SubscriptionCanceled
            ]
        );
    }

    #[test]
    fn paying_the_last_cycle_completes_the_subscription() {
        let dunning = Dunning::default();
        let due = Due {
            total_billing_cycles: Some(2),
            ..active(&dunning)
        };
        let (done, _) = attempt(&due, ChargeResult::Paid);
        assert_eq!(done.schedule.state, State::Completed);
        assert_eq!(
            (done.schedule.next_billing_time, done.schedule.due_at),
            (None, None)
        );
        assert_eq!(done.ended_at, Some(due.now));
        assert_eq!(done.canceled_at, None);
        assert_eq!(
            done.events,
            vec![
                BillingOrderPaid,
                SubscriptionRenewed,
                SubscriptionUpdated,
                SubscriptionCompleted
            ]
        );
    }

    #[test]
    fn a_subscription_set_to_cancel_at_period_end_ends_unbilled() {
        let dunning = Dunning::default();
        let due = Due {
            cancel_at_period_end: true,
            ..active(&dunning)
        };
        let period_end = due.schedule.due_at;
        let Step::Cancel(ended) = next_step(&due) else {
            panic!("expected a cancellation");
        };
        assert_eq!(ended.schedule.state, State::Canceled);
        assert_eq!(
            (ended.schedule.next_billing_time, ended.schedule.due_at),
            (None, None)
        );
        assert_eq!(ended.ended_at, period_end);
        assert_eq!(ended.canceled_at, Some(due.now));
        assert_eq!(ended.order, None);
        assert_eq!(ended.events, vec![SubscriptionCanceled]);
        // A manual retry is not the period's end: it charges.
        let past_due = Due {
            trigger: Trigger::Manual,
            schedule: Schedule {
                state: State::PastDue,
                ..due.schedule
            },
            ..due
        };
        assert!(matches!(next_step(&past_due), Step::Charge(_)));
    }

    #[test]
    fn a_first_charge_failing_at_creation_leaves_the_subscription_incomplete() {
        let dunning = Dunning::default();
        let due = Due {
            trigger: Trigger::Creation,
            schedule: Schedule {
                completed_billing_iteration: 0,
                ..active(&dunning).schedule
            },
            ..active(&dunning)
        };
        let order = charge(&due);
        assert_eq!(order.sequence_no, 1);
        let failed = outcome(&due, &order, ChargeResult::Failed).unwrap();
        assert_eq!(failed.schedule.state, State::Incomplete);
        assert_eq!(failed.schedule.due_at, None);
        assert_eq!(failed.events, vec![BillingOrderFailed, SubscriptionUpdated]);
    }

    #[test]
    fn a_late_manual_payment_restarts_the_calendar_today() {
        let dunning = Dunning::default();
        let order_due = active(&dunning);
        let late = order_due.now + 40 * DAY;
        let due = Due {
            trigger: Trigger::Manual,
            now: late,
            schedule: Schedule {
                state: State::Unpaid,
                due_at: None,
                ..order_due.schedule
            },
            open_attempts: 4,
            open_first_failed_at: Some(order_due.now),
            ..order_due
        };
        let order = charge(&due);
        assert_eq!(order.attempt, 5);
        let paid = outcome(&due, &order, ChargeResult::Paid).unwrap();
        assert_eq!(paid.schedule.state, State::Active);
        assert_eq!((paid.anchor_time, paid.anchor_sequence), (late, 2));
        let record = paid.order.unwrap();
        assert_eq!(record.period_start, late);
        assert_eq!(
            Some(record.period_end),
            paid.schedule.next_billing_time,
            "one period from today"
        );
        assert_eq!(record.first_failed_at, Some(order_due.now));
        assert_eq!(
            paid.events,
            vec![BillingOrderPaid, SubscriptionRenewed, SubscriptionUpdated]
        );
    }

    #[test]
    fn a_failed_manual_retry_changes_only_the_order() {
        let dunning = Dunning::default();
        let base = active(&dunning);
        let due = Due {
            trigger: Trigger::Manual,
            schedule: Schedule {
                state: State::Unpaid,
                ..base.schedule
            },
            ..base
        };
        let order = charge(&due);
        let failed = outcome(&due, &order, ChargeResult::Failed).unwrap();
        assert_eq!(failed.schedule, due.schedule);
        assert_eq!(failed.events, vec![BillingOrderFailed]);
        assert_eq!(failed.order.unwrap().status, OrderStatus::Failed);
    }

    #[test]
    fn ended_subscriptions_and_manual_retries_of_healthy_ones_are_left_alone() {
        let dunning = Dunning::default();
        let base = active(&dunning);
        for state in [State::Canceled, State::Completed] {
            let due = Due {
                schedule: Schedule {
                    state,
                    ..base.schedule
                },
                ..base
            };
            assert_eq!(next_step(&due), Step::Release, "{state:?}");
        }
        let manual = Due {
            trigger: Trigger::Manual,
            ..base
        };
        assert_eq!(next_step(&manual), Step::Release);
        let far = Due {
            cycle: Cycle {
                anchor: i64::MAX - 10,
                ..base.cycle
            },
            ..base
        };
        assert_eq!(next_step(&far), Step::Release);
    }

    #[test]
    fn free_orders_pay_themselves_and_missing_cards_decline() {
        assert_eq!(collect(0, "TWD", false), Collect::Free);
        assert_eq!(
            collect(590, "TWD", true),
            Collect::Card(Money::from_minor(590, Currency::Twd).unwrap())
        );
        assert_eq!(
            collect(590, "TWD", false),
            Collect::Decline("no_payment_method")
        );
        assert_eq!(
            collect(590, "XYZ", true),
            Collect::Decline("processing_error")
        );
        assert_eq!(
            collect(-1, "TWD", true),
            Collect::Decline("processing_error")
        );
    }

    #[test]
    fn stored_dunning_settings_fall_back_to_the_defaults() {
        assert_eq!(Dunning::from_stored(None, None), Dunning::default());
        assert_eq!(
            Dunning::from_stored(Some("60,120"), Some("canceled")),
            Dunning {
                schedule: vec![60, 120],
                final_failure: FinalFailure::Canceled
            }
        );
        assert_eq!(
            Dunning::from_stored(Some("junk"), Some("ACTIVE")),
            Dunning::default()
        );
        assert_eq!(Trigger::Creation.as_str(), "auto");
        assert_eq!(Trigger::Manual.as_str(), "manual");
        assert!(BillingOrderPaid.is_about_the_order() && !SubscriptionRenewed.is_about_the_order());
        assert_eq!(SubscriptionPastDue.as_str(), "subscription.past_due");
        assert_eq!(OrderStatus::parse("paid"), Some(OrderStatus::Paid));
        assert_eq!(OrderStatus::parse("PENDING"), None);
    }

    fn any_state() -> impl Strategy<Value = State> {
        proptest::sample::select(State::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn outcomes_are_consistent_with_the_state_they_reach(
            state in any_state(),
            trigger in proptest::sample::select(vec![Trigger::Auto, Trigger::Creation, Trigger::Manual]),
            paid in any::<bool>(),
            completed in 0u32..30,
            total in proptest::option::of(1u32..30),
            attempts in 0u32..6,
            late_days in 0i64..90,
            cancels in any::<bool>(),
        ) {
            let dunning = Dunning::default();
            let base = active(&dunning);
            let due = Due {
                trigger,
                now: base.now + late_days * DAY,
                schedule: Schedule { state, completed_billing_iteration: completed, ..base.schedule },
                total_billing_cycles: total.map(|t| t.max(completed + 1)),
                cancel_at_period_end: cancels,
                open_attempts: attempts,
                ..base
            };
            let result = if paid { ChargeResult::Paid } else { ChargeResult::Failed };
            let decided = match next_step(&due) {
                Step::Release => return Ok(()),
                Step::Cancel(outcome) => *outcome,
                Step::Charge(order) => outcome(&due, &order, result).unwrap(),
            };
            let ended = !decided.schedule.state.is_live();
            prop_assert_eq!(ended, decided.ended_at.is_some());
            if ended {
                prop_assert_eq!(decided.schedule.next_billing_time, None);
                prop_assert_eq!(decided.schedule.due_at, None);
            }
            // A state change is announced: `subscription.updated` after a charge, the
            // cancellation's own event at a period's end.
            let changed = decided.schedule.state != due.schedule.state;
            let announced = decided.events.contains(&SubscriptionUpdated)
                || decided.events == [SubscriptionCanceled];
            prop_assert_eq!(changed, announced);
            if let Some(order) = decided.order {
                prop_assert_eq!(order.attempts, attempts + 1);
                prop_assert_eq!(decided.events[0].is_about_the_order(), true);
                prop_assert_eq!(order.status == OrderStatus::Paid, paid);
                prop_assert!(order.period_start < order.period_end);
            }
        }
    }
}
