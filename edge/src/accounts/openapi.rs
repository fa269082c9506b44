//! `GET /v1/openapi.json`: the document `till-shared` builds from the route table, built
//! once at compile time (`edge/build.rs`) and read once per isolate, with the origin it is
//! served from as its server.

use std::cell::RefCell;

use serde_json::{Value, json};

use crate::api::call::Call;
use crate::api::reply::Reply;

/// The document as `build.rs` wrote it.
const BUILT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

thread_local! {
    static DOCUMENT: RefCell<Option<(String, Value)>> = const { RefCell::new(None) };
}

pub fn document(call: &Call<'_>) -> Reply {
    let document = DOCUMENT.with(|held| {
        let mut held = held.borrow_mut();
        match held.as_ref() {
            Some((origin, document)) if *origin == call.origin => document.clone(),
            _ => {
                // Written by serde_json at build time, so it parses.
                let mut document: Value = serde_json::from_str(BUILT).unwrap_or_default();
                document["servers"] = json!([{ "url": call.origin }]);
                *held = Some((call.origin.clone(), document.clone()));
                document
            }
        }
    });
    Reply::ok(document)
}
