//! Request bodies: JSON or a form, size-limited, names normalised to snake_case.

use futures_util::StreamExt;
use serde_json::{Map, Value};
use till_shared::api::ErrorCode;
use till_shared::params::{check_depth, form_to_json, normalize};
use worker::{Method, Request};

use crate::error::{ApiError, ApiResult};

/// API request bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A shopper page's form (the payment form, a 3-D Secure answer, a promotion code) is
/// far smaller; anything larger is refused.
pub const MAX_PAGE_BODY_BYTES: usize = 16 * 1024;

/// A body over its cap.
#[derive(Debug)]
pub struct TooLarge;

/// How much past its cap a refused body is still read (and dropped, chunk by chunk) so the
/// client, still sending, gets the 413 rather than a connection cut mid-upload; a body
/// larger than that is left unread.
const DRAINED_BYTES: usize = 4 * 1024 * 1024;

/// The body, read chunk by chunk and kept only up to `cap` bytes: a declared
/// `Content-Length` over the cap is refused without keeping any of it, and a chunked body
/// is refused at the cap, so no request makes the Worker hold more than `cap` bytes of it.
pub async fn read_capped(
    req: &mut Request,
    cap: usize,
) -> worker::Result<Result<Vec<u8>, TooLarge>> {
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|v| v.parse::<usize>().ok());
    if req.inner().body().is_none() {
        return Ok(Ok(Vec::new()));
    }
    let mut stream = req.stream()?;
    if declared.is_some_and(|n| n > cap + DRAINED_BYTES) {
        return Ok(Err(TooLarge));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(cap));
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        seen += chunk.len();
        if seen > cap + DRAINED_BYTES {
            return Ok(Err(TooLarge));
        }
        if seen <= cap {
            body.extend_from_slice(&chunk);
        }
    }
    if seen > cap {
        return Ok(Err(TooLarge));
    }
    Ok(Ok(body))
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
    let Ok(bytes) = read_capped(req, MAX_BODY_BYTES).await? else {
        return Err(too_large());
    };
    // No body at all; anything else is parsed (whitespace alone is not JSON).
    if bytes.is_empty() {
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
    check_depth(&parsed)?;
    Ok((normalize(parsed)?, bytes))
}
