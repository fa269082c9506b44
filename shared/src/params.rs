//! Request parameters: one reader for every endpoint, so every refusal names its field.
//!
//! Bodies arrive as JSON or as forms, with camelCase (the Recur documents) or snake_case
//! (the others) names. They are normalised to one snake_case JSON object ([`normalize`]),
//! then read field by field through [`Params`], which also refuses fields nobody read.

use serde_json::{Map, Value};

use crate::money::{Currency, MAX_MINOR_UNITS};

/// A refused parameter: which field, and why, in words a developer can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub param: String,
    pub message: String,
}

impl ParamError {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        ParamError {
            param: param.into(),
            message: message.into(),
        }
    }
}

pub type ParamResult<T> = Result<T, ParamError>;

/// `successUrl` → `success_url`; snake_case names pass unchanged.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames object keys to snake_case, recursively, except inside `metadata` (whose keys are
/// the merchant's own). A field sent in both spellings is refused rather than guessed.
pub fn normalize(value: Value) -> ParamResult<Value> {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map {
                let name = snake_case(&key);
                let value = if name == "metadata" {
                    value
                } else {
                    normalize(value)?
                };
                if out.insert(name.clone(), value).is_some() {
                    return Err(ParamError::new(
                        name,
                        "This field was sent twice (camelCase and snake_case).",
                    ));
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .into_iter()
            .map(normalize)
            .collect::<ParamResult<Vec<_>>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

/// How deep a field may sit below its top-level name: `a[b][c][d][e][f]` (a link's
/// `custom_fields[0][dropdown][options][0][label]` is the deepest Till reads). Deeper
/// keys are refused before anything is built for them.
pub const MAX_DEPTH: usize = 5;

/// The refusal of a field nested deeper than [`MAX_DEPTH`].
fn too_deep(field: &str) -> ParamError {
    ParamError::new(
        field,
        format!("Fields nest at most {MAX_DEPTH} levels below their name."),
    )
}

/// A form body (`a=1&metadata[k]=v&line_items[0][price_id]=p`) as a JSON object. Values stay
/// strings; [`Params`] reads numbers and booleans from strings too. A key nested deeper than
/// [`MAX_DEPTH`] is refused, naming its top-level field.
pub fn form_to_json(body: &[u8]) -> ParamResult<Value> {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(body) {
        let (head, mut rest) = key
            .split_once('[')
            .map_or((key.as_ref(), ""), |(h, r)| (h, r));
        let mut path: Vec<&str> = vec![head];
        while !rest.is_empty() {
            if path.len() > MAX_DEPTH {
                return Err(too_deep(head));
            }
            let (segment, after) = rest
                .split_once(']')
                .ok_or_else(|| ParamError::new(head, "Malformed form field name."))?;
            path.push(segment);
            rest = after.strip_prefix('[').unwrap_or(after);
        }
        insert_path(&mut root, &path, Value::String(value.into_owned()))
            .map_err(|()| ParamError::new(head, "Malformed form field name."))?;
    }
    Ok(root)
}

/// Sets the value at `path` (object keys, or array indices that append in order), making
/// the objects and arrays on the way; one step per segment, without recursion.
fn insert_path(root: &mut Value, path: &[&str], value: Value) -> Result<(), ()> {
    let mut node = root;
    for segment in path {
        if segment.is_empty() || segment.len() > 100 {
            return Err(());
        }
        node = if let Ok(index) = segment.parse::<usize>() {
            if node.is_null() {
                *node = Value::Array(Vec::new());
            }
            let Value::Array(items) = node else {
                return Err(());
            };
            if index > items.len() || index > 100 {
                return Err(());
            }
            if index == items.len() {
                items.push(Value::Null);
            }
            &mut items[index]
        } else {
            if node.is_null() {
                *node = Value::Object(Map::new());
            }
            let Value::Object(map) = node else {
                return Err(());
            };
            map.entry((*segment).to_owned()).or_insert(Value::Null)
        };
    }
    *node = value;
    Ok(())
}

/// Refuses a JSON body with a value nested deeper than [`MAX_DEPTH`] below its top-level
/// field (the same limit a form has), naming that field. Walks with its own stack.
pub fn check_depth(body: &Value) -> ParamResult<()> {
    let Value::Object(fields) = body else {
        return Ok(());
    };
    for (name, value) in fields {
        let mut stack = vec![(value, 0usize)];
        while let Some((value, depth)) = stack.pop() {
            let children: Box<dyn Iterator<Item = &Value>> = match value {
                Value::Object(map) => Box::new(map.values()),
                Value::Array(items) => Box::new(items.iter()),
                _ => continue,
            };
            for child in children {
                if depth + 1 > MAX_DEPTH {
                    return Err(too_deep(name));
                }
                stack.push((child, depth + 1));
            }
        }
    }
    Ok(())
}

/// Reads typed fields out of one JSON object, remembering which were read.
pub struct Params {
    prefix: String,
    fields: Map<String, Value>,
}

impl Params {
    /// The top-level body. Anything but an object is refused.
    pub fn new(body: Value) -> ParamResult<Params> {
        Params::nested(String::new(), body)
    }

    fn nested(prefix: String, value: Value) -> ParamResult<Params> {
        match value {
            Value::Object(fields) => Ok(Params { prefix, fields }),
            _ => Err(ParamError::new(
                if prefix.is_empty() {
                    "body".to_owned()
                } else {
                    prefix
                },
                "Expected an object.",
            )),
        }
    }

    /// The full name of a field, as `param` in errors (`line_items[0].price_id`).
    pub fn name(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }

    fn error(&self, field: &str, message: impl Into<String>) -> ParamError {
        ParamError::new(self.name(field), message)
    }

    /// Whether the field was sent with a value (not null).
    pub fn sent(&self, field: &str) -> bool {
        self.fields.get(field).is_some_and(|v| !v.is_null())
    }

    /// Takes out those of `fields` that were sent as null (not sent, to a reader that will
    /// not read them).
    pub fn forget_nulls(&mut self, fields: &[&str]) {
        for field in fields {
            if self.fields.get(*field).is_some_and(Value::is_null) {
                self.fields.remove(*field);
            }
        }
    }

    /// Whether the field was sent at all (even as null).
    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// Takes a field out; JSON `null` counts as absent.
    fn take(&mut self, field: &str) -> Option<Value> {
        self.fields.remove(field).filter(|v| !v.is_null())
    }

    /// For PATCH: `None` when the field was not sent, `Some(None)` when sent as null (clear
    /// it), `Some(Some(value))` read by `read` otherwise.
    pub fn patch<T>(
        &mut self,
        field: &str,
        read: impl FnOnce(&mut Params, &str) -> ParamResult<Option<T>>,
    ) -> ParamResult<Option<Option<T>>> {
        match self.fields.get(field) {
            None => Ok(None),
            Some(Value::Null) => {
                self.fields.remove(field);
                Ok(Some(None))
            }
            Some(_) => read(self, field).map(Some),
        }
    }

    pub fn string(&mut self, field: &str, max_chars: usize) -> ParamResult<Option<String>> {
        match self.take(field) {
            None => Ok(None),
            // Counted as sent (as the OpenAPI document's maxLength counts), kept trimmed.
            Some(Value::String(text)) => {
                if text.chars().count() > max_chars {
                    Err(self.error(field, format!("Must be at most {max_chars} characters.")))
                } else {
                    Ok(Some(text.trim().to_owned()))
                }
            }
            Some(_) => Err(self.error(field, "Expected a string.")),
        }
    }

    pub fn required_string(&mut self, field: &str, max_chars: usize) -> ParamResult<String> {
        match self.string(field, max_chars)? {
            Some(text) if !text.is_empty() => Ok(text),
            _ => Err(self.error(field, "This field is required.")),
        }
    }

    /// An integer, from a JSON number (`5` or `5.0`) or a string of digits (forms).
    /// Fractions are refused.
    pub fn integer(&mut self, field: &str, min: i64, max: i64) -> ParamResult<Option<i64>> {
        let Some(value) = self.take(field) else {
            return Ok(None);
        };
        let number = match &value {
            Value::Number(_) => whole_number(&value),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let number = number.ok_or_else(|| self.error(field, "Expected a whole number."))?;
        if number < min || number > max {
            return Err(self.error(field, format!("Must be between {min} and {max}.")));
        }
        Ok(Some(number))
    }

    pub fn boolean(&mut self, field: &str) -> ParamResult<Option<bool>> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(_) => Err(self.error(field, "Expected true or false.")),
        }
    }

    /// One of a fixed set of words, compared without regard to case; answers the canonical
    /// spelling from `allowed`.
    pub fn one_of(
        &mut self,
        field: &str,
        allowed: &[&'static str],
    ) -> ParamResult<Option<&'static str>> {
        let Some(text) = self.string(field, 64)? else {
            return Ok(None);
        };
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&text))
            .copied()
            .map(Some)
            .ok_or_else(|| self.error(field, format!("Must be one of: {}.", allowed.join(", "))))
    }

    pub fn currency(&mut self, field: &str) -> ParamResult<Option<Currency>> {
        let Some(code) = self.string(field, 8)? else {
            return Ok(None);
        };
        Currency::parse(&code)
            .map(Some)
            .map_err(|_| self.error(field, format!("`{code}` is not a supported currency.")))
    }

    /// An amount in minor units: a non-negative integer no larger than Till's maximum.
    pub fn amount(&mut self, field: &str) -> ParamResult<Option<i64>> {
        self.integer(field, 0, MAX_MINOR_UNITS)
    }

    /// Metadata: an object of string values, within the documented limits.
    pub fn metadata(&mut self, field: &str) -> ParamResult<Option<Map<String, Value>>> {
        let Some(value) = self.take(field) else {
            return Ok(None);
        };
        validate_metadata(value)
            .map(Some)
            .map_err(|(key, message)| {
                let name = match key {
                    Some(key) => format!("{}[{key}]", self.name(field)),
                    None => self.name(field),
                };
                ParamError::new(name, message)
            })
    }

    /// A nested object, read with its own [`Params`].
    pub fn object(&mut self, field: &str) -> ParamResult<Option<Params>> {
        let name = self.name(field);
        self.take(field)
            .map(|v| Params::nested(name, v))
            .transpose()
    }

    /// A list of objects, each read with its own [`Params`].
    pub fn objects(&mut self, field: &str, max: usize) -> ParamResult<Option<Vec<Params>>> {
        let name = self.name(field);
        match self.take(field) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                if items.len() > max {
                    return Err(ParamError::new(name, format!("At most {max} items.")));
                }
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| Params::nested(format!("{name}[{i}]"), item))
                    .collect::<ParamResult<Vec<_>>>()
                    .map(Some)
            }
            Some(_) => Err(ParamError::new(name, "Expected a list.")),
        }
    }

    /// A list of strings.
    pub fn strings(&mut self, field: &str, max: usize) -> ParamResult<Option<Vec<String>>> {
        let name = self.name(field);
        match self.take(field) {
            None => Ok(None),
            Some(Value::Array(items)) if items.len() <= max => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(ParamError::new(
                        format!("{name}[{i}]"),
                        "Expected a string.",
                    )),
                })
                .collect::<ParamResult<Vec<_>>>()
                .map(Some),
            Some(Value::Array(_)) => Err(ParamError::new(name, format!("At most {max} items."))),
            Some(_) => Err(ParamError::new(name, "Expected a list.")),
        }
    }

    /// Raw access for fields with their own grammar (times, nested unions).
    pub fn raw(&mut self, field: &str) -> Option<Value> {
        self.take(field)
    }

    /// Refuses any field that no reader took: a misspelt parameter is an error, not ignored.
    pub fn finish(self) -> ParamResult<()> {
        match self.fields.keys().next() {
            Some(field) => Err(ParamError::new(
                if self.prefix.is_empty() {
                    field.clone()
                } else {
                    format!("{}.{field}", self.prefix)
                },
                format!("Unknown parameter `{field}`."),
            )),
            None => Ok(()),
        }
    }
}

/// A JSON number that is a whole number: `2028`, or `2028.0` (JSON has one kind of number,
/// so that is the integer 2028 too); `None` for a fraction, a number beyond what a double
/// holds exactly, or anything else.
pub fn whole_number(value: &Value) -> Option<i64> {
    let number = value.as_number()?;
    number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// The documented metadata limits.
pub const METADATA_MAX_KEYS: usize = 50;
pub const METADATA_MAX_KEY_CHARS: usize = 40;
pub const METADATA_MAX_VALUE_CHARS: usize = 500;

/// Metadata is an object of at most 50 keys of at most 40 characters, with string values
/// of at most 500 characters (numbers and booleans are kept as their text). The error names
/// the offending key, if one.
pub fn validate_metadata(value: Value) -> Result<Map<String, Value>, (Option<String>, String)> {
    let Value::Object(map) = value else {
        return Err((
            None,
            "Metadata must be an object of keys and string values.".into(),
        ));
    };
    if map.len() > METADATA_MAX_KEYS {
        return Err((
            None,
            format!("Metadata can have at most {METADATA_MAX_KEYS} keys."),
        ));
    }
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        if key.is_empty() || key.chars().count() > METADATA_MAX_KEY_CHARS {
            return Err((
                Some(key),
                format!("Metadata keys must be 1 to {METADATA_MAX_KEY_CHARS} characters."),
            ));
        }
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err((Some(key), "Metadata values must be strings.".into())),
        };
        if text.chars().count() > METADATA_MAX_VALUE_CHARS {
            return Err((
                Some(key),
                format!("Metadata values must be at most {METADATA_MAX_VALUE_CHARS} characters."),
            ));
        }
        out.insert(key, Value::String(text));
    }
    Ok(out)
}

/// A redirect target (success, cancel, after-completion URLs): https, or in SANDBOX also
/// http on localhost / 127.0.0.1 so a developer's machine can receive it.
/// `{CHECKOUT_SESSION_ID}` may appear anywhere in it.
pub fn validate_redirect_url(text: &str, sandbox: bool) -> Result<String, String> {
    if text.len() > 2048 {
        return Err("URLs must be at most 2048 characters.".into());
    }
    let probe = text.replace("{CHECKOUT_SESSION_ID}", "cs_placeholder");
    let url = url::Url::parse(&probe).map_err(|_| format!("`{text}` is not an absolute URL."))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(text.to_owned()),
        "http" if sandbox && local => Ok(text.to_owned()),
        "http" if local => Err("http:// URLs are allowed only with test keys; use https.".into()),
        _ => Err("Redirect URLs must use https.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn camel_case_names_become_snake_case_but_metadata_keys_do_not() {
        let body = json!({
            "productId": "prod_1", "successUrl": "https://x", "max_completions": 5,
            "lineItems": [{"priceId": "price_1"}],
            "metadata": {"userId": "u1"}
        });
        assert_eq!(
            normalize(body).unwrap(),
            json!({
                "product_id": "prod_1", "success_url": "https://x", "max_completions": 5,
                "line_items": [{"price_id": "price_1"}],
                "metadata": {"userId": "u1"}
            })
        );
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_is_an_integer_and_a_fraction_is_not() {
        let mut p = Params::new(json!({"a": 2028.0, "b": 2028.5, "c": "12"})).unwrap();
        assert_eq!(p.integer("a", 0, 3000).unwrap(), Some(2028));
        assert!(p.integer("b", 0, 3000).is_err());
        assert_eq!(p.integer("c", 0, 3000).unwrap(), Some(12));
    }

    #[test]
    fn a_field_in_both_spellings_is_refused() {
        let error = normalize(json!({"productId": "a", "product_id": "b"})).unwrap_err();
        assert_eq!(error.param, "product_id");
    }

    #[test]
    fn form_bodies_become_nested_json() {
        let body = b"amount=10000&currency=thb&title=Hot+Latte&multiple=true&metadata[order]=42&line_items[0][price_id]=p1&line_items[0][quantity]=2&line_items[1][price_id]=p2";
        assert_eq!(
            form_to_json(body).unwrap(),
            json!({
                "amount": "10000", "currency": "thb", "title": "Hot Latte", "multiple": "true",
                "metadata": {"order": "42"},
                "line_items": [{"price_id": "p1", "quantity": "2"}, {"price_id": "p2"}]
            })
        );
        assert!(
            form_to_json(b"a[0]=1&a[5]=2").is_err(),
            "sparse lists are refused"
        );
        assert!(
            form_to_json(b"a=1&a[b]=2").is_err(),
            "a field cannot be both value and object"
        );
        assert!(form_to_json(b"a[b=1").is_err());
    }

    #[test]
    fn keys_nest_at_most_five_levels_in_forms_and_json_alike() {
        let deepest = b"custom_fields[0][dropdown][options][0][label]=Red";
        assert_eq!(
            form_to_json(deepest).unwrap(),
            json!({"custom_fields": [{"dropdown": {"options": [{"label": "Red"}]}}]})
        );
        assert!(check_depth(&form_to_json(deepest).unwrap()).is_ok());
        let error =
            form_to_json(b"custom_fields[0][dropdown][options][0][label][x]=1").unwrap_err();
        assert_eq!(error.param, "custom_fields");
        // 60 KB of `[0]`: refused after six segments, whatever follows.
        let key = format!("a{}=1", "[0]".repeat(20_000));
        assert_eq!(form_to_json(key.as_bytes()).unwrap_err().param, "a");
        let mut nested = json!("leaf");
        for _ in 0..6 {
            nested = json!([nested]);
        }
        let error = check_depth(&json!({"ok": {"a": [1]}, "metadata": nested})).unwrap_err();
        assert_eq!(error.param, "metadata");
        assert!(check_depth(&json!({"a": [[[[["five"]]]]]})).is_ok());
    }

    #[test]
    fn typed_readers_name_the_field_they_refuse() {
        let mut p = Params::new(json!({
            "name": 5, "amount": -1, "count": "12", "flag": "true", "mode": "payment",
            "currency": "XXX", "nested": {"inner": true}
        }))
        .unwrap();
        assert_eq!(p.string("name", 10).unwrap_err().param, "name");
        assert_eq!(p.amount("amount").unwrap_err().param, "amount");
        assert_eq!(p.integer("count", 1, 100).unwrap(), Some(12));
        assert_eq!(p.boolean("flag").unwrap(), Some(true));
        assert_eq!(
            p.one_of("mode", &["PAYMENT", "SETUP"]).unwrap(),
            Some("PAYMENT")
        );
        assert_eq!(p.currency("currency").unwrap_err().param, "currency");
        let mut nested = p.object("nested").unwrap().unwrap();
        assert_eq!(nested.string("inner", 5).unwrap_err().param, "nested.inner");
        nested.finish().unwrap();
        p.finish().unwrap();
    }

    #[test]
    fn patch_tells_absent_from_cleared_from_set() {
        let mut p = Params::new(json!({"a": null, "b": "x", "c": 5})).unwrap();
        assert_eq!(p.patch("a", |p, f| p.string(f, 5)).unwrap(), Some(None));
        assert_eq!(
            p.patch("b", |p, f| p.string(f, 5)).unwrap(),
            Some(Some("x".to_owned()))
        );
        assert_eq!(p.patch("z", |p, f| p.string(f, 5)).unwrap(), None);
        assert_eq!(p.patch("c", |p, f| p.string(f, 5)).unwrap_err().param, "c");
        p.finish().unwrap();
    }

    #[test]
    fn fractions_are_not_whole_numbers() {
        let mut p = Params::new(json!({"a": 1.5, "b": "1.5", "c": 1e3, "d": 1e300})).unwrap();
        assert!(p.integer("a", 0, 10).is_err());
        assert!(p.integer("b", 0, 10).is_err());
        // 1e3 is JSON's 1000, as 1000.0 is.
        assert_eq!(p.integer("c", 0, 10_000).unwrap(), Some(1000));
        assert!(p.integer("d", 0, i64::MAX).is_err());
    }

    #[test]
    fn unread_fields_are_refused_by_name() {
        let mut p = Params::new(json!({"name": "x", "nmae": "typo"})).unwrap();
        p.string("name", 10).unwrap();
        let error = p.finish().unwrap_err();
        assert_eq!(error.param, "nmae");
        assert!(error.message.contains("Unknown parameter"));
    }

    #[test]
    fn list_items_are_named_by_index() {
        let mut p = Params::new(json!({"line_items": [{"quantity": 1}, {"quantity": 0}]})).unwrap();
        let mut items = p.objects("line_items", 10).unwrap().unwrap();
        assert_eq!(
            items[1].integer("quantity", 1, 99).unwrap_err().param,
            "line_items[1].quantity"
        );
    }

    #[test]
    fn metadata_limits_are_enforced() {
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(validate_metadata(Value::Object(many)).is_err());
        assert_eq!(
            validate_metadata(json!({"k".repeat(41): "v"}))
                .unwrap_err()
                .0,
            Some("k".repeat(41))
        );
        assert!(validate_metadata(json!({"k": "v".repeat(501)})).is_err());
        assert!(validate_metadata(json!({"k": {"nested": 1}})).is_err());
        assert!(validate_metadata(json!(["not", "an", "object"])).is_err());
        assert_eq!(
            validate_metadata(json!({"points": 100, "vip": true, "user": "u1"})).unwrap(),
            json!({"points": "100", "vip": "true", "user": "u1"})
                .as_object()
                .unwrap()
                .clone()
        );
        let fifty: Map<String, Value> = (0..50)
            .map(|i| (format!("k{i}"), json!("v".repeat(500))))
            .collect();
        assert!(validate_metadata(Value::Object(fifty)).is_ok());
    }

    #[test]
    fn redirect_urls_must_be_https_except_local_http_in_sandbox() {
        let ok = |u: &str, sandbox| validate_redirect_url(u, sandbox).is_ok();
        assert!(ok(
            "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}",
            false
        ));
        assert!(ok("http://localhost:3000/success", true));
        assert!(ok("http://127.0.0.1/success", true));
        assert!(!ok("http://localhost:3000/success", false));
        assert!(!ok("http://shop.example/thanks", true));
        assert!(!ok("javascript:alert(1)", true));
        assert!(!ok("/relative", true));
        assert!(!ok("ftp://shop.example", true));
        assert!(!ok(
            &format!("https://x.example/{}", "a".repeat(2100)),
            true
        ));
    }
}
