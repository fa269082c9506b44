//! Recurring billing: customers, saved payment methods, subscriptions, test clocks, and the biller the cron runs.

pub mod biller;
pub mod customers;
pub mod payment_methods;
pub mod subscriptions;
pub mod test_clocks;
