//! Events and their webhooks: the event resource, webhook endpoints, and delivery.

pub mod delivery;
pub mod event;
pub mod webhooks;
