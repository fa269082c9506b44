//! The harness for Till's black-box tests: a local Worker in workerd with on-disk D1 and
//! KV ([`local`]), an HTTP client that drives it ([`http`]), and merchant accounts made
//! through the operator API ([`accounts`]), and a real HTTP receiver for webhooks
//! ([`receiver`]). `cargo xtask dev` uses the same pieces.

pub mod accounts;
pub mod http;
pub mod local;
pub mod receiver;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
