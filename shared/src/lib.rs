//! Till's domain logic, shared by the Worker, the widget, the tests and the tooling.
//!
//! Everything here is pure: no I/O, no `worker`, no `leptos`. It compiles for the host and
//! for `wasm32-unknown-unknown`, and most of Till's tests live beside it.

pub mod api;
pub mod billing;
pub mod branding;
pub mod card;
pub mod catalog;
pub mod checkout;
pub mod embed;
pub mod hosts;
pub mod idempotency;
pub mod ids;
pub mod keys;
pub mod links;
pub mod locale;
pub mod money;
pub mod openapi;
pub mod params;
pub mod plan;
pub mod portal;
pub mod pricing;
pub mod promotion;
pub mod redirect;
pub mod refunds;
pub mod retry;
pub mod routes;
pub mod sealed;
pub mod secrets;
pub mod sql;
pub mod stats;
pub mod stripe;
pub mod throttle;
pub mod ticket;
pub mod time;
pub mod visit;
pub mod webhooks;

pub use ids::ShortCode;
pub use money::{Currency, Money, MoneyError};
