//! How typed rows read D1's columns that serde cannot read on its own: `0`/`1` flags as
//! `bool`, and JSON stored as text as the value it holds (use with
//! `#[serde(deserialize_with = "crate::db::columns::flag")]`); and an environment from the
//! text a scope carries.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use till_shared::keys::Environment;

/// A `0`/`1` column (SQLite has no booleans) as `bool`.
pub fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct Flag;

    impl Visitor<'_> for Flag {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("0 or 1")
        }

        fn visit_bool<E: de::Error>(self, value: bool) -> Result<bool, E> {
            Ok(value)
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<bool, E> {
            match value {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::invalid_value(de::Unexpected::Signed(value), &self)),
            }
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<bool, E> {
            self.visit_i64(i64::try_from(value).unwrap_or(i64::MAX))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<bool, E> {
            match value {
                0.0 => Ok(false),
                1.0 => Ok(true),
                _ => Err(E::invalid_value(de::Unexpected::Float(value), &self)),
            }
        }
    }

    deserializer.deserialize_any(Flag)
}

/// A flag written back as the `0`/`1` its column holds (the link snapshot cached in KV
/// keeps the shape of the row).
pub fn as_flag<S: serde::Serializer>(value: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(i64::from(*value))
}

/// A column of JSON text (`'[{"price_id": …}]'`) as the value it holds.
pub fn json<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> Result<T, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    serde_json::from_str(&text).map_err(de::Error::custom)
}

/// The environment stored as `text` (`"SANDBOX"`, `"PRODUCTION"`).
pub fn environment(text: &str) -> Option<Environment> {
    let text: de::value::StrDeserializer<'_, de::value::Error> = text.into_deserializer();
    serde::Deserialize::deserialize(text).ok()
}
