//! The API's one error type and its one mapping to an HTTP response.

use till_shared::api::{ErrorBody, ErrorCode};
use worker::{Response, console_error};

/// What a handler can fail with: an error the client caused (shown as is), or an internal
/// one (logged, answered with a generic message so internals never leak).
#[derive(Debug)]
pub enum ApiError {
    Client {
        code: ErrorCode,
        message: String,
        param: Option<&'static str>,
    },
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Client {
            code,
            message: message.into(),
            param: None,
        }
    }

    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        ApiError::Client {
            code: ErrorCode::InvalidRequest,
            message: message.into(),
            param: Some(param),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Unauthorized, message)
    }

    /// Renders the error as `{"error": {...}}` with the status its code maps to.
    pub fn into_response(self) -> worker::Result<Response> {
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
        let body = ErrorBody::new(code, message, param);
        Ok(Response::from_json(&body)?.with_status(code.http_status()))
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
