//! Merchant accounts, their keys and settings, and the platform routes beside them: the health check and the OpenAPI document.

pub mod account;
pub mod dashboard;
pub mod health;
pub mod openapi;
pub mod processor;
pub mod settings;
