//! What a merchant's change may do to a live subscription's terms (`PATCH
//! /v1/subscriptions/{id}`): limit or unlimit its billing cycles, move its start before the
//! first charge (the trial, if any, moves with it), and set it to cancel at the end of its
//! period. Items and quantity are the plan's rules ([`crate::plan`]).

use super::State;

/// The fields of a subscription a change may move, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub state: State,
    pub completed_billing_iteration: u32,
    pub total_billing_cycles: Option<u32>,
    pub start_time: i64,
    pub trial_end: Option<i64>,
    /// The first billing time, while nothing was billed yet.
    pub anchor_time: i64,
    pub next_billing_time: Option<i64>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub due_at: Option<i64>,
    pub cancel_at_period_end: bool,
}

/// What a merchant asked to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Changes {
    /// `Some(None)` lifts the limit.
    pub total_billing_cycles: Option<Option<u32>>,
    /// The new start (already checked not to be in the past).
    pub start_time: Option<i64>,
    pub cancel_at_period_end: Option<bool>,
}

/// Why a change was refused, checked in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("{completed} cycles were already billed")]
    AlreadyBilled { completed: u32 },
    #[error("the start can move only before the first charge")]
    StartAfterFirstCharge,
    #[error("only ACTIVE or TRIALING subscriptions cancel at period end")]
    CannotCancelAtPeriodEnd,
}

impl State {
    /// ACTIVE or TRIALING: the current period is covered (paid, or a trial), so the
    /// subscription can run to its end and stop there.
    pub const fn runs_to_period_end(self) -> bool {
        matches!(self, State::Active | State::Trialing)
    }
}

/// The terms after `changes`:
/// - a cycle limit may not be below the cycles already billed;
/// - the start moves only before the first charge, and the first billing time moves with
///   it (after the trial, which keeps its length and stays the current period, if there is
///   one);
/// - only a subscription that runs to its period's end can be set to cancel then (unset
///   is always allowed).
pub fn change(terms: &Terms, changes: &Changes) -> Result<Terms, ChangeError> {
    let mut after = *terms;
    if let Some(total) = changes.total_billing_cycles {
        let completed = terms.completed_billing_iteration;
        if total.is_some_and(|t| t < completed.max(1)) {
            return Err(ChangeError::AlreadyBilled { completed });
        }
        after.total_billing_cycles = total;
    }
    if let Some(start) = changes.start_time {
        if terms.completed_billing_iteration > 0 || !terms.state.runs_to_period_end() {
            return Err(ChangeError::StartAfterFirstCharge);
        }
        let first = terms
            .trial_end
            .map_or(start, |end| start.saturating_add(end - terms.start_time));
        after.start_time = start;
        after.anchor_time = first;
        after.next_billing_time = Some(first);
        after.due_at = Some(first);
        if terms.trial_end.is_some() {
            // The trial is the current period: it moves with the start.
            after.trial_end = Some(first);
            after.current_period_start = Some(start);
            after.current_period_end = Some(first);
        }
    }
    if let Some(flag) = changes.cancel_at_period_end {
        if flag && !terms.state.runs_to_period_end() {
            return Err(ChangeError::CannotCancelAtPeriodEnd);
        }
        after.cancel_at_period_end = flag;
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    /// A subscription created at day 0 with a 14-day trial, nothing billed yet.
    fn trialing() -> Terms {
        Terms {
            state: State::Trialing,
            completed_billing_iteration: 0,
            total_billing_cycles: None,
            start_time: 0,
            trial_end: Some(14 * DAY),
            anchor_time: 14 * DAY,
            next_billing_time: Some(14 * DAY),
            current_period_start: Some(0),
            current_period_end: Some(14 * DAY),
            due_at: Some(14 * DAY),
            cancel_at_period_end: false,
        }
    }

    fn active_after(cycles: u32) -> Terms {
        Terms {
            state: State::Active,
            completed_billing_iteration: cycles,
            trial_end: None,
            ..trialing()
        }
    }

    #[test]
    fn no_changes_change_nothing() {
        assert_eq!(change(&trialing(), &Changes::default()), Ok(trialing()));
    }

    #[test]
    fn a_trial_moves_with_its_start_and_keeps_its_length() {
        let moved = change(
            &trialing(),
            &Changes {
                start_time: Some(3 * DAY),
                ..Changes::default()
            },
        )
        .unwrap();
        assert_eq!(moved.start_time, 3 * DAY);
        assert_eq!(moved.trial_end, Some(17 * DAY));
        assert_eq!(
            (moved.anchor_time, moved.next_billing_time, moved.due_at),
            (17 * DAY, Some(17 * DAY), Some(17 * DAY))
        );
        assert_eq!(
            (moved.current_period_start, moved.current_period_end),
            (Some(3 * DAY), Some(17 * DAY)),
            "the trial is the current period"
        );
    }

    #[test]
    fn without_a_trial_the_first_charge_is_the_new_start() {
        let scheduled = Terms {
            state: State::Active,
            trial_end: None,
            current_period_start: None,
            current_period_end: None,
            ..trialing()
        };
        let moved = change(
            &scheduled,
            &Changes {
                start_time: Some(5 * DAY),
                ..Changes::default()
            },
        )
        .unwrap();
        assert_eq!((moved.anchor_time, moved.due_at), (5 * DAY, Some(5 * DAY)));
        assert_eq!((moved.trial_end, moved.current_period_end), (None, None));
    }

    #[test]
    fn the_start_is_fixed_once_something_was_charged_or_it_is_not_running() {
        let start = Changes {
            start_time: Some(DAY),
            ..Changes::default()
        };
        assert_eq!(
            change(&active_after(1), &start),
            Err(ChangeError::StartAfterFirstCharge)
        );
        let incomplete = Terms {
            state: State::Incomplete,
            ..active_after(0)
        };
        assert_eq!(
            change(&incomplete, &start),
            Err(ChangeError::StartAfterFirstCharge)
        );
    }

    #[test]
    fn a_cycle_limit_cannot_undercut_what_was_billed() {
        let limit = |total| Changes {
            total_billing_cycles: Some(total),
            ..Changes::default()
        };
        assert_eq!(
            change(&active_after(3), &limit(Some(2))),
            Err(ChangeError::AlreadyBilled { completed: 3 })
        );
        assert_eq!(
            change(&active_after(3), &limit(Some(3)))
                .unwrap()
                .total_billing_cycles,
            Some(3)
        );
        let limited = Terms {
            total_billing_cycles: Some(5),
            ..active_after(3)
        };
        assert_eq!(
            change(&limited, &limit(None)).unwrap().total_billing_cycles,
            None
        );
    }

    #[test]
    fn only_a_running_subscription_is_set_to_cancel_at_period_end() {
        let set = |flag| Changes {
            cancel_at_period_end: Some(flag),
            ..Changes::default()
        };
        assert!(
            change(&active_after(2), &set(true))
                .unwrap()
                .cancel_at_period_end
        );
        for state in [State::PastDue, State::Unpaid, State::Incomplete] {
            let terms = Terms {
                state,
                ..active_after(2)
            };
            assert_eq!(
                change(&terms, &set(true)),
                Err(ChangeError::CannotCancelAtPeriodEnd)
            );
            assert_eq!(change(&terms, &set(false)), Ok(terms), "unset is allowed");
        }
    }

    #[test]
    fn errors_come_in_the_order_the_fields_are_checked() {
        let everything = Changes {
            total_billing_cycles: Some(Some(1)),
            start_time: Some(DAY),
            cancel_at_period_end: Some(true),
        };
        let past_due = Terms {
            state: State::PastDue,
            ..active_after(2)
        };
        assert_eq!(
            change(&past_due, &everything),
            Err(ChangeError::AlreadyBilled { completed: 2 })
        );
    }
}
