//! What a shopper page's handler is given of its request. The router reads it (the only
//! layer that sees the request itself), so pages, like API handlers, never do.

use serde_json::{Map, Value};
use worker::Url;

/// A shopper page request: where it was sent, who sent it, and a POST's form fields.
pub struct PageRequest {
    pub url: Url,
    /// `Accept-Language`, for the page's language.
    pub accept_language: Option<String>,
    /// The shopper's address as Cloudflare reports it (`CF-Connecting-IP`); absent when
    /// run without Cloudflare in front, as in local development.
    pub client_address: Option<String>,
    /// The fields of a POST's form (as `till_shared::params::form_to_json` reads them),
    /// read within the page's size and depth limits; empty otherwise.
    pub form: Map<String, Value>,
    /// The `Cookie` header.
    pub cookies: Option<String>,
    /// Whether the request comes from a page of this origin (`Sec-Fetch-Site`, else
    /// `Origin`): a form POST from elsewhere is refused.
    pub same_origin: bool,
}

impl PageRequest {
    /// A query parameter of the page's address.
    pub fn query(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The value of cookie `name`, if the request carries it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.as_deref()?.split(';').find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
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
