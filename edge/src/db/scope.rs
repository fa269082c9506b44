//! Every row belongs to one account and one environment: the scope a request acts in,
//! decided by its key.

use till_shared::keys::{Environment, KeyKind};

/// The account and environment a request acts in, and with which kind of key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account_id: String,
    pub account_name: String,
    pub environment: Environment,
    pub key_kind: KeyKind,
}

/// Who sells: the account and environment a row belongs to.
#[derive(Clone, Copy)]
pub struct Seller<'a> {
    pub account_id: &'a str,
    pub environment: Environment,
}

impl Principal {
    /// The scope the caller's rows live in.
    pub fn seller(&self) -> Seller<'_> {
        Seller {
            account_id: &self.account_id,
            environment: self.environment,
        }
    }
}
