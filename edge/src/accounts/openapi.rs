//! `GET /v1/openapi.json`: the document built in `till-shared` from the route table, once
//! per isolate (it depends only on the origin it is served from).

use std::cell::RefCell;

use serde_json::Value;

use crate::api::call::Call;
use crate::api::reply::Reply;

thread_local! {
    static DOCUMENT: RefCell<Option<(String, Value)>> = const { RefCell::new(None) };
}

pub fn document(call: &Call<'_>) -> Reply {
    let document = DOCUMENT.with(|held| {
        let mut held = held.borrow_mut();
        match held.as_ref() {
            Some((origin, document)) if *origin == call.origin => document.clone(),
            _ => {
                let document = till_shared::openapi::document(&call.origin);
                *held = Some((call.origin.clone(), document.clone()));
                document
            }
        }
    });
    Reply::ok(document)
}
