//! Statements with named parameters (`:link`), numbered for D1 by `till_shared::sql`, as
//! the main Worker writes its own.

use till_shared::sql::number;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Error, Result};

/// `text` prepared on `db` with each `:name` bound to its value in `values`; a name left
/// unbound is an error before the statement reaches D1.
pub fn prepare(
    db: &D1Database,
    text: &str,
    values: &[(&str, JsValue)],
) -> Result<D1PreparedStatement> {
    let numbered = number(text).map_err(|e| Error::RustError(format!("{e}: {text}")))?;
    let bound = numbered
        .names
        .iter()
        .map(|name| {
            values
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| value.clone())
                .ok_or_else(|| Error::RustError(format!(":{name} unbound")))
        })
        .collect::<Result<Vec<JsValue>>>()?;
    db.prepare(numbered.text).bind(&bound)
}

/// A text value, or SQL NULL.
pub fn text(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// An integer value (D1 reads JavaScript numbers; rows hold far less than 2^53).
pub fn integer(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}
