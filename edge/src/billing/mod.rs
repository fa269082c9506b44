//! Recurring billing: customers, saved payment methods, subscriptions, test clocks, and the biller the cron runs.

pub mod biller;
pub mod customers;
pub mod payment_methods;
pub mod portal;
pub mod portal_pages;
pub mod subscriptions;
pub mod test_clocks;

use till_shared::keys::Environment;

use crate::db::Principal;
use crate::db::events::Scope;

/// Where a principal's writes and their events belong.
fn scope(principal: &Principal) -> Scope<'_> {
    Scope {
        account_id: &principal.account_id,
        environment: principal.environment.as_str(),
    }
}

/// The environment of a scope. Scopes are made from a principal or a stored row, so the
/// text is one of the two stored spellings; anything else is SANDBOX, which moves no money.
fn environment(scope: Scope<'_>) -> Environment {
    crate::db::columns::environment(scope.environment).unwrap_or(Environment::Sandbox)
}
