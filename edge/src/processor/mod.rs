//! Card processors. The built-in sandbox answers the documented test cards and moves no
//! money; a merchant connects Stripe per environment ([`stripe`]), and on that path the
//! card never reaches Till. Both charge saved cards and refund through [`Processor`];
//! taking a new card differs (the sandbox reads a test card number, Stripe a PaymentMethod
//! its own fields made), so each does that its own way. Without a connection, PRODUCTION
//! refuses payments clearly.

use till_shared::money::Money;

mod sandbox;
pub mod stripe;

pub use sandbox::Sandbox;
pub use stripe::Stripe;

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
    /// The processor could not be reached, or answered an error: nothing is known of this
    /// attempt yet, and asking again with the same idempotency key is safe.
    Unavailable,
}

/// What every processor does with money it already holds a way to: renewals and refunds.
pub trait Processor {
    /// Charges a saved card. The same `idempotency_key` never charges twice (a biller that
    /// crashed after charging and before recording it may call again).
    async fn charge_saved(&self, token: &str, amount: Money, idempotency_key: &str) -> Charge;

    /// Gives `amount` of the charge `charge_token` back. The same `idempotency_key` never
    /// refunds twice.
    async fn refund(&self, charge_token: &str, amount: Money, idempotency_key: &str) -> Refund;
}

/// What a refund attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refund {
    /// The money is on its way back; the processor's id of the refund.
    Succeeded { reference: String },
    /// The processor refused it, with its reason (`charge_expired_for_refund`, …).
    Failed(&'static str),
    /// The processor could not be reached or answered an error: nothing is known yet, and
    /// asking again with the same idempotency key is safe.
    Unavailable,
}

/// The processor an environment charges through: its Stripe connection, else the sandbox.
pub enum Connected {
    Sandbox,
    Stripe(Stripe),
}

impl Connected {
    pub async fn charge_saved(&self, token: &str, amount: Money, key: &str) -> Charge {
        match self {
            Connected::Sandbox => Sandbox.charge_saved(token, amount, key).await,
            Connected::Stripe(stripe) => stripe.charge_saved(token, amount, key).await,
        }
    }

    pub async fn refund(&self, token: &str, amount: Money, key: &str) -> Refund {
        match self {
            Connected::Sandbox => Sandbox.refund(token, amount, key).await,
            Connected::Stripe(stripe) => stripe.refund(token, amount, key).await,
        }
    }
}
