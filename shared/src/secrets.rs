//! The Worker's operator secret (`OPERATOR_TOKEN`): checked as a bearer token without
//! leaking its length or content through timing, and the root of the keys Till derives
//! from it, one per purpose, with HKDF-SHA256 (RFC 5869) under the purpose's own label, so
//! a key made for one use is never the key of another.

use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// HKDF's extract salt for every key derived from the operator secret. Fixed and public,
/// as RFC 5869 allows: the secret is the input key material, and the labels keep the
/// purposes apart.
pub const DERIVATION_SALT: &[u8] = b"till operator secret";

/// What a key derived from the operator secret is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The HMAC-SHA256 key of checkout tickets ([`crate::ticket`]).
    CheckoutTicket,
}

impl Purpose {
    /// HKDF's `info`: the purpose and the version of its key. A new version makes every
    /// value sealed under the old key fail to verify.
    pub const fn label(self) -> &'static [u8] {
        match self {
            Purpose::CheckoutTicket => b"till/checkout-ticket/v2",
        }
    }
}

/// The 32-byte key for `purpose`: HKDF-SHA256 with [`DERIVATION_SALT`], the secret as
/// input key material and the purpose's label as `info`.
pub fn derive_key(secret: &str, purpose: Purpose) -> [u8; 32] {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(DERIVATION_SALT), secret.as_bytes())
        .expand(purpose.label(), &mut key)
        .expect("32 bytes is far below HKDF-SHA256's limit of 8160");
    key
}

/// Whether `given` is the configured operator token. Both are hashed to SHA-256 first and
/// the two 32-byte digests compared in constant time, so neither how long the token is
/// nor how much of it a guess got right changes how long the answer takes. An empty
/// configured token matches nothing (operator routes are then closed).
pub fn operator_token_matches(configured: &str, given: &str) -> bool {
    let configured_digest = Sha256::digest(configured.as_bytes());
    let given_digest = Sha256::digest(given.as_bytes());
    let same = configured_digest.as_slice().ct_eq(given_digest.as_slice());
    !configured.is_empty() & bool::from(same)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    #[test]
    fn the_ticket_key_is_hkdf_sha256_of_the_secret_under_its_own_label() {
        // RFC 5869's two steps written out: PRK = HMAC(salt, secret), OKM = HMAC(PRK, info || 0x01).
        let mut extract = Hmac::<Sha256>::new_from_slice(DERIVATION_SALT).unwrap();
        extract.update(b"op_secret");
        let prk = extract.finalize().into_bytes();
        let mut expand = Hmac::<Sha256>::new_from_slice(&prk).unwrap();
        expand.update(b"till/checkout-ticket/v2");
        expand.update(&[1]);
        let expected: [u8; 32] = expand.finalize().into_bytes().into();
        assert_eq!(derive_key("op_secret", Purpose::CheckoutTicket), expected);
    }

    #[test]
    fn the_ticket_key_is_neither_the_secret_nor_the_old_derivation() {
        let key = derive_key("op_secret", Purpose::CheckoutTicket);
        assert_ne!(&key[..], b"op_secret".as_slice());
        let mut old = Hmac::<Sha256>::new_from_slice(b"op_secret").unwrap();
        old.update(b"till checkout ticket v1");
        assert_ne!(key, <[u8; 32]>::from(old.finalize().into_bytes()));
        assert_ne!(key, derive_key("op_other", Purpose::CheckoutTicket));
    }

    #[test]
    fn only_the_exact_operator_token_matches() {
        let token = "op_0123456789abcdefghijklmnopqrstuv";
        assert!(operator_token_matches(token, token));
        for wrong in [
            "",
            "op_",
            &token[..token.len() - 1],
            &format!("{token}x"),
            "op_0123456789abcdefghijklmnopqrstuV",
            &token.to_uppercase(),
        ] {
            assert!(!operator_token_matches(token, wrong), "{wrong:?}");
        }
    }

    #[test]
    fn an_unset_operator_token_matches_nothing() {
        assert!(!operator_token_matches("", ""));
        assert!(!operator_token_matches("", "op_anything"));
    }
}
