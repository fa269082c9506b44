//! The API's one error type and its one mapping to an HTTP response.

use serde_json::json;
use till_shared::api::{ErrorBody, ErrorCode};
use till_shared::params::ParamError;
use worker::console_error;

use crate::reply::Reply;

/// What a handler can fail with: an error the client caused (shown as is), or an internal
/// one (logged, answered with a generic message so internals never leak).
#[derive(Debug)]
pub enum ApiError {
    Client {
        code: ErrorCode,
        message: String,
        param: Option<String>,
    },
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Which wire dialect an error is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error": {"type", "code", "message", "param"?}}`.
    Till,
    /// `{"object": "error", "location", "code", "message"}`, as Omise clients expect.
    Omise,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Client {
            code,
            message: message.into(),
            param: None,
        }
    }

    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Client {
            code: ErrorCode::InvalidRequest,
            message: message.into(),
            param: Some(param.into()),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Forbidden, message)
    }

    /// `No such product: 'prod_x'`, naming the parameter that carried the id, if any.
    pub fn not_found(what: &str, id: &str, param: Option<&str>) -> Self {
        ApiError::Client {
            code: ErrorCode::ResourceNotFound,
            message: format!("No such {what}: '{id}'."),
            param: param.map(str::to_owned),
        }
    }

    pub fn conflict(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Client {
            code: ErrorCode::Conflict,
            message: message.into(),
            param: Some(param.into()),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError::Internal(detail.to_string())
    }

    /// Renders the error with the status its code maps to.
    pub fn into_reply(self, dialect: Dialect) -> Reply {
        let (code, message, param) = match self {
            ApiError::Client {
                code,
                message,
                param,
            } => (code, message, param),
            ApiError::Internal(detail) => {
                console_error!("internal error: {detail}");
                (
                    ErrorCode::ApiError,
                    "Something went wrong on our side. Please try again.".to_owned(),
                    None,
                )
            }
        };
        let body = match dialect {
            Dialect::Till => serde_json::to_value(ErrorBody::new(code, message, param.as_deref()))
                .unwrap_or_default(),
            Dialect::Omise => json!({
                "object": "error",
                "location": "https://www.omise.co/api-errors",
                "code": omise_code(code),
                "message": message,
            }),
        };
        Reply::json(code.http_status(), body)
    }
}

/// Omise's names for the same failures.
fn omise_code(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Unauthorized | ErrorCode::Forbidden => "authentication_failure",
        ErrorCode::ResourceNotFound => "not_found",
        ErrorCode::ApiError => "internal_error",
        _ => "bad_request",
    }
}

impl From<ParamError> for ApiError {
    fn from(error: ParamError) -> Self {
        ApiError::invalid(error.param, error.message)
    }
}

impl From<worker::Error> for ApiError {
    fn from(error: worker::Error) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> Self {
        ApiError::Internal(format!("json: {error}"))
    }
}
