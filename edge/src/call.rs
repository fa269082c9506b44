//! One API call: the matched route, who is calling, the path id, the query and the body
//! already parsed into one snake_case JSON object.

use serde_json::{Map, Value};
use till_shared::api::ErrorCode;
use till_shared::keys::Environment;
use till_shared::params::{Params, form_to_json, normalize};
use till_shared::routes::Route;
use worker::{Method, Request};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::router::Ctx;

/// Request bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Call<'a> {
    pub ctx: &'a Ctx,
    pub route: &'static Route,
    pub principal: Option<Principal>,
    pub id: Option<String>,
    pub query: Vec<(String, String)>,
    /// Scheme, host and port the request came in on (`https://till.example`).
    pub origin: String,
    body: Option<Value>,
}

impl<'a> Call<'a> {
    pub fn new(
        ctx: &'a Ctx,
        route: &'static Route,
        principal: Option<Principal>,
        id: Option<String>,
        req: &Request,
        body: Value,
    ) -> ApiResult<Call<'a>> {
        let url = req.url()?;
        Ok(Call {
            ctx,
            route,
            principal,
            id,
            query: url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            origin: url.origin().ascii_serialization(),
            body: Some(body),
        })
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

/// Reads and parses the body of a POST or PATCH: JSON or a form, at most
/// [`MAX_BODY_BYTES`], names normalised to snake_case. Other methods get an empty object.
pub async fn read_body(req: &mut Request) -> ApiResult<(Value, Vec<u8>)> {
    let empty = Value::Object(Map::new());
    if !matches!(req.method(), Method::Post | Method::Patch | Method::Put) {
        return Ok((empty, Vec::new()));
    }
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("Request bodies are limited to {MAX_BODY_BYTES} bytes."),
        )
    };
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let bytes = req.bytes().await?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((empty, bytes));
    }
    let content_type = req
        .headers()
        .get("Content-Type")?
        .unwrap_or_default()
        .to_ascii_lowercase();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    let parsed = match media_type {
        "application/json" => serde_json::from_slice::<Value>(&bytes)
            .map_err(|e| ApiError::invalid("body", format!("The body is not valid JSON: {e}.")))?,
        "application/x-www-form-urlencoded" => form_to_json(&bytes)?,
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as application/json (or application/x-www-form-urlencoded).",
            ));
        }
    };
    if !parsed.is_object() {
        return Err(ApiError::invalid("body", "The body must be a JSON object."));
    }
    Ok((normalize(parsed)?, bytes))
}
