//! Card processors behind one trait. The built-in sandbox processor answers the documented
//! test cards; PRODUCTION has no processor yet, and payments there are refused clearly.

use till_shared::card::{CheckedCard, SandboxOutcome, sandbox_outcome};
use till_shared::ids::random_base62;
use till_shared::money::Money;

/// What a charge attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    Succeeded {
        token: String,
    },
    /// Declined, with the decline code (`card_declined`, `insufficient_funds`, …).
    Declined(&'static str),
    /// The bank wants the shopper to confirm (3-D Secure); the token identifies the attempt.
    ChallengeRequired {
        token: String,
    },
}

pub trait Processor {
    /// Charges `amount` to the card. The card number goes no further than this call.
    async fn charge(&self, card: &CheckedCard, amount: Money) -> Charge;
}

/// The sandbox: no money moves; outcomes follow the test card numbers.
pub struct Sandbox;

impl Processor for Sandbox {
    async fn charge(&self, card: &CheckedCard, _amount: Money) -> Charge {
        let token = format!("tok_sandbox_{}", random_base62(20));
        match sandbox_outcome(&card.number) {
            SandboxOutcome::Succeed => Charge::Succeeded { token },
            SandboxOutcome::Decline(code) => Charge::Declined(code),
            SandboxOutcome::Challenge => Charge::ChallengeRequired { token },
        }
    }
}
