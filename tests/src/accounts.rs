//! Merchant accounts created through `POST /v1/accounts` with the operator token.

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::http::Client;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyPair {
    pub secret_key: String,
    pub publishable_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountKeys {
    pub test: KeyPair,
    pub live: KeyPair,
}

/// What `POST /v1/accounts` answers: the only time the keys are shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedAccount {
    pub id: String,
    pub name: String,
    pub keys: AccountKeys,
}

pub fn create_account(base_url: &str, operator_token: &str, name: &str) -> Result<CreatedAccount> {
    let reply = Client::new(base_url)
        .with_bearer(operator_token)
        .post("/v1/accounts")
        .json(&serde_json::json!({ "name": name }))
        .send()?;
    if reply.status != 201 {
        return Err(format!(
            "creating an account answered {}: {}",
            reply.status, reply.body
        )
        .into());
    }
    Ok(serde_json::from_str(&reply.body)?)
}
