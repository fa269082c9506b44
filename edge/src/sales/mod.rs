//! Money after the sale: orders and payments as a merchant sees them, refunds through the
//! processor that took the money, and each payment's hosted receipt.

pub mod orders;
pub mod payments;
pub mod receipts;
pub mod reconcile;
pub mod refunds;
pub mod stats;
