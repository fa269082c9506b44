//! Named statement parameters for a database that takes only positional ones (D1 binds
//! `?1`, `?2`, … from an array): `:name` in the text is numbered by first appearance, so a
//! statement reads by name and nobody counts to `?27` by hand.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// A statement's text with `:name` parameters rewritten to `?N`, and the name of each
/// position (the first is `?1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered {
    pub text: String,
    pub names: Vec<String>,
}

impl Numbered {
    /// The position (1-based) of `name`, if the statement uses it.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name).map(|i| i + 1)
    }
}

/// What a statement's text can get wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlError {
    /// A positional `?` or `?N` beside named ones: one style per statement.
    Positional,
    /// A string literal or quoted name that never closes.
    Unterminated,
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlError::Positional => f.write_str("a statement with named parameters uses `?`"),
            SqlError::Unterminated => f.write_str("a quoted literal never closes"),
        }
    }
}

impl std::error::Error for SqlError {}

/// Rewrites `:name` parameters (a letter or `_`, then letters, digits, `_`) to `?N`,
/// numbered by first appearance; a name used twice gets one number. Quoted text
/// (`'…'`, `"…"`, with doubled quotes inside) is copied as it is, so `'{"a": 1}'` or
/// `json_extract(x, '$.a:b')` are never read as parameters.
pub fn number(text: &str) -> Result<Numbered, SqlError> {
    let mut out = String::with_capacity(text.len());
    let mut names: Vec<String> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                let mut closed = false;
                while let Some((_, inner)) = chars.next() {
                    out.push(inner);
                    if inner == c {
                        if chars.peek().is_some_and(|(_, next)| *next == c) {
                            let (_, doubled) = chars.next().unwrap_or((0, c));
                            out.push(doubled);
                            continue;
                        }
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err(SqlError::Unterminated);
                }
            }
            '?' => return Err(SqlError::Positional),
            ':' if text[at + 1..]
                .chars()
                .next()
                .is_some_and(|n| n.is_ascii_alphabetic() || n == '_') =>
            {
                let name: String = text[at + 1..]
                    .chars()
                    .take_while(|n| n.is_ascii_alphanumeric() || *n == '_')
                    .collect();
                for _ in 0..name.chars().count() {
                    chars.next();
                }
                let position = match names.iter().position(|n| *n == name) {
                    Some(i) => i + 1,
                    None => {
                        names.push(name);
                        names.len()
                    }
                };
                out.push('?');
                out.push_str(&position.to_string());
            }
            _ => out.push(c),
        }
    }
    Ok(Numbered { text: out, names })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_numbered_by_first_appearance_and_reused() {
        let numbered = number(
            "UPDATE links SET active = :active, updated_at = :now WHERE id = :id AND (:max IS NULL OR n <= :max)",
        )
        .unwrap();
        assert_eq!(
            numbered.text,
            "UPDATE links SET active = ?1, updated_at = ?2 WHERE id = ?3 AND (?4 IS NULL OR n <= ?4)"
        );
        assert_eq!(numbered.names, ["active", "now", "id", "max"]);
        assert_eq!(numbered.position("max"), Some(4));
        assert_eq!(numbered.position("absent"), None);
    }

    #[test]
    fn quoted_text_is_left_alone() {
        let numbered = number(
            "SELECT 'a:b', \"col:x\", json_extract(d, '$.x') FROM t WHERE k = :k AND s = 'it''s :not'",
        )
        .unwrap();
        assert_eq!(
            numbered.text,
            "SELECT 'a:b', \"col:x\", json_extract(d, '$.x') FROM t WHERE k = ?1 AND s = 'it''s :not'"
        );
        assert_eq!(numbered.names, ["k"]);
    }

    #[test]
    fn positional_parameters_and_open_quotes_are_refused() {
        assert_eq!(number("SELECT ?1 WHERE a = :a"), Err(SqlError::Positional));
        assert_eq!(number("SELECT 'open"), Err(SqlError::Unterminated));
    }

    #[test]
    fn a_colon_not_followed_by_a_name_is_text() {
        let numbered = number("SELECT '12:30', x FROM t WHERE a = :a_1 AND b = ': '").unwrap();
        assert_eq!(
            numbered.text,
            "SELECT '12:30', x FROM t WHERE a = ?1 AND b = ': '"
        );
    }
}
