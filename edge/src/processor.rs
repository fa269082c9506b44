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

    /// Saves the card for charges made without the shopper (renewals); answers the token
    /// to charge later, or the decline code when the bank refuses the card.
    async fn save(&self, card: &CheckedCard) -> Result<String, &'static str>;

    /// Charges a saved card. The same `idempotency_key` never charges twice (a biller that
    /// crashed after charging and before recording it may call again).
    async fn charge_saved(&self, token: &str, amount: Money, idempotency_key: &str) -> Charge;
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

    /// Saved tokens carry the test card's later behaviour: `ok`, or the decline code its
    /// charges get (4000000000009995 saves, then every charge lacks funds; 4000000000000341
    /// saves, then every charge is declined, as in Stripe's test mode).
    async fn save(&self, card: &CheckedCard) -> Result<String, &'static str> {
        let behaviour = match (card.number.as_str(), sandbox_outcome(&card.number)) {
            ("4000000000000341", _) => "card_declined",
            (_, SandboxOutcome::Succeed | SandboxOutcome::Challenge) => "ok",
            (_, SandboxOutcome::Decline("insufficient_funds")) => "insufficient_funds",
            (_, SandboxOutcome::Decline(code)) => return Err(code),
        };
        Ok(format!("tok_saved_{behaviour}_{}", random_base62(16)))
    }

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
}
