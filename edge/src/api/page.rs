//! What a shopper page's handler is given of its request. The router reads it (the only
//! layer that sees the request itself), so pages, like API handlers, never do.

use worker::Url;

/// A shopper page request: where it was sent, who sent it, and a POST's form body.
pub struct PageRequest {
    pub url: Url,
    /// `Accept-Language`, for the page's language.
    pub accept_language: Option<String>,
    /// The shopper's address as Cloudflare reports it (`CF-Connecting-IP`); absent when
    /// run without Cloudflare in front, as in local development.
    pub client_address: Option<String>,
    /// The body of a POST (a form); empty otherwise.
    pub body: Vec<u8>,
}

impl PageRequest {
    /// A query parameter of the page's address.
    pub fn query(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Scheme, host and port the page was served from.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// The query string's pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.url.query_pairs().into_owned().collect()
    }
}
