//! Subscription billing rules: the states, the calendar of billing times (anchored to the
//! first billing day, so Jan 31 + 1 month is Feb 28 or 29 and the month after is Mar 31),
//! billing order ids, the dunning schedule, and what a paid or failed charge does to a
//! subscription. Pure: the Worker stores the results. What the billing job does with one
//! claimed subscription — charge it or not, and what the result changes — is [`next_step`]
//! and [`outcome`]; what a merchant's change may do to a live subscription is [`change`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month, OffsetDateTime};

use crate::catalog::Interval;

mod change;
mod outcome;

pub use change::{ChangeError, Changes, Terms, change};

pub use outcome::{
    BillingEvent, ChargeResult, Collect, Due, Dunning, OpenOrder, OrderRecord, OrderStatus,
    OutOfRange, Outcome, Step, Trigger, collect, next_step, outcome,
};

/// A subscription's state, as the subscription document names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// The first charge, made when the subscription was created, failed.
    Incomplete,
    Trialing,
    Active,
    /// A renewal failed; retries are scheduled.
    PastDue,
    /// Every retry failed; nothing more is attempted until a manual retry.
    Unpaid,
    Canceled,
    /// `total_billing_cycles` were billed.
    Completed,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Incomplete,
        State::Trialing,
        State::Active,
        State::PastDue,
        State::Unpaid,
        State::Canceled,
        State::Completed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            State::Incomplete => "INCOMPLETE",
            State::Trialing => "TRIALING",
            State::Active => "ACTIVE",
            State::PastDue => "PAST_DUE",
            State::Unpaid => "UNPAID",
            State::Canceled => "CANCELED",
            State::Completed => "COMPLETED",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Not ended: the customer may still be billed.
    pub const fn is_live(self) -> bool {
        !matches!(self, State::Canceled | State::Completed)
    }

    /// The states a manual charge retry applies to (the subscription document's rule).
    pub const fn retryable(self) -> bool {
        matches!(self, State::Unpaid | State::Incomplete | State::PastDue)
    }
}

/// Stored and sent as [`State::as_str`] (`"PAST_DUE"`), the spelling the `subscriptions`
/// table's CHECK allows.
impl Serialize for State {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        State::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a subscription state"))
        })
    }
}

/// Seconds after a renewal's first failure at which it is retried: 1, 3 and 5 days.
pub const DEFAULT_DUNNING_SCHEDULE: &[i64] = &[86_400, 3 * 86_400, 5 * 86_400];

/// `sub_ord_{subscription}_{0001}`: the order of the `sequence_no`-th charge.
pub fn billing_order_id(subscription_id: &str, sequence_no: u32) -> String {
    format!("sub_ord_{subscription_id}_{sequence_no:04}")
}

/// `time + n` intervals. Months and years are counted on the calendar from `time`'s day,
/// clamped to the month's length; the time of day is kept. `None` out of range.
pub fn add_intervals(time: i64, interval: Interval, n: i64) -> Option<i64> {
    let seconds = |unit: i64| n.checked_mul(unit).and_then(|d| time.checked_add(d));
    match interval {
        Interval::Minute => seconds(60),
        Interval::Hour => seconds(3_600),
        Interval::Day => seconds(86_400),
        Interval::Week => seconds(7 * 86_400),
        Interval::Month => add_months(time, n),
        Interval::Year => add_months(time, n.checked_mul(12)?),
    }
}

fn add_months(time: i64, months: i64) -> Option<i64> {
    let at = OffsetDateTime::from_unix_timestamp(time).ok()?;
    let index = i64::from(at.year()) * 12 + i64::from(u8::from(at.month())) - 1 + months;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = at.day().min(time::util::days_in_month(month, year));
    let date = Date::from_calendar_date(year, month, day).ok()?;
    Some(at.replace_date(date).unix_timestamp())
}

/// The most renewals one test-clock advance may bill per subscription: a clock moved five
/// years on a price billed every minute would be millions of charges.
pub const MAX_CLOCK_CYCLES: i64 = 1_000;

/// The latest time a test clock at `from` may be advanced to in one call, given the
/// periods (`interval` × `count`) of its live subscriptions: [`MAX_CLOCK_CYCLES`] of the
/// shortest. `None` when nothing bills on it (no bound but the clock's own).
pub fn clock_advance_limit(
    from: i64,
    periods: impl IntoIterator<Item = (Interval, u32)>,
) -> Option<i64> {
    periods
        .into_iter()
        .map(|(interval, count)| {
            let periods = i64::from(count.max(1)).saturating_mul(MAX_CLOCK_CYCLES);
            add_intervals(from, interval, periods).unwrap_or(i64::MAX)
        })
        .min()
}

/// When a subscription bills: `anchor` is the billing time of charge `anchor_sequence`,
/// and every charge is a whole number of periods from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    pub anchor: i64,
    pub anchor_sequence: u32,
    pub interval: Interval,
    pub interval_count: u32,
}

impl Cycle {
    /// The scheduled time of the `sequence_no`-th charge (1-based).
    pub fn billing_time(&self, sequence_no: u32) -> Option<i64> {
        let periods = i64::from(sequence_no) - i64::from(self.anchor_sequence);
        add_intervals(
            self.anchor,
            self.interval,
            periods.checked_mul(i64::from(self.interval_count))?,
        )
    }
}

/// A subscription's schedule fields after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub state: State,
    pub completed_billing_iteration: u32,
    pub last_billing_time: Option<i64>,
    pub next_billing_time: Option<i64>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    /// When the failed order is tried again (PAST_DUE only).
    pub retry_at: Option<i64>,
    /// When the billing job should next look at the subscription; `None` = never.
    pub due_at: Option<i64>,
}

/// A new subscription's schedule before its first charge: TRIALING until `trial_end`, the
/// trial being its current period, or ACTIVE with no period yet; the first charge is due
/// when the trial ends, or at `start`.
pub fn before_first_charge(start: i64, trial_end: Option<i64>) -> Schedule {
    let first = trial_end.unwrap_or(start);
    Schedule {
        state: if trial_end.is_some() {
            State::Trialing
        } else {
            State::Active
        },
        completed_billing_iteration: 0,
        last_billing_time: None,
        next_billing_time: Some(first),
        current_period_start: trial_end.map(|_| start),
        current_period_end: trial_end,
        retry_at: None,
        due_at: Some(first),
    }
}

/// After charge `sequence_no` was paid: the period it opened is current, the next charge is
/// due one period later, or the subscription is COMPLETED when it was the last.
pub fn after_payment(
    cycle: &Cycle,
    sequence_no: u32,
    total_billing_cycles: Option<u32>,
) -> Option<Schedule> {
    let start = cycle.billing_time(sequence_no)?;
    let end = cycle.billing_time(sequence_no.checked_add(1)?)?;
    let done = total_billing_cycles.is_some_and(|total| sequence_no >= total);
    Some(Schedule {
        state: if done {
            State::Completed
        } else {
            State::Active
        },
        completed_billing_iteration: sequence_no,
        last_billing_time: Some(start),
        next_billing_time: (!done).then_some(end),
        current_period_start: Some(start),
        current_period_end: Some(end),
        retry_at: None,
        due_at: (!done).then_some(end),
    })
}

/// What the subscription does after every retry failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalFailure {
    Unpaid,
    Canceled,
}

impl FinalFailure {
    pub fn parse(text: &str) -> Option<FinalFailure> {
        match State::parse(text)? {
            State::Unpaid => Some(FinalFailure::Unpaid),
            State::Canceled => Some(FinalFailure::Canceled),
            _ => None,
        }
    }

    pub const fn state(self) -> State {
        match self {
            FinalFailure::Unpaid => State::Unpaid,
            FinalFailure::Canceled => State::Canceled,
        }
    }
}

/// A test clock's status: READY, or ADVANCING while the billing job bills what its move
/// made due (one advance at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ClockStatus {
    Ready,
    Advancing,
}

/// Where a failed charge leaves the subscription: the first charge of a subscription
/// created through the API makes it INCOMPLETE (no automatic retries); a renewal makes it
/// PAST_DUE with a retry `schedule[attempts - 1]` seconds after the first failure, and
/// once the schedule is used up, `final_failure`. `current` keeps the other fields.
pub fn after_failure(
    current: &Schedule,
    attempts: u32,
    first_failed_at: i64,
    schedule: &[i64],
    final_failure: FinalFailure,
    first_charge_at_creation: bool,
) -> Schedule {
    let retry = usize::try_from(attempts.saturating_sub(1))
        .ok()
        .and_then(|i| schedule.get(i))
        .map(|delay| first_failed_at.saturating_add(*delay));
    let (state, retry_at) = match retry {
        _ if first_charge_at_creation => (State::Incomplete, None),
        Some(at) => (State::PastDue, Some(at)),
        None => (final_failure.state(), None),
    };
    Schedule {
        state,
        retry_at,
        due_at: retry_at,
        next_billing_time: if state.is_live() {
            current.next_billing_time
        } else {
            None
        },
        ..*current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn a_clock_advance_is_bounded_by_its_shortest_subscription() {
        let from = datetime!(2026-01-31 09:00 UTC).unix_timestamp();
        assert_eq!(clock_advance_limit(from, []), None);
        // Every minute: a thousand minutes; beside a monthly one, still the minute's bound.
        assert_eq!(
            clock_advance_limit(from, [(Interval::Month, 1), (Interval::Minute, 1)]),
            Some(from + 1_000 * 60)
        );
        // Every two hours: two thousand hours.
        assert_eq!(
            clock_advance_limit(from, [(Interval::Hour, 2)]),
            Some(from + 2_000 * 3_600)
        );
        // Monthly: a thousand months is far beyond the clock's own five-year bound.
        assert!(
            clock_advance_limit(from, [(Interval::Month, 1)]).unwrap() > from + 80 * 366 * 86_400
        );
    }

    fn unix(at: OffsetDateTime) -> i64 {
        at.unix_timestamp()
    }

    fn monthly(anchor: i64) -> Cycle {
        Cycle {
            anchor,
            anchor_sequence: 1,
            interval: Interval::Month,
            interval_count: 1,
        }
    }

    #[test]
    fn months_are_anchored_to_the_first_day_and_clamped() {
        let cycle = monthly(unix(datetime!(2027-01-31 12:00 UTC)));
        let times: Vec<i64> = (1..=4).map(|n| cycle.billing_time(n).unwrap()).collect();
        assert_eq!(
            times,
            vec![
                unix(datetime!(2027-01-31 12:00 UTC)),
                unix(datetime!(2027-02-28 12:00 UTC)),
                unix(datetime!(2027-03-31 12:00 UTC)),
                unix(datetime!(2027-04-30 12:00 UTC)),
            ]
        );
        let leap = monthly(unix(datetime!(2028-01-31 00:00 UTC)));
        assert_eq!(
            leap.billing_time(2),
            Some(unix(datetime!(2028-02-29 00:00 UTC)))
        );
        let yearly = Cycle {
            interval: Interval::Year,
            ..monthly(unix(datetime!(2028-02-29 08:30 UTC)))
        };
        assert_eq!(
            yearly.billing_time(2),
            Some(unix(datetime!(2029-02-28 08:30 UTC)))
        );
        assert_eq!(
            yearly.billing_time(5),
            Some(unix(datetime!(2032-02-29 08:30 UTC)))
        );
    }

    #[test]
    fn short_intervals_add_seconds() {
        let cycle = Cycle {
            anchor: 1_000,
            anchor_sequence: 3,
            interval: Interval::Minute,
            interval_count: 5,
        };
        assert_eq!(cycle.billing_time(3), Some(1_000));
        assert_eq!(cycle.billing_time(4), Some(1_300));
        assert_eq!(cycle.billing_time(2), Some(700));
        assert_eq!(add_intervals(0, Interval::Week, 2), Some(14 * 86_400));
        assert_eq!(add_intervals(i64::MAX, Interval::Day, 1), None);
    }

    #[test]
    fn order_ids_carry_the_sequence_number() {
        assert_eq!(billing_order_id("sub_abc", 1), "sub_ord_sub_abc_0001");
        assert_eq!(billing_order_id("sub_abc", 12), "sub_ord_sub_abc_0012");
    }

    #[test]
    fn a_trial_is_the_first_period_and_ends_with_the_first_charge() {
        let trial = before_first_charge(100, Some(500));
        assert_eq!(trial.state, State::Trialing);
        assert_eq!(
            (trial.current_period_start, trial.current_period_end),
            (Some(100), Some(500))
        );
        assert_eq!(
            (trial.next_billing_time, trial.due_at),
            (Some(500), Some(500))
        );
        let plain = before_first_charge(100, None);
        assert_eq!(plain.state, State::Active);
        assert_eq!(
            (plain.current_period_start, plain.due_at),
            (None, Some(100))
        );
        assert_eq!(plain.completed_billing_iteration, 0);
    }

    #[test]
    fn the_last_paid_cycle_completes_the_subscription() {
        let cycle = monthly(unix(datetime!(2027-01-31 00:00 UTC)));
        let second = after_payment(&cycle, 2, Some(3)).unwrap();
        assert_eq!(second.state, State::Active);
        assert_eq!(
            second.next_billing_time,
            Some(unix(datetime!(2027-03-31 00:00 UTC)))
        );
        assert_eq!(second.due_at, second.next_billing_time);
        let third = after_payment(&cycle, 3, Some(3)).unwrap();
        assert_eq!(third.state, State::Completed);
        assert_eq!(
            (
                third.next_billing_time,
                third.due_at,
                third.completed_billing_iteration
            ),
            (None, None, 3)
        );
        assert_eq!(
            after_payment(&cycle, 40, None).unwrap().state,
            State::Active
        );
    }

    #[test]
    fn failures_walk_through_the_dunning_schedule() {
        let cycle = monthly(0);
        let paid = after_payment(&cycle, 1, None).unwrap();
        let failed_at = paid.next_billing_time.unwrap();
        let step = |attempts| {
            after_failure(
                &paid,
                attempts,
                failed_at,
                DEFAULT_DUNNING_SCHEDULE,
                FinalFailure::Unpaid,
                false,
            )
        };
        assert_eq!(step(1).state, State::PastDue);
        assert_eq!(step(1).retry_at, Some(failed_at + 86_400));
        assert_eq!(step(2).retry_at, Some(failed_at + 3 * 86_400));
        assert_eq!(step(3).due_at, Some(failed_at + 5 * 86_400));
        assert_eq!(step(4).state, State::Unpaid);
        assert_eq!(step(4).due_at, None);
        assert_eq!(step(4).next_billing_time, paid.next_billing_time);
        let canceled = after_failure(&paid, 4, failed_at, &[60], FinalFailure::Canceled, false);
        assert_eq!(canceled.state, State::Canceled);
        assert_eq!(canceled.next_billing_time, None);
        let first = after_failure(
            &paid,
            1,
            0,
            DEFAULT_DUNNING_SCHEDULE,
            FinalFailure::Unpaid,
            true,
        );
        assert_eq!((first.state, first.due_at), (State::Incomplete, None));
    }

    #[test]
    fn states_round_trip_and_know_their_rules() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(State::parse("past_due"), Some(State::PastDue));
        assert!(State::PastDue.retryable() && !State::Active.retryable());
        assert!(!State::Completed.is_live() && State::Trialing.is_live());
        assert_eq!(
            FinalFailure::parse("canceled"),
            Some(FinalFailure::Canceled)
        );
        assert_eq!(FinalFailure::parse("ACTIVE"), None);
        for state in State::ALL {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, serde_json::json!(state.as_str()));
            assert_eq!(serde_json::from_value::<State>(json).unwrap(), state);
        }
        assert!(serde_json::from_value::<State>(serde_json::json!("DORMANT")).is_err());
    }

    proptest! {
        #[test]
        fn monthly_billing_keeps_the_anchor_day_when_the_month_has_it(
            anchor in 946_684_800i64..4_102_444_800,
            n in 1u32..600,
        ) {
            let cycle = monthly(anchor);
            let start = OffsetDateTime::from_unix_timestamp(anchor).unwrap();
            let at = OffsetDateTime::from_unix_timestamp(cycle.billing_time(n).unwrap()).unwrap();
            let days = time::util::days_in_month(at.month(), at.year());
            prop_assert_eq!(at.day(), start.day().min(days));
            prop_assert_eq!(at.time(), start.time());
            let months = (at.year() - start.year()) * 12
                + i32::from(u8::from(at.month())) - i32::from(u8::from(start.month()));
            prop_assert_eq!(months, i32::try_from(n - 1).unwrap());
        }

        #[test]
        fn billing_times_strictly_increase(
            anchor in 946_684_800i64..4_102_444_800,
            count in 1u32..13,
            n in 1u32..300,
            unit in 0usize..6,
        ) {
            let interval = [Interval::Minute, Interval::Hour, Interval::Day, Interval::Week, Interval::Month, Interval::Year][unit];
            let cycle = Cycle { anchor, anchor_sequence: 1, interval, interval_count: count };
            prop_assert!(cycle.billing_time(n + 1).unwrap() > cycle.billing_time(n).unwrap());
        }
    }
}
