//! Checkout tickets: what a short-link visit hands to the checkout page so the visit itself
//! writes nothing.
//!
//! A visit to `/{code}` answers at once with `302 /c/{session_id}?t={ticket}`: the session
//! id is chosen then, and the ticket carries the link, the time and the visit's parameters
//! (prefills, locale, `utm_*`), signed with HMAC-SHA256 over the session id and the payload
//! under a key of its own, derived from the operator secret by HKDF
//! ([`crate::secrets::Purpose::CheckoutTicket`]).
//! The checkout page creates the session from a ticket that verifies and is fresh, at most
//! once (the id is the primary key). A forged, altered or stale ticket creates nothing.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secrets::{Purpose, derive_key};

type HmacSha256 = Hmac<Sha256>;

/// How long a ticket may wait for its page to be loaded.
pub const TICKET_LIFETIME_SECS: i64 = 600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub link_id: String,
    pub issued_at: i64,
    /// The visit's query parameters that shape the session, in the order given.
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("the ticket is malformed")]
    Malformed,
    #[error("the ticket's signature does not match")]
    Forged,
    #[error("the ticket has expired")]
    Expired,
}

/// Seals and opens tickets with a key derived from a Worker secret (so no new secret has to
/// be configured, and tickets cannot be made without it). It keeps the MAC already keyed,
/// so a ticket costs only its own bytes: hold one per secret.
#[derive(Clone)]
pub struct Signer {
    keyed: HmacSha256,
}

impl Signer {
    /// The signer of the operator secret `secret`: its key is the secret's HKDF derivation
    /// for checkout tickets, never the secret itself or a key of another purpose.
    pub fn new(secret: &str) -> Signer {
        let key = derive_key(secret, Purpose::CheckoutTicket);
        Signer {
            keyed: HmacSha256::new_from_slice(&key).expect("any key length"),
        }
    }

    fn signature(&self, session_id: &str, payload: &str) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(session_id.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac
    }

    /// `{payload}.{signature}`, both lower-case hex (URL-safe as is).
    pub fn seal(&self, session_id: &str, ticket: &Ticket) -> String {
        let payload = payload(ticket);
        let signature = hex::encode(self.signature(session_id, &payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The ticket for `session_id`, if it was sealed with this key and is not older than
    /// [`TICKET_LIFETIME_SECS`]. The signature is checked in constant time.
    pub fn open(&self, session_id: &str, sealed: &str, now: i64) -> Result<Ticket, TicketError> {
        let (payload, signature_hex) = sealed.split_once('.').ok_or(TicketError::Malformed)?;
        let claimed = hex::decode(signature_hex).map_err(|_| TicketError::Malformed)?;
        self.signature(session_id, payload)
            .verify_slice(&claimed)
            .map_err(|_| TicketError::Forged)?;
        let bytes = hex::decode(payload).map_err(|_| TicketError::Malformed)?;
        let mut link_id = None;
        let mut issued_at = None;
        let mut params = Vec::new();
        for (name, value) in url::form_urlencoded::parse(&bytes) {
            match name.as_ref() {
                "l" if link_id.is_none() => link_id = Some(value.into_owned()),
                "a" if issued_at.is_none() => issued_at = value.parse::<i64>().ok(),
                _ => params.push((name.into_owned(), value.into_owned())),
            }
        }
        let ticket = Ticket {
            link_id: link_id.ok_or(TicketError::Malformed)?,
            issued_at: issued_at.ok_or(TicketError::Malformed)?,
            params,
        };
        if now - ticket.issued_at > TICKET_LIFETIME_SECS || ticket.issued_at - now > 60 {
            return Err(TicketError::Expired);
        }
        Ok(ticket)
    }
}

fn payload(ticket: &Ticket) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("l", &ticket.link_id);
    query.append_pair("a", &ticket.issued_at.to_string());
    for (name, value) in &ticket.params {
        query.append_pair(name, value);
    }
    hex::encode(query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        Ticket {
            link_id: "plink_abc".into(),
            issued_at: 1_800_000_000,
            params: vec![
                ("prefilled_email".into(), "mei@example.com".into()),
                ("utm_source".into(), "news & letters".into()),
            ],
        }
    }

    #[test]
    fn a_sealed_ticket_opens_for_its_session_with_its_parameters() {
        let key = Signer::new("op_secret");
        let sealed = key.seal("cs_1", &ticket());
        assert!(sealed.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.'));
        assert_eq!(key.open("cs_1", &sealed, 1_800_000_100), Ok(ticket()));
    }

    #[test]
    fn another_session_key_payload_or_signature_is_refused() {
        let key = Signer::new("op_secret");
        let sealed = key.seal("cs_1", &ticket());
        assert_eq!(
            key.open("cs_2", &sealed, 1_800_000_000),
            Err(TicketError::Forged)
        );
        assert_eq!(
            Signer::new("op_other").open("cs_1", &sealed, 1_800_000_000),
            Err(TicketError::Forged)
        );
        let (payload, signature) = sealed.split_once('.').unwrap();
        let mut altered = ticket();
        altered.link_id = "plink_xyz".into();
        let swapped = format!(
            "{}.{signature}",
            key.seal("cs_1", &altered).split_once('.').unwrap().0
        );
        assert_eq!(
            key.open("cs_1", &swapped, 1_800_000_000),
            Err(TicketError::Forged)
        );
        let flipped = format!(
            "{payload}.{}",
            signature.replace('a', "b").replace('0', "1")
        );
        assert_ne!(flipped, sealed);
        assert_eq!(
            key.open("cs_1", &flipped, 1_800_000_000),
            Err(TicketError::Forged)
        );
        for malformed in ["", "abc", "zz.zz", "."] {
            assert!(
                key.open("cs_1", malformed, 1_800_000_000).is_err(),
                "{malformed}"
            );
        }
    }

    #[test]
    fn a_ticket_sealed_with_the_earlier_key_derivation_is_refused() {
        // Before HKDF, the key was HMAC(secret, "till checkout ticket v1").
        let mut old = HmacSha256::new_from_slice(b"op_secret").unwrap();
        old.update(b"till checkout ticket v1");
        let old_key = old.finalize().into_bytes();
        let earlier = Signer {
            keyed: HmacSha256::new_from_slice(&old_key).unwrap(),
        };
        let sealed = earlier.seal("cs_1", &ticket());
        assert_eq!(
            Signer::new("op_secret").open("cs_1", &sealed, 1_800_000_000),
            Err(TicketError::Forged)
        );
    }

    #[test]
    fn a_ticket_is_good_for_ten_minutes() {
        let key = Signer::new("op_secret");
        let sealed = key.seal("cs_1", &ticket());
        assert!(
            key.open("cs_1", &sealed, 1_800_000_000 + TICKET_LIFETIME_SECS)
                .is_ok()
        );
        assert_eq!(
            key.open("cs_1", &sealed, 1_800_000_001 + TICKET_LIFETIME_SECS),
            Err(TicketError::Expired)
        );
        assert_eq!(
            key.open("cs_1", &sealed, 1_800_000_000 - 61),
            Err(TicketError::Expired)
        );
    }
}
