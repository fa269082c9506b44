//! One API call: the matched route, who is calling, the path id, the query and the body
//! already parsed into one snake_case JSON object.

use serde_json::{Map, Value};
use till_shared::keys::Environment;
use till_shared::params::Params;
use till_shared::routes::Route;
use worker::Url;

use crate::ctx::Ctx;
use crate::db::Principal;
use crate::error::{ApiError, ApiResult};

/// A signed-in dashboard: its session's hash (its id), its CSRF token and its end.
#[derive(Debug, Clone)]
pub struct DashboardSession {
    pub token_hash: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

pub struct Call<'a> {
    pub ctx: &'a Ctx,
    pub route: &'static Route,
    pub principal: Option<Principal>,
    /// The request carries the operator token (on an operator route, or a public one that
    /// does more for the operator, like the health check's write round trip).
    pub operator: bool,
    pub id: Option<String>,
    pub query: Vec<(String, String)>,
    /// Scheme, host and port the request came in on (`https://till.example`).
    pub origin: String,
    /// The caller's address as Cloudflare reports it (`CF-Connecting-IP`); absent when run
    /// without Cloudflare in front.
    pub client_address: Option<String>,
    /// The dashboard session the call came in (its cookie), if it came in one.
    pub dashboard: Option<DashboardSession>,
    body: Option<Value>,
}

impl<'a> Call<'a> {
    pub fn new(
        ctx: &'a Ctx,
        route: &'static Route,
        principal: Option<Principal>,
        id: Option<String>,
        url: &Url,
        body: Value,
    ) -> Call<'a> {
        Call {
            ctx,
            route,
            principal,
            operator: false,
            id,
            query: url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            origin: url.origin().ascii_serialization(),
            client_address: None,
            dashboard: None,
            body: Some(body),
        }
    }

    /// The body's fields, once.
    pub fn params(&mut self) -> ApiResult<Params> {
        Ok(Params::new(
            self.body
                .take()
                .unwrap_or_else(|| Value::Object(Map::new())),
        )?)
    }

    /// The caller's key; routes that reach a handler needing one always have one.
    pub fn principal(&self) -> ApiResult<&Principal> {
        self.principal
            .as_ref()
            .ok_or_else(|| ApiError::internal("route without a principal reached a keyed handler"))
    }

    /// The `{id}` of the path.
    pub fn id(&self) -> ApiResult<&str> {
        self.id
            .as_deref()
            .ok_or_else(|| ApiError::internal("route without {id}"))
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the caller holds a publishable key (a page's, public by design).
    pub fn publishable(&self) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|p| p.key_kind == till_shared::keys::KeyKind::Publishable)
    }

    pub fn sandbox(&self) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|p| p.environment == Environment::Sandbox)
    }

    /// Base URL of shareable payment links: `LINK_BASE_URL` if set, else this origin.
    pub fn link_base(&self) -> String {
        let configured = self
            .ctx
            .env
            .var("LINK_BASE_URL")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let base = if configured.is_empty() {
            self.origin.clone()
        } else {
            configured
        };
        base.trim_end_matches('/').to_owned()
    }
}
