//! What handlers answer: a status and a JSON body, turned into a response in one place
//! (so idempotency can store and replay exactly what was sent).

use serde_json::{Value, json};
use till_shared::api::{ErrorBody, ErrorCode};
use worker::{Response, console_error};

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
    /// The body carries a secret (a key, a signing secret), shown this once: idempotency
    /// stores a marker instead of the body, and refuses to replay it.
    pub carries_secret: bool,
    /// A body that is not JSON (an SVG): its content type and text, sent instead of `body`.
    pub raw: Option<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            headers: Vec::new(),
            carries_secret: false,
            raw: None,
        }
    }

    /// A 200 with a body of `content_type` (not JSON).
    pub fn text(content_type: &'static str, text: String) -> Reply {
        let mut reply = Reply::ok(Value::Null);
        reply.raw = Some((content_type, text));
        reply
    }

    pub fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    pub fn created(body: Value) -> Reply {
        Reply::json(201, body)
    }

    /// Marks the body as carrying a secret (see [`Reply::carries_secret`]).
    pub fn carrying_secret(mut self) -> Reply {
        self.carries_secret = true;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn into_response(self) -> worker::Result<Response> {
        let response = match self.raw {
            Some((content_type, text)) => {
                // Not JSON (an SVG on the dashboard's origin): nothing in it runs or loads.
                let response = Response::ok(text)?;
                let headers = response.headers();
                headers.set("Content-Type", content_type)?;
                headers.set("X-Content-Type-Options", "nosniff")?;
                headers.set(
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'",
                )?;
                response
            }
            None => Response::from_json(&self.body)?.with_status(self.status),
        };
        let headers = response.headers();
        headers.set("Cache-Control", "no-store")?;
        for (name, value) in &self.headers {
            headers.set(name, value)?;
        }
        Ok(response)
    }
}

/// Which wire dialect an error is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error": {"type", "code", "message", "param"?}}`.
    Till,
    /// `{"object": "error", "location", "code", "message"}`, as Omise clients expect.
    Omise,
}

impl ApiError {
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
