//! What handlers answer: a status and a JSON body, turned into a response in one place
//! (so idempotency can store and replay exactly what was sent).

use serde_json::Value;
use worker::Response;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            headers: Vec::new(),
        }
    }

    pub fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    pub fn created(body: Value) -> Reply {
        Reply::json(201, body)
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn into_response(self) -> worker::Result<Response> {
        let response = Response::from_json(&self.body)?.with_status(self.status);
        let headers = response.headers();
        headers.set("Cache-Control", "no-store")?;
        for (name, value) in &self.headers {
            headers.set(name, value)?;
        }
        Ok(response)
    }
}
