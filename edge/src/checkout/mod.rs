//! Checkout sessions: the use case that opens one, the hosted page that pays it, the payment reservation and completion, how often promotion codes may be tried, and `/b/{product}`.

pub mod buy;
pub mod by_stripe;
pub mod code_attempts;
pub mod completion;
pub mod open;
pub mod page;
pub mod sessions;
