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
