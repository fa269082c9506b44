//! How typed rows read D1's columns that serde cannot read on its own: `0`/`1` flags as
//! `bool`, and JSON stored as text as the value it holds (use with
//! `#[serde(deserialize_with = "crate::db::columns::flag")]`); and an environment from the
//! text a scope carries.

use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer};
use till_shared::keys::Environment;

pub use till_shared::sql::flag;

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
