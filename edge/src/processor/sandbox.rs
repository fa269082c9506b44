//! The sandbox: no money moves; outcomes follow the test card numbers.

use till_shared::card::{CheckedCard, REFUND_FAILS, SandboxOutcome, sandbox_outcome};
use till_shared::ids::random_base62;
use till_shared::money::Money;

use super::{Charge, Processor, Refund};

pub struct Sandbox;

impl Sandbox {
    /// Charges `amount` to the test card. The card number goes no further than this call.
    pub async fn charge(&self, card: &CheckedCard, _amount: Money) -> Charge {
        // The sandbox's token says whether the charge can be refunded later.
        let token = match card.number.as_str() {
            REFUND_FAILS => format!("tok_sandbox_norefund_{}", random_base62(20)),
            _ => format!("tok_sandbox_{}", random_base62(20)),
        };
        match sandbox_outcome(&card.number) {
            SandboxOutcome::Succeed => Charge::Succeeded { token },
            SandboxOutcome::Decline(code) => Charge::Declined(code),
            SandboxOutcome::Challenge => Charge::ChallengeRequired { token },
        }
    }

    /// Saved tokens carry the test card's later behaviour: `ok`, or the decline code its
    /// charges get (4000000000009995 saves, then every charge lacks funds; 4000000000000341
    /// saves, then every charge is declined, as in Stripe's test mode).
    pub async fn save(&self, card: &CheckedCard) -> Result<String, &'static str> {
        let behaviour = match (card.number.as_str(), sandbox_outcome(&card.number)) {
            ("4000000000000341", _) => "card_declined",
            (_, SandboxOutcome::Succeed | SandboxOutcome::Challenge) => "ok",
            (_, SandboxOutcome::Decline("insufficient_funds")) => "insufficient_funds",
            (_, SandboxOutcome::Decline(code)) => return Err(code),
        };
        Ok(format!("tok_saved_{behaviour}_{}", random_base62(16)))
    }
}

impl Processor for Sandbox {
    async fn charge_saved(&self, token: &str, _amount: Money, _idempotency_key: &str) -> Charge {
        match token.strip_prefix("tok_saved_") {
            Some(rest) if rest.starts_with("ok_") => Charge::Succeeded {
                token: format!("tok_sandbox_{}", random_base62(20)),
            },
            Some(rest) if rest.starts_with("insufficient_funds_") => {
                Charge::Declined("insufficient_funds")
            }
            _ => Charge::Declined("card_declined"),
        }
    }

    /// Every sandbox charge refunds, except those of [`REFUND_FAILS`].
    async fn refund(&self, charge_token: &str, _amount: Money, idempotency_key: &str) -> Refund {
        if charge_token.starts_with("tok_sandbox_norefund_") {
            return Refund::Failed("expired_or_canceled_card");
        }
        Refund::Succeeded {
            reference: format!("re_sandbox_{idempotency_key}"),
        }
    }
}
