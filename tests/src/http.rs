//! A small blocking HTTP client for driving the Worker as a merchant or a shopper would.
//! Redirects are never followed, so tests see the `Location` a browser would get.

use std::time::Duration;

use serde::Serialize;

use crate::Result;

#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    bearer: Option<String>,
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced); `bytes` has it exactly.
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// In an HTML body, the text after the first `marker` (which ends with an attribute's
    /// opening quote, e.g. `name="csrf" value="`) up to the closing quote.
    pub fn quoted_after(&self, marker: &str) -> Option<String> {
        let start = self.body.find(marker)? + marker.len();
        Some(
            self.body[start..]
                .chars()
                .take_while(|c| *c != '"')
                .collect(),
        )
    }

    /// The body as JSON; panics with the body in the message when it is not JSON, which is
    /// what a test wants to see.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("expected JSON ({e}), got {}: {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    pub fn new(base_url: &str) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client {
            agent,
            base_url: base_url.trim_end_matches('/').to_owned(),
            bearer: None,
        }
    }

    /// The same client, sending `Authorization: Bearer {token}`.
    pub fn with_bearer(&self, token: &str) -> Client {
        Client {
            bearer: Some(token.to_owned()),
            ..self.clone()
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn get(&self, path: &str) -> RequestBuilder<'_> {
        self.request("GET", path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder<'_> {
        self.request("POST", path)
    }

    pub fn request(&self, method: &str, path: &str) -> RequestBuilder<'_> {
        let mut headers = Vec::new();
        if let Some(token) = &self.bearer {
            headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
        }
        RequestBuilder {
            client: self,
            method: method.to_owned(),
            url: format!("{}{}", self.base_url, path),
            headers,
            body: None,
        }
    }
}

pub struct RequestBuilder<'a> {
    client: &'a Client,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl RequestBuilder<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(self, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).expect("serialisable body");
        self.body("application/json", body)
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = Some(body.into());
        self
    }

    /// Sends the request. A request with an `Idempotency-Key` that wrangler's local proxy
    /// answered itself ("Your worker restarted mid-request": workerd dropped the connection
    /// under load, and the proxy retries only GET and HEAD) is sent again with the same key,
    /// up to three times: the Worker either never had it, or replays its first answer.
    pub fn send(self) -> Result<Reply> {
        let keyed = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Idempotency-Key"));
        let mut tries = 0;
        loop {
            let reply = self.send_once()?;
            tries += 1;
            let shed =
                reply.status == 503 && reply.body.contains("Your worker restarted mid-request");
            if !(keyed && shed) || tries == 4 {
                return Ok(reply);
            }
            std::thread::sleep(std::time::Duration::from_millis(100 * tries));
        }
    }

    fn send_once(&self) -> Result<Reply> {
        let mut builder = ureq::http::Request::builder()
            .method(self.method.as_str())
            .uri(&self.url);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let mut response = match self.body.clone() {
            Some(body) => self.client.agent.run(builder.body(body)?)?,
            None => self.client.agent.run(builder.body(())?)?,
        };
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()?;
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }
}

impl Client {
    /// Runs one read-only SQL query on the Worker's D1 through its test hook (present only
    /// when the Worker runs with `TEST_HOOKS=enabled`; needs the operator token).
    pub fn query_d1(&self, operator_token: &str, sql: &str) -> Result<Vec<serde_json::Value>> {
        let reply = self
            .with_bearer(operator_token)
            .post("/__test/d1")
            .json(&serde_json::json!({ "sql": sql }))
            .send()?;
        if reply.status != 200 {
            return Err(format!("D1 query answered {}: {}", reply.status, reply.body).into());
        }
        Ok(reply.json()["results"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

impl Client {
    /// Runs one UPDATE on the Worker's D1 through its test hook (setup for tests that need
    /// time to have passed).
    pub fn update_d1(&self, operator_token: &str, sql: &str) -> Result<()> {
        let reply = self
            .with_bearer(operator_token)
            .post("/__test/d1")
            .json(&serde_json::json!({ "sql": sql, "write": true }))
            .send()?;
        if reply.status != 200 {
            return Err(format!("D1 update answered {}: {}", reply.status, reply.body).into());
        }
        Ok(())
    }
}
