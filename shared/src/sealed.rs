//! Secrets Till keeps for a merchant — a connected processor's secret key and webhook
//! secret — sealed at rest with AES-256-GCM under the Worker's `PROCESSOR_SECRETS_KEY`
//! (32 bytes, written as 64 hex digits). Each sealed value is bound to what it is for
//! (`context`: the account, the environment and the field), so a value copied into another
//! row or field does not open. The stored form is `v1:` and the hex of a random 96-bit nonce
//! followed by the ciphertext and its tag.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

const VERSION: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealing key must be 64 hex digits (32 bytes)")]
    BadKey,
    #[error("the sealed value is not one this Worker wrote")]
    Malformed,
    #[error("the sealed value does not open with this key and context")]
    NoMatch,
}

/// The sealing key from its 64 hex digits.
pub fn parse_key(text: &str) -> Result<[u8; 32], SealError> {
    let bytes = hex::decode(text.trim()).map_err(|_| SealError::BadKey)?;
    bytes.try_into().map_err(|_| SealError::BadKey)
}

/// A new sealing key, as 64 hex digits (what `PROCESSOR_SECRETS_KEY` holds).
pub fn generate_key() -> String {
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).expect("the platform CSPRNG is available");
    hex::encode(key)
}

/// Seals `secret` for `context` under `key`, with a fresh random nonce.
pub fn seal(key: &[u8; 32], context: &str, secret: &str) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut nonce).expect("the platform CSPRNG is available");
    let cipher = Aes256Gcm::new(key.into());
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret.as_bytes(),
                aad: context.as_bytes(),
            },
        )
        .expect("AES-GCM seals any message shorter than 64 GiB");
    format!("{VERSION}{}{}", hex::encode(nonce), hex::encode(sealed))
}

/// Opens what [`seal`] wrote for the same `context` under the same `key`.
pub fn open(key: &[u8; 32], context: &str, sealed: &str) -> Result<String, SealError> {
    let bytes = sealed
        .strip_prefix(VERSION)
        .and_then(|hex_text| hex::decode(hex_text).ok())
        .filter(|b| b.len() > NONCE_LEN)
        .ok_or(SealError::Malformed)?;
    let (nonce, body) = bytes.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(key.into());
    let plain = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| SealError::NoMatch)?;
    String::from_utf8(plain).map_err(|_| SealError::Malformed)
}

/// The context a processor secret of an account's environment is sealed for.
pub fn context(account_id: &str, environment: &str, field: &str) -> String {
    format!("till/processor/{account_id}/{environment}/{field}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_context_only() {
        let context = context("acct_1", "SANDBOX", "secret_key");
        let sealed = seal(&KEY, &context, "sk_test_abc");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("sk_test_abc"));
        assert_eq!(open(&KEY, &context, &sealed).as_deref(), Ok("sk_test_abc"));
        assert_eq!(
            open(&[8; 32], &context, &sealed),
            Err(SealError::NoMatch),
            "another key"
        );
        let elsewhere = super::context("acct_2", "SANDBOX", "secret_key");
        assert_eq!(open(&KEY, &elsewhere, &sealed), Err(SealError::NoMatch));
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        assert_ne!(seal(&KEY, "c", "same"), seal(&KEY, "c", "same"));
    }

    #[test]
    fn tampered_or_foreign_values_do_not_open() {
        let sealed = seal(&KEY, "c", "secret");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(open(&KEY, "c", &tampered), Err(SealError::NoMatch));
        assert_eq!(open(&KEY, "c", "secret"), Err(SealError::Malformed));
        assert_eq!(open(&KEY, "c", "v1:00"), Err(SealError::Malformed));
    }

    #[test]
    fn keys_are_64_hex_digits() {
        assert!(parse_key(&generate_key()).is_ok());
        assert_eq!(parse_key(&"ab".repeat(32)), Ok([0xab; 32]));
        assert_eq!(parse_key("abcd"), Err(SealError::BadKey));
        assert_eq!(parse_key(&"zz".repeat(32)), Err(SealError::BadKey));
    }
}
