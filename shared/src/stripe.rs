//! Stripe's wire, as far as Till speaks it: form bodies in Stripe's bracket notation,
//! answers read into what Till acts on (a PaymentIntent's state, a decline code), the
//! keys a merchant connects, and the events Till reconciles. Stripe signs its webhooks
//! with the scheme Till's own use (`t=…,v1=HMAC-SHA256("t.body")`), so
//! [`crate::webhooks::verify`] checks them.

use serde_json::Value;
use url::form_urlencoded;

use crate::keys::Environment;
use crate::money::{Currency, Money};

/// How many of Stripe's minor units make one of Till's. Stripe counts the Taiwan dollar in
/// cents (charges in whole dollars, so multiples of 100), where Till's TWD minor unit is
/// the dollar ([`crate::money`]); every other currency Till sells has the same exponent at
/// Stripe (JPY, KRW and VND none, the rest two).
fn stripe_factor(currency: Currency) -> i64 {
    match currency {
        Currency::Twd => 100,
        _ => 1,
    }
}

/// An amount as Stripe is sent it.
pub fn stripe_amount(money: Money) -> i64 {
    money.amount() * stripe_factor(money.currency())
}

/// An amount Stripe reports, in Till's minor units; `None` when it is not a whole number
/// of them, or the currency is not one Till sells.
pub fn till_amount(currency: &str, amount: i64) -> Option<i64> {
    let factor = stripe_factor(Currency::parse(currency).ok()?);
    (amount % factor == 0).then_some(amount / factor)
}

/// Whether `id` is a Stripe object id with `prefix` (`pm_`, `pi_`): the prefix, then
/// letters, digits and underscores, at most 100 characters in all. Only such ids are put
/// into a Stripe URL's path.
pub fn is_id(prefix: &str, id: &str) -> bool {
    id.len() <= 100
        && id.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// A form body: `fields` in order, percent-encoded.
pub fn form_body(fields: &[(String, String)]) -> String {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        body.append_pair(name, value);
    }
    body.finish()
}

/// What one call to Stripe came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiAnswer {
    Ok(Value),
    /// A card error (402): the decline code, or the error code when there is none.
    Declined(&'static str),
    /// Any other refusal (4xx): Stripe's error code.
    Refused(&'static str),
    /// No answer, a 5xx, a 429, or a body that is not Stripe's: nothing is known.
    Unavailable,
}

/// The decline codes Till names (others are `card_declined`): `&'static` so outcomes can
/// be matched and stored without carrying Stripe's strings around.
const CODES: &[&str] = &[
    "card_declined",
    "insufficient_funds",
    "expired_card",
    "incorrect_cvc",
    "processing_error",
    "lost_card",
    "stolen_card",
    "authentication_required",
    "payment_intent_authentication_failure",
    "resource_missing",
    "charge_already_refunded",
    "amount_too_large",
    "idempotency_error",
];

fn known(code: Option<&str>, fallback: &'static str) -> &'static str {
    code.and_then(|c| CODES.iter().find(|k| **k == c).copied())
        .unwrap_or(fallback)
}

pub fn read_answer(status: u16, body: &str) -> ApiAnswer {
    let json: Option<Value> = serde_json::from_str(body).ok();
    match (status, json) {
        (200..=299, Some(json)) if json.is_object() => ApiAnswer::Ok(json),
        (402, Some(json)) => {
            let error = &json["error"];
            let code = error["decline_code"].as_str().or(error["code"].as_str());
            ApiAnswer::Declined(known(code, "card_declined"))
        }
        // The same key while its first request still runs: nothing is known yet.
        (409, _) => ApiAnswer::Unavailable,
        (400..=428 | 430..=499, Some(json)) if json["error"].is_object() => {
            ApiAnswer::Refused(known(json["error"]["code"].as_str(), "invalid_request"))
        }
        _ => ApiAnswer::Unavailable,
    }
}

/// Where a PaymentIntent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    Succeeded,
    /// The bank wants the shopper (3-D Secure).
    RequiresAction,
    /// Not confirmed yet.
    RequiresConfirmation,
    /// Refused (declined, or 3-D Secure failed): the decline code.
    Failed(&'static str),
    /// Stripe is still working on it; its webhook says how it ends.
    Processing,
    Canceled,
}

/// The PaymentIntent fields Till reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub status: IntentStatus,
    /// In Till's minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    pub client_secret: Option<String>,
    /// The checkout session it pays (`metadata[till_session]`).
    pub session: Option<String>,
}

pub fn read_intent(body: &Value) -> Option<Intent> {
    let id = body["id"].as_str().filter(|id| id.starts_with("pi_"))?;
    let error = &body["last_payment_error"];
    let code = error["decline_code"].as_str().or(error["code"].as_str());
    let status = match body["status"].as_str()? {
        "succeeded" => IntentStatus::Succeeded,
        "requires_action" => IntentStatus::RequiresAction,
        "requires_confirmation" => IntentStatus::RequiresConfirmation,
        "requires_payment_method" => IntentStatus::Failed(known(code, "card_declined")),
        "processing" | "requires_capture" => IntentStatus::Processing,
        "canceled" => IntentStatus::Canceled,
        _ => return None,
    };
    let currency = body["currency"].as_str()?.to_ascii_uppercase();
    Some(Intent {
        id: id.to_owned(),
        status,
        amount: till_amount(&currency, body["amount"].as_i64()?)?,
        currency,
        client_secret: body["client_secret"].as_str().map(str::to_owned),
        session: body["metadata"]["till_session"].as_str().map(str::to_owned),
    })
}

/// Why a connection is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("`{field}` must be a Stripe {mode} key starting with `{prefix}`")]
    WrongKind {
        field: &'static str,
        mode: &'static str,
        prefix: &'static str,
    },
    #[error("`{0}` must be 20 to 255 letters, digits and underscores")]
    Malformed(&'static str),
}

fn key_shape(field: &'static str, key: &str) -> Result<(), KeyError> {
    let plausible = (20..=255).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    plausible.then_some(()).ok_or(KeyError::Malformed(field))
}

/// The keys a merchant connects for `environment`: a test key for SANDBOX (to rehearse
/// against Stripe's test mode), a live key only for PRODUCTION; a restricted key (`rk_`)
/// in place of the secret key is allowed.
pub fn check_keys(
    environment: Environment,
    secret_key: &str,
    publishable_key: &str,
    webhook_secret: Option<&str>,
) -> Result<(), KeyError> {
    let mode = match environment {
        Environment::Sandbox => "test",
        Environment::Production => "live",
    };
    let secret_ok = ["sk", "rk"]
        .iter()
        .any(|kind| secret_key.starts_with(&format!("{kind}_{mode}_")));
    if !secret_ok {
        return Err(KeyError::WrongKind {
            field: "secret_key",
            mode,
            prefix: if mode == "test" {
                "sk_test_"
            } else {
                "sk_live_"
            },
        });
    }
    key_shape("secret_key", secret_key)?;
    if !publishable_key.starts_with(&format!("pk_{mode}_")) {
        return Err(KeyError::WrongKind {
            field: "publishable_key",
            mode,
            prefix: if mode == "test" {
                "pk_test_"
            } else {
                "pk_live_"
            },
        });
    }
    key_shape("publishable_key", publishable_key)?;
    if let Some(secret) = webhook_secret {
        if !secret.starts_with("whsec_") {
            return Err(KeyError::WrongKind {
                field: "webhook_secret",
                mode,
                prefix: "whsec_",
            });
        }
        key_shape("webhook_secret", secret)?;
    }
    Ok(())
}

/// What a Stripe event asks of Till.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconcile {
    /// A PaymentIntent succeeded (its session completes, once).
    IntentSucceeded(Intent),
    /// A PaymentIntent failed (its session's reservation is given back).
    IntentFailed(Intent),
    /// A charge was refunded, in Stripe's dashboard or by Till: every refund it lists.
    Refunded {
        payment_intent: String,
        refunds: Vec<(String, i64)>,
    },
    /// A dispute was opened on a charge of this PaymentIntent.
    Disputed { payment_intent: String },
    /// Anything else: accepted and ignored.
    Ignored,
}

/// The event's type and what it asks.
pub fn read_event(event: &Value) -> Option<(String, Reconcile)> {
    let kind = event["type"].as_str()?.to_owned();
    let object = &event["data"]["object"];
    let intent_of = |o: &Value| o["payment_intent"].as_str().map(str::to_owned);
    let reconcile = match kind.as_str() {
        "payment_intent.succeeded" => Reconcile::IntentSucceeded(read_intent(object)?),
        "payment_intent.payment_failed" => Reconcile::IntentFailed(read_intent(object)?),
        "charge.refunded" => {
            let currency = object["currency"].as_str().unwrap_or_default();
            Reconcile::Refunded {
                payment_intent: intent_of(object)?,
                refunds: object["refunds"]["data"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter(|r| r["status"].as_str().is_none_or(|s| s == "succeeded"))
                            .filter_map(|r| {
                                let amount = till_amount(currency, r["amount"].as_i64()?)?;
                                Some((r["id"].as_str()?.to_owned(), amount))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        }
        "charge.dispute.created" => Reconcile::Disputed {
            payment_intent: intent_of(object)?,
        },
        _ => Reconcile::Ignored,
    };
    Some((kind, reconcile))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stripe_counts_the_taiwan_dollar_in_cents() {
        let twd = Money::from_minor(590, Currency::Twd).unwrap();
        assert_eq!(stripe_amount(twd), 59_000);
        assert_eq!(till_amount("twd", 59_000), Some(590));
        assert_eq!(till_amount("TWD", 59_050), None);
        let usd = Money::from_minor(1234, Currency::Usd).unwrap();
        assert_eq!(stripe_amount(usd), 1234);
        assert_eq!(till_amount("jpy", 1000), Some(1000));
        assert_eq!(till_amount("xxx", 1), None);
    }

    #[test]
    fn only_plain_ids_go_into_paths() {
        assert!(is_id("pm_", "pm_1AbC_d"));
        for id in [
            "pm_",
            "pi_1",
            "pm_../v1/customers",
            "pm_a%2F",
            "pm_a b",
            &format!("pm_{}", "a".repeat(98)),
        ] {
            assert!(!is_id("pm_", id), "{id}");
        }
    }

    #[test]
    fn forms_use_brackets_and_percent_encoding() {
        let body = form_body(&[
            ("amount".into(), "590".into()),
            ("metadata[till_session]".into(), "cs_1 &x".into()),
        ]);
        assert_eq!(body, "amount=590&metadata%5Btill_session%5D=cs_1+%26x");
    }

    #[test]
    fn answers_are_read_into_outcomes() {
        assert_eq!(
            read_answer(
                402,
                r#"{"error":{"code":"card_declined","decline_code":"insufficient_funds"}}"#
            ),
            ApiAnswer::Declined("insufficient_funds")
        );
        assert_eq!(
            read_answer(402, r#"{"error":{"code":"weird_new_code"}}"#),
            ApiAnswer::Declined("card_declined")
        );
        assert_eq!(
            read_answer(404, r#"{"error":{"code":"resource_missing"}}"#),
            ApiAnswer::Refused("resource_missing")
        );
        assert_eq!(read_answer(500, "{}"), ApiAnswer::Unavailable);
        assert_eq!(
            read_answer(409, r#"{"error":{"code":"idempotency_key_in_use"}}"#),
            ApiAnswer::Unavailable
        );
        assert_eq!(read_answer(429, r#"{"error":{}}"#), ApiAnswer::Unavailable);
        assert_eq!(read_answer(200, "<html>"), ApiAnswer::Unavailable);
        assert!(matches!(
            read_answer(200, r#"{"id":"pi_1"}"#),
            ApiAnswer::Ok(_)
        ));
    }

    #[test]
    fn intents_are_read_with_their_session() {
        let intent = read_intent(&json!({"id": "pi_1", "status": "requires_payment_method", "amount": 59000,
            "currency": "twd", "last_payment_error": {"code": "card_declined"}, "metadata": {"till_session": "cs_9"}}))
        .unwrap();
        assert_eq!(intent.status, IntentStatus::Failed("card_declined"));
        assert_eq!(intent.currency, "TWD");
        assert_eq!(intent.amount, 590, "Till's units");
        assert_eq!(intent.session.as_deref(), Some("cs_9"));
        assert!(read_intent(&json!({"id": "ch_1", "status": "succeeded"})).is_none());
    }

    #[test]
    fn keys_match_the_environment() {
        let sk = "sk_test_".to_owned() + &"a".repeat(24);
        let pk = "pk_test_".to_owned() + &"b".repeat(24);
        assert_eq!(check_keys(Environment::Sandbox, &sk, &pk, None), Ok(()));
        assert!(matches!(
            check_keys(Environment::Production, &sk, &pk, None),
            Err(KeyError::WrongKind {
                field: "secret_key",
                ..
            })
        ));
        assert!(matches!(
            check_keys(Environment::Sandbox, &sk, &pk, Some("nope")),
            Err(KeyError::WrongKind {
                field: "webhook_secret",
                ..
            })
        ));
        assert_eq!(
            check_keys(Environment::Sandbox, "sk_test_x y", &pk, None),
            Err(KeyError::Malformed("secret_key"))
        );
    }

    #[test]
    fn events_say_what_to_reconcile() {
        let refunded = json!({"type": "charge.refunded", "data": {"object": {"payment_intent": "pi_1", "currency": "usd",
            "refunds": {"data": [{"id": "re_1", "amount": 100, "status": "succeeded"}, {"id": "re_2", "amount": 5, "status": "failed"}]}}}});
        assert_eq!(
            read_event(&refunded).map(|(_, r)| r),
            Some(Reconcile::Refunded {
                payment_intent: "pi_1".into(),
                refunds: vec![("re_1".into(), 100)]
            })
        );
        let other = json!({"type": "customer.created", "data": {"object": {}}});
        assert_eq!(read_event(&other).map(|(_, r)| r), Some(Reconcile::Ignored));
    }
}
