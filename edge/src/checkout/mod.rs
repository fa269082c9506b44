//! Checkout sessions: the use case that opens one, the hosted page that pays it, the payment reservation and completion, and `/b/{product}`.

pub mod buy;
pub mod completion;
pub mod open;
pub mod page;
pub mod sessions;
