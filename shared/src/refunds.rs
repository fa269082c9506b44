//! What may be refunded of a payment: the rule the API answers with before it asks D1,
//! which enforces the same bound under concurrency (`payments.amount_refunded <= amount`).

/// Why a merchant gives money back, as Stripe spells it.
pub const REASONS: &[&str] = &["duplicate", "fraudulent", "requested_by_customer"];

/// Why a refund is refused before anything is asked of the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Everything paid has been refunded already (or nothing was paid).
    NothingLeft,
    /// More was asked than is left.
    TooMuch { left: i64 },
}

/// The amount a refund gives back: what is asked, or all that is left when nothing is.
pub fn refund_amount(paid: i64, refunded: i64, asked: Option<i64>) -> Result<i64, Refused> {
    let left = paid - refunded;
    if left <= 0 {
        return Err(Refused::NothingLeft);
    }
    match asked {
        None => Ok(left),
        Some(amount) if amount > left => Err(Refused::TooMuch { left }),
        Some(amount) => Ok(amount),
    }
}

/// A payment's status once `refunded` of its `paid` has been given back.
pub fn payment_status(paid: i64, refunded: i64) -> &'static str {
    match refunded {
        0 => "SUCCEEDED",
        r if r >= paid => "REFUNDED",
        _ => "PARTIALLY_REFUNDED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_amount_refunds_what_is_left() {
        assert_eq!(refund_amount(100, 0, None), Ok(100));
        assert_eq!(refund_amount(100, 30, None), Ok(70));
    }

    #[test]
    fn partial_refunds_follow_each_other_up_to_the_amount_paid() {
        assert_eq!(refund_amount(100, 0, Some(10)), Ok(10));
        assert_eq!(refund_amount(100, 90, Some(10)), Ok(10));
        assert_eq!(
            refund_amount(100, 95, Some(10)),
            Err(Refused::TooMuch { left: 5 })
        );
        assert_eq!(refund_amount(100, 100, Some(1)), Err(Refused::NothingLeft));
        assert_eq!(refund_amount(0, 0, None), Err(Refused::NothingLeft));
    }

    #[test]
    fn the_status_follows_what_was_given_back() {
        assert_eq!(payment_status(100, 0), "SUCCEEDED");
        assert_eq!(payment_status(100, 10), "PARTIALLY_REFUNDED");
        assert_eq!(payment_status(100, 100), "REFUNDED");
    }
}
