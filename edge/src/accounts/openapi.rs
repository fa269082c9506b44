//! `GET /v1/openapi.json`: the document built in `till-shared` from the route table.

use crate::api::call::Call;
use crate::api::reply::Reply;

pub fn document(call: &Call<'_>) -> Reply {
    Reply::ok(till_shared::openapi::document(&call.origin))
}
