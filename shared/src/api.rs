//! Wire types shared by the Worker and its clients: the error shape and its stable codes,
//! and the health report.

use serde::{Deserialize, Serialize};

/// Every error the API answers with. The code is stable (clients match on it); the HTTP
/// status is derived here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    /// The URL names nothing (404).
    ResourceNotFound,
    /// The body or query names an object that does not exist (409: the request is well
    /// formed, and at odds with what there is).
    ResourceMissing,
    Unauthorized,
    Forbidden,
    Conflict,
    IdempotencyError,
    RateLimited,
    CardDeclined,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    ApiError,
    /// The card processor did not answer: nothing is known yet, and the same request may
    /// be sent again (503).
    ProcessorUnavailable,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::ResourceNotFound => "resource_not_found",
            ErrorCode::ResourceMissing => "resource_missing",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Conflict => "conflict",
            ErrorCode::IdempotencyError => "idempotency_error",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::CardDeclined => "card_declined",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::ApiError => "api_error",
            ErrorCode::ProcessorUnavailable => "processor_unavailable",
        }
    }

    /// The error family, as `error.type` carries it.
    pub const fn error_type(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized | ErrorCode::Forbidden => "authentication_error",
            ErrorCode::RateLimited => "rate_limit_error",
            ErrorCode::CardDeclined => "card_error",
            ErrorCode::IdempotencyError => "idempotency_error",
            ErrorCode::ApiError | ErrorCode::ProcessorUnavailable => "api_error",
            ErrorCode::InvalidRequest
            | ErrorCode::ResourceNotFound
            | ErrorCode::ResourceMissing
            | ErrorCode::Conflict
            | ErrorCode::PayloadTooLarge
            | ErrorCode::UnsupportedMediaType
            | ErrorCode::MethodNotAllowed => "invalid_request_error",
        }
    }

    /// The one mapping from error code to HTTP status.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::CardDeclined => 402,
            ErrorCode::Forbidden => 403,
            ErrorCode::ResourceNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::ResourceMissing | ErrorCode::Conflict | ErrorCode::IdempotencyError => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::RateLimited => 429,
            ErrorCode::ApiError => 500,
            ErrorCode::ProcessorUnavailable => 503,
        }
    }
}

/// `{"error": {"type", "code", "message", "param"?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub param: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>, param: Option<&str>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                kind: code.error_type().to_owned(),
                code,
                message: message.into(),
                param: param.map(str::to_owned),
            },
        }
    }
}

/// `GET /healthz`: the running version and proof that D1 and KV answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    /// Whether the check wrote and read back (operator token) or only read (anyone).
    #[serde(default)]
    pub writes: bool,
    pub d1: StorageCheck,
    pub kv: StorageCheck,
}

/// One storage round trip: a value written and read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageCheck {
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_documented_shape() {
        let body = ErrorBody::new(
            ErrorCode::ResourceNotFound,
            "No such product",
            Some("productId"),
        );
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {
                "type": "invalid_request_error",
                "code": "resource_not_found",
                "message": "No such product",
                "param": "productId"
            }})
        );
        let without_param =
            serde_json::to_value(ErrorBody::new(ErrorCode::Unauthorized, "bad key", None)).unwrap();
        assert!(without_param["error"].get("param").is_none());
    }

    #[test]
    fn codes_serialise_as_their_stable_strings() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::ResourceNotFound,
            ErrorCode::ResourceMissing,
            ErrorCode::IdempotencyError,
            ErrorCode::PayloadTooLarge,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
        }
    }

    #[test]
    fn statuses_are_client_errors_except_the_internal_one() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::ResourceNotFound,
            ErrorCode::ResourceMissing,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::Conflict,
            ErrorCode::IdempotencyError,
            ErrorCode::RateLimited,
            ErrorCode::CardDeclined,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::MethodNotAllowed,
        ] {
            assert!((400..500).contains(&code.http_status()), "{code:?}");
        }
        assert_eq!(ErrorCode::ApiError.http_status(), 500);
    }
}
