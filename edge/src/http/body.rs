//! Request bodies: JSON or a form, size-limited, names normalised to snake_case.

use serde_json::{Map, Value};
use till_shared::api::ErrorCode;
use till_shared::params::{form_to_json, normalize};
use worker::{Method, Request};

use crate::error::{ApiError, ApiResult};

/// Request bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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
