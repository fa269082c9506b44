//! How typed rows read D1's columns: an environment from the text a scope carries.

use serde::de::{self, IntoDeserializer};
use till_shared::keys::Environment;

/// The environment stored as `text` (`"SANDBOX"`, `"PRODUCTION"`).
pub fn environment(text: &str) -> Option<Environment> {
    let text: de::value::StrDeserializer<'_, de::value::Error> = text.into_deserializer();
    serde::Deserialize::deserialize(text).ok()
}
