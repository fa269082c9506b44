//! The dashboard speaks the same JSON API as every merchant's code: the session cookie
//! instead of a key, and on every write the session's CSRF token in `X-Till-CSRF`.

use std::cell::RefCell;

use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestCredentials, RequestInit, Response};

thread_local! {
    static CSRF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Remembers the signed-in session's CSRF token for the writes that follow.
pub fn set_csrf(token: &str) {
    CSRF.with(|csrf| *csrf.borrow_mut() = token.to_owned());
}

/// A refusal as the API words it (`error.message`, `error.param`), or a network failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: u16,
    pub message: String,
    pub param: Option<String>,
}

impl Failure {
    fn network(error: JsValue) -> Failure {
        Failure {
            status: 0,
            message: error
                .as_string()
                .unwrap_or_else(|| "The network request failed.".into()),
            param: None,
        }
    }
}

pub type Answer = Result<Value, Failure>;

/// `method path` with an optional JSON body.
pub async fn call(method: &str, path: &str, body: Option<&Value>) -> Answer {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    let headers = Headers::new().map_err(Failure::network)?;
    headers
        .set("Accept", "application/json")
        .map_err(Failure::network)?;
    if method != "GET" {
        CSRF.with(|csrf| headers.set("X-Till-CSRF", &csrf.borrow()))
            .map_err(Failure::network)?;
    }
    if let Some(body) = body {
        headers
            .set("Content-Type", "application/json")
            .map_err(Failure::network)?;
        init.set_body(&JsValue::from_str(&body.to_string()));
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(path, &init).map_err(Failure::network)?;
    let window = web_sys::window().ok_or_else(|| Failure::network(JsValue::NULL))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(Failure::network)?
        .unchecked_into();
    let status = response.status();
    let text = JsFuture::from(response.text().map_err(Failure::network)?)
        .await
        .map_err(Failure::network)?
        .as_string()
        .unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if response.ok() {
        return Ok(json);
    }
    Err(Failure {
        status,
        message: json["error"]["message"].as_str().map_or_else(
            || format!("The request was refused ({status})."),
            str::to_owned,
        ),
        param: json["error"]["param"].as_str().map(str::to_owned),
    })
}

pub async fn get(path: &str) -> Answer {
    call("GET", path, None).await
}

/// `value` as a query-string component.
pub fn encode(value: &str) -> String {
    js_sys::encode_uri_component(value).into()
}
