//! Stripe, connected by a merchant with its own keys: Stripe's REST API over `fetch`
//! (form-encoded requests, `Idempotency-Key` on every write, a pinned API version). The
//! card never reaches Till on this path: the hosted page collects it with Stripe's own
//! fields and posts a PaymentMethod id; Till creates a PaymentIntent for it, keeps the
//! PaymentIntent's id, and only then confirms it, so an answer lost on the way back is
//! learnt by reading the PaymentIntent again, never guessed.

use serde_json::Value;
use till_shared::money::Money;
use till_shared::stripe::{
    ApiAnswer, Intent, IntentStatus, form_body, is_id, read_answer, read_intent, stripe_amount,
};
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use super::{Charge, Processor, Refund};

/// The API version Till's requests and readers are written against.
const API_VERSION: &str = "2024-06-20";
/// How long one call may take before it counts as unanswered.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// A merchant's Stripe account, as one environment of Till is connected to it.
pub struct Stripe {
    /// `https://api.stripe.com`, or what `STRIPE_API_BASE` says (checked by the caller).
    pub base: String,
    pub secret_key: String,
}

/// The card facts Till keeps of a PaymentMethod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodCard {
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

impl Stripe {
    /// One call; `key` is the request's idempotency key (writes only).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        fields: &[(String, String)],
        key: Option<&str>,
    ) -> ApiAnswer {
        match self.send(method, path, fields, key).await {
            Ok((status, body)) => read_answer(status, &body),
            Err(_) => ApiAnswer::Unavailable,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        fields: &[(String, String)],
        key: Option<&str>,
    ) -> Result<(u16, String), String> {
        let headers = Headers::new();
        let bearer = format!("Bearer {}", self.secret_key);
        let mut pairs = vec![
            ("Authorization", bearer.as_str()),
            ("Stripe-Version", API_VERSION),
            ("User-Agent", "Till/1"),
        ];
        if let Some(key) = key {
            pairs.push(("Idempotency-Key", key));
        }
        let body = form_body(fields);
        if method != Method::Get {
            pairs.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        for (name, value) in pairs {
            headers.set(name, value).map_err(|e| e.to_string())?;
        }
        let mut init = RequestInit::new();
        init.with_method(method.clone())
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual);
        let url = if method == Method::Get && !body.is_empty() {
            format!("{}{path}?{body}", self.base)
        } else {
            if method != Method::Get {
                init.with_body(Some(body.into()));
            }
            format!("{}{path}", self.base)
        };
        let request = Request::new_with_init(&url, &init).map_err(|e| e.to_string())?;
        let send = async {
            let mut response = Fetch::Request(request).send().await?;
            let status = response.status_code();
            let text = response.text().await?;
            Ok::<_, worker::Error>((status, text))
        };
        let timeout = worker::Delay::from(CALL_TIMEOUT);
        futures_util::pin_mut!(send);
        futures_util::pin_mut!(timeout);
        match futures_util::future::select(send, timeout).await {
            futures_util::future::Either::Left((Ok(answer), _)) => Ok(answer),
            futures_util::future::Either::Left((Err(error), _)) => Err(error.to_string()),
            futures_util::future::Either::Right(_) => Err("no answer in time".to_owned()),
        }
    }

    /// The card of a PaymentMethod the hosted page's Stripe fields made; `None` when it is
    /// not a card of this Stripe account. `Err` when Stripe did not answer.
    pub async fn card_of(&self, payment_method: &str) -> Result<Option<MethodCard>, ()> {
        if !is_id("pm_", payment_method) {
            return Ok(None);
        }
        let path = format!("/v1/payment_methods/{payment_method}");
        match self.call(Method::Get, &path, &[], None).await {
            ApiAnswer::Ok(method) => Ok(card_facts(&method)),
            ApiAnswer::Unavailable => Err(()),
            _ => Ok(None),
        }
    }

    /// A PaymentIntent of `amount` for `payment_method` (and `customer`, when the card is
    /// kept for renewals), not confirmed yet; `key` makes a retry find the same one.
    pub async fn create_intent(
        &self,
        amount: Money,
        payment_method: &str,
        customer: Option<&str>,
        metadata: &[(&str, &str)],
        key: &str,
    ) -> Result<Intent, Charge> {
        let mut fields = vec![
            ("amount".to_owned(), stripe_amount(amount).to_string()),
            (
                "currency".to_owned(),
                amount.currency().code().to_ascii_lowercase(),
            ),
            ("payment_method".to_owned(), payment_method.to_owned()),
            // Cards only: nothing that redirects the shopper away from the page.
            ("payment_method_types[]".to_owned(), "card".to_owned()),
        ];
        if let Some(customer) = customer {
            fields.push(("customer".to_owned(), customer.to_owned()));
        }
        for (name, value) in metadata {
            fields.push((format!("metadata[{name}]"), (*value).to_owned()));
        }
        match self
            .call(Method::Post, "/v1/payment_intents", &fields, Some(key))
            .await
        {
            ApiAnswer::Ok(intent) => read_intent(&intent).ok_or(Charge::Unavailable),
            answer => Err(answer_charge(answer)),
        }
    }

    /// Confirms a PaymentIntent made by [`Stripe::create_intent`]. An answer that never came
    /// is learnt by reading the PaymentIntent.
    pub async fn confirm(&self, intent: &str, key: &str) -> Charge {
        if !is_id("pi_", intent) {
            return Charge::Unavailable;
        }
        let path = format!("/v1/payment_intents/{intent}/confirm");
        match self.call(Method::Post, &path, &[], Some(key)).await {
            ApiAnswer::Ok(body) => {
                read_intent(&body).map_or(Charge::Unavailable, |i| charge_of(&i))
            }
            ApiAnswer::Unavailable => self.intent_charge(intent).await,
            answer => answer_charge(answer),
        }
    }

    /// What a PaymentIntent came to, read again (after 3-D Secure, or a lost answer).
    pub async fn intent_charge(&self, intent: &str) -> Charge {
        match self.intent(intent).await {
            Some(intent) => charge_of(&intent),
            None => Charge::Unavailable,
        }
    }

    pub async fn intent(&self, intent: &str) -> Option<Intent> {
        if !is_id("pi_", intent) {
            return None;
        }
        let path = format!("/v1/payment_intents/{intent}");
        match self.call(Method::Get, &path, &[], None).await {
            ApiAnswer::Ok(body) => read_intent(&body),
            _ => None,
        }
    }

    /// Cancels a PaymentIntent that was not charged, so it never can be later.
    pub async fn cancel(&self, intent: &str) -> bool {
        if !is_id("pi_", intent) {
            return false;
        }
        let path = format!("/v1/payment_intents/{intent}/cancel");
        let key = format!("{intent}-cancel");
        matches!(
            self.call(Method::Post, &path, &[], Some(&key)).await,
            ApiAnswer::Ok(_)
        )
    }

    /// The refunds of a PaymentIntent (at most 100, newest first). `Err` when Stripe did not
    /// answer.
    pub async fn refunds(&self, intent: &str) -> Result<Vec<Value>, ()> {
        if !is_id("pi_", intent) {
            return Ok(Vec::new());
        }
        let fields = [
            ("payment_intent".to_owned(), intent.to_owned()),
            ("limit".to_owned(), "100".to_owned()),
        ];
        match self.call(Method::Get, "/v1/refunds", &fields, None).await {
            ApiAnswer::Ok(list) => Ok(list["data"].as_array().cloned().unwrap_or_default()),
            ApiAnswer::Unavailable => Err(()),
            _ => Ok(Vec::new()),
        }
    }

    /// The refund Till asked for as `till_refund`, if Stripe has it.
    async fn refund_of(&self, intent: &str, till_refund: &str) -> Result<Option<Refund>, ()> {
        Ok(self
            .refunds(intent)
            .await?
            .iter()
            .find(|r| r["metadata"]["till_refund"].as_str() == Some(till_refund))
            .map(refund_outcome))
    }

    /// A Stripe customer for `email`; answers its id.
    async fn customer(&self, email: &str, key: &str) -> Result<String, Charge> {
        let fields = [("email".to_owned(), email.to_owned())];
        match self
            .call(
                Method::Post,
                "/v1/customers",
                &fields,
                Some(&format!("{key}-customer")),
            )
            .await
        {
            ApiAnswer::Ok(customer) => customer["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or(Charge::Unavailable),
            answer => Err(answer_charge(answer)),
        }
    }

    async fn attach(&self, customer: &str, payment_method: &str, key: &str) -> Result<(), Charge> {
        if !is_id("pm_", payment_method) {
            return Err(Charge::Declined("card_declined"));
        }
        let path = format!("/v1/payment_methods/{payment_method}/attach");
        let fields = [("customer".to_owned(), customer.to_owned())];
        match self
            .call(Method::Post, &path, &fields, Some(&format!("{key}-attach")))
            .await
        {
            ApiAnswer::Ok(_) => Ok(()),
            answer => Err(answer_charge(answer)),
        }
    }

    /// A Stripe customer for `email`, with `payment_method` attached to it: what renewals
    /// charge off-session, after the first payment (made on-session with that customer).
    /// Answers the saved token, `{customer}/{payment_method}`.
    pub async fn keep_card(
        &self,
        email: &str,
        payment_method: &str,
        key: &str,
    ) -> Result<String, Charge> {
        let customer = self.customer(email, key).await?;
        self.attach(&customer, payment_method, key).await?;
        Ok(format!("{customer}/{payment_method}"))
    }

    /// SETUP: a SetupIntent for later off-session use confirms `payment_method` for a new
    /// customer (the bank accepts keeping the card), then the card is attached to it.
    /// Answers the saved token, as [`Stripe::keep_card`] does.
    pub async fn set_up(
        &self,
        email: &str,
        payment_method: &str,
        key: &str,
    ) -> Result<String, Charge> {
        let customer = self.customer(email, key).await?;
        let fields = [
            ("customer".to_owned(), customer.clone()),
            ("usage".to_owned(), "off_session".to_owned()),
        ];
        let intent = match self
            .call(
                Method::Post,
                "/v1/setup_intents",
                &fields,
                Some(&format!("{key}-setup")),
            )
            .await
        {
            ApiAnswer::Ok(intent) => intent["id"]
                .as_str()
                .filter(|id| is_id("seti_", id))
                .map(str::to_owned)
                .ok_or(Charge::Unavailable)?,
            answer => return Err(answer_charge(answer)),
        };
        let path = format!("/v1/setup_intents/{intent}/confirm");
        let fields = [("payment_method".to_owned(), payment_method.to_owned())];
        let confirmed = match self
            .call(
                Method::Post,
                &path,
                &fields,
                Some(&format!("{key}-setup-confirm")),
            )
            .await
        {
            ApiAnswer::Ok(confirmed) => confirmed,
            answer => return Err(answer_charge(answer)),
        };
        match confirmed["status"].as_str() {
            Some("succeeded") => {}
            // A bank that wants the shopper to confirm keeping the card: not supported on
            // this path yet, so the card is not kept.
            Some("requires_action") => return Err(Charge::Declined("authentication_required")),
            _ => return Err(Charge::Declined("card_declined")),
        }
        // Stripe attaches it on success; attaching again to the same customer is a no-op
        // there, and makes sure of it elsewhere.
        self.attach(&customer, payment_method, key).await?;
        Ok(format!("{customer}/{payment_method}"))
    }
}

/// A Stripe refund object as Till's outcome.
fn refund_outcome(refund: &Value) -> Refund {
    match refund["status"].as_str() {
        Some("failed" | "canceled") => Refund::Failed("processor_refused"),
        _ => refund["id"]
            .as_str()
            .map_or(Refund::Unavailable, |id| Refund::Succeeded {
                reference: id.to_owned(),
            }),
    }
}

/// A card's facts from a PaymentMethod object.
pub fn card_facts(method: &Value) -> Option<MethodCard> {
    let card = method.get("card")?;
    Some(MethodCard {
        brand: card["brand"].as_str()?.to_owned(),
        last4: card["last4"].as_str().filter(|l| l.len() == 4)?.to_owned(),
        exp_month: u32::try_from(card["exp_month"].as_u64()?).ok()?,
        exp_year: u32::try_from(card["exp_year"].as_u64()?).ok()?,
    })
}

/// What a PaymentIntent's state means for the payment: charged (its id is the token),
/// declined, waiting for the shopper's bank, or not known yet (processing, or never
/// confirmed).
pub fn charge_of(intent: &Intent) -> Charge {
    match intent.status {
        IntentStatus::Succeeded => Charge::Succeeded {
            token: intent.id.clone(),
        },
        IntentStatus::RequiresAction => Charge::ChallengeRequired {
            token: intent.id.clone(),
        },
        IntentStatus::Failed(code) => Charge::Declined(code),
        IntentStatus::Canceled => Charge::Declined("canceled"),
        IntentStatus::RequiresConfirmation | IntentStatus::Processing => Charge::Unavailable,
    }
}

/// A failed call as a charge outcome.
fn answer_charge(answer: ApiAnswer) -> Charge {
    match answer {
        ApiAnswer::Declined(code) => Charge::Declined(code),
        ApiAnswer::Unavailable | ApiAnswer::Ok(_) => Charge::Unavailable,
        ApiAnswer::Refused(_) => Charge::Declined("processing_error"),
    }
}

impl Processor for Stripe {
    /// An off-session renewal of a card kept by [`Stripe::keep_card`]: one call that
    /// creates and confirms, under the billing attempt's idempotency key.
    async fn charge_saved(&self, token: &str, amount: Money, idempotency_key: &str) -> Charge {
        let Some((customer, method)) = token.split_once('/') else {
            return Charge::Declined("no_payment_method");
        };
        let fields = vec![
            ("amount".to_owned(), stripe_amount(amount).to_string()),
            (
                "currency".to_owned(),
                amount.currency().code().to_ascii_lowercase(),
            ),
            ("customer".to_owned(), customer.to_owned()),
            ("payment_method".to_owned(), method.to_owned()),
            ("off_session".to_owned(), "true".to_owned()),
            ("confirm".to_owned(), "true".to_owned()),
        ];
        match self
            .call(
                Method::Post,
                "/v1/payment_intents",
                &fields,
                Some(idempotency_key),
            )
            .await
        {
            ApiAnswer::Ok(body) => match read_intent(&body).map(|i| charge_of(&i)) {
                // Off-session, a bank asking for the shopper declines.
                Some(Charge::ChallengeRequired { .. }) => {
                    Charge::Declined("authentication_required")
                }
                Some(charge) => charge,
                None => Charge::Unavailable,
            },
            answer => answer_charge(answer),
        }
    }

    /// A refund carries Till's refund id (`metadata[till_refund]`), and is looked for by it
    /// first: asked again after Stripe has forgotten the idempotency key (24 h), it is
    /// found, not made twice.
    async fn refund(&self, charge_token: &str, amount: Money, idempotency_key: &str) -> Refund {
        match self.refund_of(charge_token, idempotency_key).await {
            Ok(Some(found)) => return found,
            Ok(None) => {}
            Err(()) => return Refund::Unavailable,
        }
        let fields = [
            ("payment_intent".to_owned(), charge_token.to_owned()),
            ("amount".to_owned(), stripe_amount(amount).to_string()),
            (
                "metadata[till_refund]".to_owned(),
                idempotency_key.to_owned(),
            ),
        ];
        match self
            .call(Method::Post, "/v1/refunds", &fields, Some(idempotency_key))
            .await
        {
            ApiAnswer::Ok(refund) => refund_outcome(&refund),
            ApiAnswer::Unavailable => Refund::Unavailable,
            ApiAnswer::Declined(code) => Refund::Failed(code),
            ApiAnswer::Refused(code) => Refund::Failed(code),
        }
    }
}
