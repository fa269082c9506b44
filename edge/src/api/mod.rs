//! What a handler is given and answers: the call, the reply and its error rendering, list paging and envelopes.

pub mod call;
pub mod list;
pub mod page;
pub mod reply;

use till_shared::time::to_iso8601;

use crate::error::{ApiError, ApiResult};

pub fn iso(seconds: i64) -> ApiResult<String> {
    to_iso8601(seconds).map_err(ApiError::internal)
}
