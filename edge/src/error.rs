//! The Worker's one error type: what the client caused (with its stable code), or what
//! went wrong inside. Rendered as a response in one place, `api::reply`.

use till_shared::api::ErrorCode;
use till_shared::params::ParamError;

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

    /// `No such product: 'prod_x'`, naming the parameter that carried the id, if any: the
    /// URL's object is `resource_not_found` (404), one named by a field of the body or query
    /// is `resource_missing` (409).
    pub fn not_found(what: &str, id: &str, param: Option<&str>) -> Self {
        ApiError::Client {
            code: if param.is_some() {
                ErrorCode::ResourceMissing
            } else {
                ErrorCode::ResourceNotFound
            },
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
