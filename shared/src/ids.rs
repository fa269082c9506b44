//! Typed, prefixed, random identifiers and the Base62 short codes of payment links.
//!
//! Every object id carries its kind in a prefix (`prod_…`, `cs_…`), so an id pasted into
//! the wrong field is caught at parse time, and its random part comes from the platform's
//! CSPRNG (the OS on the host, `crypto.getRandomValues` on wasm32), so ids and short codes
//! are unguessable.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random characters after an id's prefix: 24 Base62 characters, about 143 bits.
pub const ID_RANDOM_LEN: usize = 24;

/// Length of a payment link's short code (`https://…/7sY3cxcrX1T1ep4`): 15 Base62
/// characters, about 89 bits, so codes cannot be enumerated.
pub const SHORT_CODE_LEN: usize = 15;

/// Why a text is not a valid id or short code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected an id starting with `{expected}`")]
    WrongPrefix { expected: &'static str },
    #[error("malformed id")]
    Malformed,
}

/// The key in a payment's receipt URL: 32 random Base62 characters (190 bits), so the
/// URL is the receipt's only credential.
pub fn receipt_key() -> String {
    format!("rcpt_{}", random_base62(32))
}

/// `len` characters drawn uniformly from the Base62 alphabet by the platform's CSPRNG.
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut pool = [0u8; 64];
    while out.len() < len {
        getrandom::getrandom(&mut pool).expect("the platform CSPRNG is available");
        // 248 = 4 * 62: bytes at or above it are dropped so every character is equally likely.
        for &byte in pool.iter().filter(|&&b| b < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(BASE62[usize::from(byte % 62)]));
        }
    }
    out
}

fn is_base62(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident => $prefix:literal;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn generate() -> Self {
                $name(format!("{}{}", $prefix, random_base62(ID_RANDOM_LEN)))
            }

            /// Checks the prefix and the character set; the length of the random part may
            /// vary so that ids chosen elsewhere (imports, merchant-chosen ids) still parse.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                let rest = text
                    .strip_prefix($prefix)
                    .ok_or(IdError::WrongPrefix { expected: $prefix })?;
                if rest.is_empty() || rest.len() > 64 || !is_base62(rest) {
                    return Err(IdError::Malformed);
                }
                Ok($name(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    )+};
}

typed_ids! {
    /// A merchant account.
    AccountId => "acct_";
    /// A product in a merchant's catalogue.
    ProductId => "prod_";
    /// A price of a product (one-time or recurring).
    PriceId => "price_";
    /// A payment link.
    PaymentLinkId => "plink_";
    /// A checkout session.
    CheckoutSessionId => "cs_";
    /// A customer.
    CustomerId => "cus_";
    /// A saved payment method.
    PaymentMethodId => "pm_";
    /// A subscription.
    SubscriptionId => "sub_";
    /// An event (what webhooks deliver).
    EventId => "evt_";
    /// A webhook endpoint.
    WebhookEndpointId => "we_";
    /// A promotion code.
    PromotionCodeId => "promo_";
    /// A test clock (SANDBOX).
    TestClockId => "clock_";
    /// An order: what a completed checkout sold.
    OrderId => "ord_";
    /// A payment taken for an order.
    PaymentId => "pay_";
    /// A charge of a subscription's billing order.
    ChargeId => "ch_";
    /// Money given back from a payment.
    RefundId => "re_";
    /// The record of a card saved by a SETUP checkout.
    SetupIntentId => "seti_";
    /// The delivery of one event to one endpoint (see [`WebhookDeliveryId::of`]).
    WebhookDeliveryId => "wd_";
    /// One attempt at delivering a webhook.
    WebhookAttemptId => "wa_";
    /// A customer portal session.
    PortalSessionId => "bps_";
}

impl WebhookDeliveryId {
    /// An event is delivered to an endpoint at most once (retries are attempts of that one
    /// delivery), so the delivery's id is made of theirs: its prefix, then the random part
    /// of the event's id, then the endpoint's. The fan-out that queues deliveries in SQL
    /// writes exactly this (`DELIVERY_ID` in the Worker's event writer).
    pub fn of(event: &EventId, endpoint: &WebhookEndpointId) -> Self {
        WebhookDeliveryId(format!(
            "{}{}{}",
            Self::PREFIX,
            &event.as_str()[EventId::PREFIX.len()..],
            &endpoint.as_str()[WebhookEndpointId::PREFIX.len()..]
        ))
    }
}

/// The Base62 code in a payment link's shareable URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShortCode(String);

impl ShortCode {
    pub fn generate() -> Self {
        ShortCode(random_base62(SHORT_CODE_LEN))
    }

    /// Accepts exactly a Till short code; anything else is refused before any storage read.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        if text.len() == SHORT_CODE_LEN && is_base62(text) {
            Ok(ShortCode(text.to_owned()))
        } else {
            Err(IdError::Malformed)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShortCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn a_delivery_id_is_made_of_its_event_and_endpoint() {
        let event = EventId::generate();
        let endpoint = WebhookEndpointId::generate();
        let id = WebhookDeliveryId::of(&event, &endpoint);
        assert_eq!(WebhookDeliveryId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(id.as_str().len(), 3 + 2 * ID_RANDOM_LEN);
        assert!(id.as_str().ends_with(&endpoint.as_str()[3..]));
        assert_ne!(id, WebhookDeliveryId::of(&EventId::generate(), &endpoint));
    }

    #[test]
    fn generated_ids_carry_their_prefix_and_parse_back() {
        let id = ProductId::generate();
        assert!(id.as_str().starts_with("prod_"));
        assert_eq!(id.as_str().len(), "prod_".len() + ID_RANDOM_LEN);
        assert_eq!(ProductId::parse(id.as_str()), Ok(id.clone()));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<ProductId>(&json).unwrap(), id);
    }

    #[test]
    fn an_id_of_another_kind_is_refused() {
        let session = CheckoutSessionId::generate();
        assert_eq!(
            ProductId::parse(session.as_str()),
            Err(IdError::WrongPrefix { expected: "prod_" })
        );
        assert_eq!(ProductId::parse("prod_"), Err(IdError::Malformed));
        assert_eq!(ProductId::parse("prod_a-b"), Err(IdError::Malformed));
        assert_eq!(ProductId::parse("prod_ab'; --"), Err(IdError::Malformed));
        assert!(serde_json::from_str::<ProductId>("\"cus_abc\"").is_err());
    }

    #[test]
    fn short_codes_are_base62_of_fixed_length_and_do_not_repeat() {
        let codes: HashSet<String> = (0..10_000)
            .map(|_| ShortCode::generate().as_str().to_owned())
            .collect();
        assert_eq!(codes.len(), 10_000);
        for code in &codes {
            assert_eq!(code.len(), SHORT_CODE_LEN);
            assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn random_characters_cover_the_whole_alphabet_evenly() {
        let sample = random_base62(62 * 2000);
        let mut counts = [0u32; 62];
        for b in sample.bytes() {
            let index = BASE62.iter().position(|&c| c == b).unwrap();
            counts[index] += 1;
        }
        // Expected 2000 each; a biased generator (byte % 62 without rejection) gives the
        // first characters about 25% more. 1700..2300 is over 6 standard deviations wide.
        for (index, count) in counts.iter().enumerate() {
            assert!(
                (1700..2300).contains(count),
                "`{}` drawn {count} times",
                char::from(BASE62[index])
            );
        }
    }

    #[test]
    fn the_reference_documents_sample_code_is_a_valid_short_code() {
        assert!(ShortCode::parse("7sY3cxcrX1T1ep4").is_ok());
    }

    proptest! {
        #[test]
        fn short_code_parse_accepts_exactly_fixed_length_base62(text in "[0-9A-Za-z/._%-]{0,20}") {
            let valid = text.len() == SHORT_CODE_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric());
            prop_assert_eq!(ShortCode::parse(&text).is_ok(), valid);
        }

        #[test]
        fn id_parse_accepts_exactly_prefix_and_base62(rest in "[0-9A-Za-z_ -]{0,30}") {
            let text = format!("cs_{rest}");
            let valid = !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric());
            prop_assert_eq!(CheckoutSessionId::parse(&text).is_ok(), valid);
        }
    }
}
