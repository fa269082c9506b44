//! Payment links: the resource, its Omise dialect, and the short-link hot path with its cache.

pub mod definition;
pub mod omise;
pub mod payment_links;
pub mod qr;
pub mod shortlinks;
