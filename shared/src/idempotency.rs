//! The rules of `Idempotency-Key`: which keys are acceptable, how long a stored answer is
//! replayed, when a claim whose request never finished may be taken over, and what a replay
//! of an answer that carried a secret says instead of the secret.

/// A key is replayed for a day after it was claimed; after that the same key is a new
/// request (and the cron trigger deletes the row).
pub const KEY_LIFETIME_SECS: i64 = 24 * 3600;

/// A claim still pending after this long belongs to a request that died (a Worker's
/// request does not run this long): a retry with the same request may take it over.
pub const CLAIM_TAKEOVER_SECS: i64 = 60;

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// Why an `Idempotency-Key` header is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("Idempotency keys must be 1 to 255 characters.")]
    Length,
}

/// Checks an `Idempotency-Key` header's value.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(KeyError::Length);
    }
    Ok(())
}

/// The times a claim at `now` compares stored rows against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// A row claimed at or before this has expired: the key is free again.
    pub expired_before: i64,
    /// A pending claim made at or before this may be taken over by the same request.
    pub abandoned_before: i64,
}

pub const fn cutoffs(now: i64) -> Cutoffs {
    Cutoffs {
        expired_before: now - KEY_LIFETIME_SECS,
        abandoned_before: now - CLAIM_TAKEOVER_SECS,
    }
}

/// The answer to a replay of a request whose answer carried a secret (which is shown once
/// and never stored), naming the object the first request made or changed.
pub fn withheld_message(object_id: Option<&str>) -> String {
    let what = object_id.map_or_else(String::new, |id| format!(" ({id})"));
    format!(
        "The request with this Idempotency-Key already succeeded{what}. Its answer carried a \
         secret, which is shown only once and never stored, so it is not replayed. To make \
         a new request, send a new Idempotency-Key."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_1_to_255_characters_are_accepted() {
        assert_eq!(validate_key(""), Err(KeyError::Length));
        assert_eq!(validate_key("a"), Ok(()));
        assert_eq!(validate_key(&"k".repeat(255)), Ok(()));
        assert_eq!(validate_key(&"k".repeat(256)), Err(KeyError::Length));
    }

    #[test]
    fn a_day_old_row_has_expired_and_a_minute_old_claim_may_be_taken_over() {
        let now = 1_800_000_000;
        let c = cutoffs(now);
        assert_eq!(c.expired_before, now - 86_400);
        assert_eq!(c.abandoned_before, now - 60);
        assert!(c.expired_before < c.abandoned_before);
    }

    #[test]
    fn the_withheld_message_names_the_object_and_what_to_do() {
        let message = withheld_message(Some("we_123"));
        assert!(message.contains("(we_123)"));
        assert!(message.contains("new Idempotency-Key"));
        assert!(!withheld_message(None).contains("()"));
    }
}
