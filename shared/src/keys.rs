//! API keys: how they look, which account and environment they stand for, and how they are
//! stored (only as SHA-256 hashes, so a leaked database does not leak working keys).

use sha2::{Digest, Sha256};

use crate::ids::random_base62;

/// Random characters after a key's prefix: 32 Base62 characters, about 190 bits.
pub const KEY_RANDOM_LEN: usize = 32;

/// Which of an account's two worlds a key works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Environment {
    Sandbox,
    Production,
}

impl Environment {
    pub const fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "SANDBOX",
            Environment::Production => "PRODUCTION",
        }
    }

    const fn key_infix(self) -> &'static str {
        match self {
            Environment::Sandbox => "test",
            Environment::Production => "live",
        }
    }
}

/// Secret keys do everything; publishable keys may only start checkouts and read public
/// product and link data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Secret,
    Publishable,
}

impl KeyKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Publishable => "publishable",
        }
    }

    const fn prefix(self) -> &'static str {
        match self {
            KeyKind::Secret => "sk",
            KeyKind::Publishable => "pk",
        }
    }
}

/// What a key's text says about it, before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyShape {
    pub kind: KeyKind,
    pub environment: Environment,
}

/// A fresh key: `sk_test_…`, `pk_live_…`.
pub fn generate_key(kind: KeyKind, environment: Environment) -> String {
    format!(
        "{}_{}_{}",
        kind.prefix(),
        environment.key_infix(),
        random_base62(KEY_RANDOM_LEN)
    )
}

/// Reads kind and environment from a key's prefix; `None` for anything that is not shaped
/// like a Till key, so junk is refused without a storage read.
pub fn key_shape(key: &str) -> Option<KeyShape> {
    let mut parts = key.splitn(3, '_');
    let kind = match parts.next()? {
        "sk" => KeyKind::Secret,
        "pk" => KeyKind::Publishable,
        _ => return None,
    };
    let environment = match parts.next()? {
        "test" => Environment::Sandbox,
        "live" => Environment::Production,
        _ => return None,
    };
    let random = parts.next()?;
    let well_formed =
        random.len() == KEY_RANDOM_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric());
    well_formed.then_some(KeyShape { kind, environment })
}

/// The stored form of a key: lower-case hex SHA-256. Keys carry ~190 random bits, so a
/// fast unsalted hash is enough (nothing to brute-force), and lookups stay one indexed read.
pub fn hash_key(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

/// Lower-case hex SHA-256 of any bytes (request fingerprints for idempotency).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_announce_kind_and_environment() {
        for kind in [KeyKind::Secret, KeyKind::Publishable] {
            for environment in [Environment::Sandbox, Environment::Production] {
                let key = generate_key(kind, environment);
                assert_eq!(
                    key_shape(&key),
                    Some(KeyShape { kind, environment }),
                    "{key}"
                );
            }
        }
        assert!(generate_key(KeyKind::Secret, Environment::Sandbox).starts_with("sk_test_"));
        assert!(
            generate_key(KeyKind::Publishable, Environment::Production).starts_with("pk_live_")
        );
    }

    #[test]
    fn text_not_shaped_like_a_key_is_refused() {
        for junk in [
            "",
            "sk_test_",
            "sk_test_short",
            "xk_test_0123456789abcdefghijklmnopqrstuv",
            "sk_prod_0123456789abcdefghijklmnopqrstuv",
            "sk_test_0123456789abcdefghijklmnopqrst-v",
        ] {
            assert_eq!(key_shape(junk), None, "{junk}");
        }
    }

    #[test]
    fn hashes_are_stable_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let key = generate_key(KeyKind::Secret, Environment::Sandbox);
        assert_eq!(hash_key(&key), hash_key(&key));
        assert_ne!(
            hash_key(&key),
            hash_key(&generate_key(KeyKind::Secret, Environment::Sandbox))
        );
    }
}
