//! Where the shopper goes after paying: a link's `after_completion` (redirect or hosted
//! confirmation), kept in agreement with its `success_url`, and the final destination of a
//! completed session with `{CHECKOUT_SESSION_ID}` filled in.

use serde::{Deserialize, Serialize};

/// The placeholder a success URL may carry; it becomes the session's id.
pub const SESSION_ID_PLACEHOLDER: &str = "{CHECKOUT_SESSION_ID}";

/// A success URL with every `{CHECKOUT_SESSION_ID}` replaced by the session's id.
pub fn success_url_for(template: &str, session_id: &str) -> String {
    template.replace(SESSION_ID_PLACEHOLDER, session_id)
}

/// What a payment link does once paid, as `payment_links.after_completion` and
/// `checkout_sessions.after_completion` store it:
/// `{"type": "redirect", "redirect": {"url": …}}` or
/// `{"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": … | null}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AfterCompletion {
    Redirect {
        redirect: Redirect,
    },
    HostedConfirmation {
        // Only the type decides that a confirmation is shown; the message is optional.
        #[serde(default)]
        hosted_confirmation: Confirmation,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Confirmation {
    #[serde(default)]
    pub custom_message: Option<String>,
}

impl AfterCompletion {
    pub fn redirect(url: impl Into<String>) -> AfterCompletion {
        AfterCompletion::Redirect {
            redirect: Redirect { url: url.into() },
        }
    }

    pub fn hosted(custom_message: Option<String>) -> AfterCompletion {
        AfterCompletion::HostedConfirmation {
            hosted_confirmation: Confirmation { custom_message },
        }
    }

    /// The stored JSON text, if there is one and it reads; anything else means "no
    /// `after_completion`", as it always has.
    pub fn from_stored(text: Option<&str>) -> Option<AfterCompletion> {
        // Read through a `Value` rather than serde's internally tagged enums, whose
        // buffering machinery costs the Worker some 13 KB of wasm.
        let value: serde_json::Value = serde_json::from_str(text?).ok()?;
        match value.get("type")?.as_str()? {
            "redirect" => Some(AfterCompletion::redirect(
                value.get("redirect")?.get("url")?.as_str()?,
            )),
            "hosted_confirmation" => Some(AfterCompletion::hosted(
                value
                    .get("hosted_confirmation")
                    .and_then(|c| c.get("custom_message"))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
            )),
            _ => None,
        }
    }

    pub fn redirect_url(&self) -> Option<&str> {
        match self {
            AfterCompletion::Redirect { redirect } => Some(&redirect.url),
            AfterCompletion::HostedConfirmation { .. } => None,
        }
    }

    pub fn is_hosted(&self) -> bool {
        matches!(self, AfterCompletion::HostedConfirmation { .. })
    }
}

/// Why `success_url` and `after_completion` cannot go together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    #[error("success_url and after_completion.redirect.url differ.")]
    Differ,
    #[error("success_url redirects; it cannot go with a hosted confirmation.")]
    WithHostedConfirmation,
}

/// `success_url` and a redirect `after_completion` say the same thing; a link stores both,
/// equal. Given either, the other follows; given both, they must agree; a success URL with
/// a hosted confirmation is a contradiction.
pub fn reconcile_redirect(
    success_url: Option<String>,
    after: Option<AfterCompletion>,
) -> Result<(Option<String>, Option<AfterCompletion>), RedirectError> {
    let after_url = after
        .as_ref()
        .and_then(AfterCompletion::redirect_url)
        .map(str::to_owned);
    match (success_url, after_url, after) {
        (Some(url), Some(other), _) if url != other => Err(RedirectError::Differ),
        (Some(_), None, Some(_)) => Err(RedirectError::WithHostedConfirmation),
        (Some(url), _, _) => Ok((Some(url.clone()), Some(AfterCompletion::redirect(url)))),
        (None, Some(url), after) => Ok((Some(url), after)),
        (None, None, after) => Ok((None, after)),
    }
}

/// A link update's `success_url` and `after_completion` from the stored pair and what the
/// request patched (`None`: not sent; `Some(None)`: sent as null). Unpatched, both stay;
/// `success_url: null` alone clears both (a hosted confirmation too); otherwise the sent
/// values are reconciled as on creation, without the stored ones.
pub fn reconcile_patch(
    stored: (Option<String>, Option<AfterCompletion>),
    success_url: Option<Option<String>>,
    after: Option<Option<AfterCompletion>>,
) -> Result<(Option<String>, Option<AfterCompletion>), RedirectError> {
    match (success_url, after) {
        (None, None) => Ok(stored),
        (Some(None), None) => Ok((None, None)),
        (url, after) => reconcile_redirect(url.flatten(), after.flatten()),
    }
}

/// Where a completed session sends the shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// 303 to the success URL, its session id filled in.
    Redirect(String),
    /// Till's confirmation page: the merchant's message (else the default text), and inside
    /// the overlay the success URL the merchant page may go to (its own choice: the
    /// merchant's site may refuse to be framed).
    Confirmation {
        custom_message: Option<String>,
        success_url: Option<String>,
    },
}

/// The decision after payment: a hosted confirmation always shows the confirmation page;
/// otherwise a success URL redirects, except inside the overlay, where the page confirms
/// and reports the URL to the merchant page instead.
pub fn destination(
    success_url: Option<&str>,
    after: Option<&AfterCompletion>,
    session_id: &str,
    in_overlay: bool,
) -> Destination {
    let hosted = after.filter(|a| a.is_hosted());
    let success_url = success_url
        .filter(|_| hosted.is_none())
        .map(|url| success_url_for(url, session_id));
    match (success_url, hosted) {
        (Some(url), _) if !in_overlay => Destination::Redirect(url),
        (success_url, hosted) => Destination::Confirmation {
            custom_message: match hosted {
                Some(AfterCompletion::HostedConfirmation {
                    hosted_confirmation,
                }) => hosted_confirmation.custom_message.clone(),
                _ => None,
            },
            success_url,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const THANKS: &str = "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}";

    #[test]
    fn the_placeholder_becomes_the_session_id_wherever_it_is() {
        assert_eq!(
            success_url_for(THANKS, "cs_123"),
            "https://shop.example/thanks?session_id=cs_123"
        );
        assert_eq!(
            success_url_for(
                "https://a.example/{CHECKOUT_SESSION_ID}/x?c={CHECKOUT_SESSION_ID}",
                "cs_9"
            ),
            "https://a.example/cs_9/x?c=cs_9"
        );
        assert_eq!(
            success_url_for("https://a.example/", "cs_9"),
            "https://a.example/"
        );
    }

    #[test]
    fn after_completion_is_stored_in_the_documents_shape() {
        assert_eq!(
            serde_json::to_value(AfterCompletion::redirect("https://a.example")).unwrap(),
            json!({"type": "redirect", "redirect": {"url": "https://a.example"}})
        );
        assert_eq!(
            serde_json::to_value(AfterCompletion::hosted(None)).unwrap(),
            json!({"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": null}})
        );
        // As edge's `json!` wrote it (keys sorted), and without the message.
        let stored =
            r#"{"hosted_confirmation":{"custom_message":"Thanks!"},"type":"hosted_confirmation"}"#;
        assert_eq!(
            AfterCompletion::from_stored(Some(stored)),
            Some(AfterCompletion::hosted(Some("Thanks!".into())))
        );
        assert_eq!(
            AfterCompletion::from_stored(Some(
                r#"{"type":"hosted_confirmation","hosted_confirmation":{}}"#
            )),
            Some(AfterCompletion::hosted(None))
        );
        assert_eq!(
            AfterCompletion::from_stored(Some(r#"{"type":"hosted_confirmation"}"#)),
            Some(AfterCompletion::hosted(None))
        );
        assert_eq!(AfterCompletion::from_stored(Some("null")), None);
        assert_eq!(AfterCompletion::from_stored(Some("{}")), None);
        assert_eq!(AfterCompletion::from_stored(None), None);
    }

    #[test]
    fn a_success_url_and_a_redirect_agree_or_are_refused() {
        let url = || Some("https://a.example/ok".to_owned());
        let redirect = || Some(AfterCompletion::redirect("https://a.example/ok"));
        assert_eq!(reconcile_redirect(url(), None), Ok((url(), redirect())));
        assert_eq!(
            reconcile_redirect(None, redirect()),
            Ok((url(), redirect()))
        );
        assert_eq!(
            reconcile_redirect(url(), redirect()),
            Ok((url(), redirect()))
        );
        assert_eq!(
            reconcile_redirect(url(), Some(AfterCompletion::redirect("https://b.example"))),
            Err(RedirectError::Differ)
        );
        assert_eq!(
            reconcile_redirect(url(), Some(AfterCompletion::hosted(None))),
            Err(RedirectError::WithHostedConfirmation)
        );
        let hosted = Some(AfterCompletion::hosted(Some("Thanks".into())));
        assert_eq!(reconcile_redirect(None, hosted.clone()), Ok((None, hosted)));
        assert_eq!(reconcile_redirect(None, None), Ok((None, None)));
    }

    #[test]
    fn a_patch_keeps_clears_or_reconciles_what_it_sent() {
        let hosted = Some(AfterCompletion::hosted(Some("Thanks".into())));
        let stored = (None, hosted.clone());
        assert_eq!(
            reconcile_patch(stored.clone(), None, None),
            Ok(stored.clone())
        );
        assert_eq!(
            reconcile_patch(stored.clone(), Some(None), None),
            Ok((None, None))
        );
        let url = "https://a.example/ok".to_owned();
        assert_eq!(
            reconcile_patch(stored.clone(), Some(Some(url.clone())), None),
            Ok((
                Some(url.clone()),
                Some(AfterCompletion::redirect(url.clone()))
            ))
        );
        assert_eq!(
            reconcile_patch(stored, Some(Some(url)), Some(hosted)),
            Err(RedirectError::WithHostedConfirmation)
        );
    }

    #[test]
    fn a_paid_session_redirects_to_its_success_url_with_its_id() {
        assert_eq!(
            destination(Some(THANKS), None, "cs_1", false),
            Destination::Redirect("https://shop.example/thanks?session_id=cs_1".into())
        );
        let redirect = AfterCompletion::redirect(THANKS);
        assert_eq!(
            destination(Some(THANKS), Some(&redirect), "cs_1", false),
            Destination::Redirect("https://shop.example/thanks?session_id=cs_1".into())
        );
    }

    #[test]
    fn inside_the_overlay_the_page_confirms_and_reports_the_url() {
        assert_eq!(
            destination(Some(THANKS), None, "cs_1", true),
            Destination::Confirmation {
                custom_message: None,
                success_url: Some("https://shop.example/thanks?session_id=cs_1".into()),
            }
        );
    }

    #[test]
    fn a_hosted_confirmation_never_redirects() {
        let hosted = AfterCompletion::hosted(Some("See you soon".into()));
        for in_overlay in [false, true] {
            assert_eq!(
                destination(Some(THANKS), Some(&hosted), "cs_1", in_overlay),
                Destination::Confirmation {
                    custom_message: Some("See you soon".into()),
                    success_url: None,
                }
            );
        }
        assert_eq!(
            destination(None, None, "cs_1", false),
            Destination::Confirmation {
                custom_message: None,
                success_url: None
            }
        );
    }
}
