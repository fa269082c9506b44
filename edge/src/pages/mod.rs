//! Server-rendered HTML for shoppers. The layout, escaping and the headers every page
//! carries are the page shell both Workers share (`till_links::page`); the checkout and
//! receipt pages are this Worker's own.

pub use till_links::page::*;

pub mod checkout;
pub mod portal;
pub mod receipt;
