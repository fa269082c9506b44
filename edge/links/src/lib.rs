//! The short-link path, `GET /{url_id}`, and the page shell of every shopper page.
//!
//! Built with the `worker` feature this crate is the link host's own Worker (`entry.rs`):
//! it answers short links from isolate memory, KV and D1 and hands every other request to
//! the main Worker through its service binding. A cold isolate of it compiles this crate
//! alone, not the whole API. The main Worker links the same code as a library: for the
//! short links that reach it directly, the page shell of its checkout pages, and to keep
//! the KV snapshot of a link fresh when the link or its product changes.
//!
//! ```text
//! entry.rs    the Worker's entry (feature `worker`): short links here, the rest onward
//! visit.rs    what a visit comes to: a redirect with a signed ticket, a preview, a page
//! snapshot.rs the link as isolate memory, KV and D1 hold it
//! views.rs    the statement that counts a view
//! page.rs     HTML for shoppers: the layout, escaping, the headers every page carries
//! statement.rs statements with named parameters, for D1
//! ```

#[cfg(feature = "worker")]
mod entry;
pub mod page;
pub mod snapshot;
mod statement;
pub mod views;
pub mod visit;

/// The system of record's binding.
pub const DB: &str = "DB";
/// The read cache's binding (short links only; nothing that takes money trusts it).
pub const CACHE: &str = "CACHE";

/// Seconds since the Unix epoch, from the platform clock; what rows store.
pub fn now_unix() -> i64 {
    i64::try_from(worker::Date::now().as_millis() / 1000).unwrap_or(i64::MAX)
}
