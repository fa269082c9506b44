//! A checkout session's rules that need no I/O: its status and what the API calls its
//! payment status, how long it lives, what a request to open one must satisfy, what the
//! hosted page asks of the shopper and when it stops taking payments, and what a
//! completed payment records.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::card::CardError;
use crate::catalog::{LOCALES, is_plausible_email};
use crate::locale::Text;
use crate::plan::{CheckoutMode, PlanError, checkout_mode};
use crate::pricing::LineItem;

/// Sessions live 24 hours unless told otherwise.
pub const DEFAULT_LIFETIME: i64 = 24 * 3600;
/// The shortest lifetime a request may ask for.
pub const MIN_LIFETIME: i64 = 30 * 60;
/// After this many failed payments a session takes no more (card-testing defence).
pub const MAX_FAILED_ATTEMPTS: i64 = 5;

/// Where a session is in its life: open until paid or expired, and never again open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 3] = [
        SessionStatus::Open,
        SessionStatus::Complete,
        SessionStatus::Expired,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "OPEN",
            SessionStatus::Complete => "COMPLETE",
            SessionStatus::Expired => "EXPIRED",
        }
    }

    /// As stored (upper case).
    pub fn parse(text: &str) -> Option<SessionStatus> {
        SessionStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The API's `payment_status`: a SETUP session never needs one; any other is `paid`
    /// once complete.
    pub const fn payment_status(self, mode: CheckoutMode) -> &'static str {
        match (self, mode) {
            (_, CheckoutMode::Setup) => "no_payment_required",
            (SessionStatus::Complete, _) => "paid",
            _ => "unpaid",
        }
    }
}

/// Why a request cannot open a checkout session, with the request field it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutRefusal {
    #[error("This is not an email address.")]
    Email,
    #[error("Must be one of: {}.", LOCALES.join(", "))]
    Locale,
    #[error("expires_at must be between 30 minutes and 24 hours from now.")]
    Lifetime,
    #[error("SUBSCRIPTION mode needs a recurring price.")]
    SubscriptionNeedsRecurring,
    #[error("This price is recurring; use mode SUBSCRIPTION.")]
    PaymentWithRecurring,
    #[error("SETUP sessions charge nothing.")]
    PromotionOnSetup,
}

impl CheckoutRefusal {
    /// Whether the refusal is about what the request names rather than its own shape (the
    /// price's kind against the mode asked for): the API answers 409, not 400.
    pub const fn conflicts(self) -> bool {
        matches!(
            self,
            CheckoutRefusal::SubscriptionNeedsRecurring | CheckoutRefusal::PaymentWithRecurring
        )
    }

    /// The request field the refusal names.
    pub const fn param(self) -> &'static str {
        match self {
            CheckoutRefusal::Email => "customer_email",
            CheckoutRefusal::Locale => "locale",
            CheckoutRefusal::Lifetime => "expires_at",
            CheckoutRefusal::SubscriptionNeedsRecurring | CheckoutRefusal::PaymentWithRecurring => {
                "mode"
            }
            CheckoutRefusal::PromotionOnSetup => "promotion_code",
        }
    }
}

/// A prefilled email must look like one, and a locale must be one the page speaks.
pub fn check_shopper(email: Option<&str>, locale: Option<&str>) -> Result<(), CheckoutRefusal> {
    if email.is_some_and(|e| !is_plausible_email(e)) {
        return Err(CheckoutRefusal::Email);
    }
    if locale.is_some_and(|l| !LOCALES.contains(&l)) {
        return Err(CheckoutRefusal::Locale);
    }
    Ok(())
}

/// When a session opened at `now` expires: at the requested time, which must be 30
/// minutes to 24 hours away, or in 24 hours.
pub fn expiry(requested: Option<i64>, now: i64) -> Result<i64, CheckoutRefusal> {
    let at = requested.unwrap_or(now + DEFAULT_LIFETIME);
    if (now + MIN_LIFETIME..=now + DEFAULT_LIFETIME).contains(&at) {
        Ok(at)
    } else {
        Err(CheckoutRefusal::Lifetime)
    }
}

/// The mode of a session selling `lines` ([`checkout_mode`]), refused in the API's words.
pub fn mode_for(
    requested: Option<CheckoutMode>,
    lines: &[LineItem],
) -> Result<CheckoutMode, CheckoutRefusal> {
    checkout_mode(requested, lines).map_err(|error| match error {
        PlanError::SubscriptionNeedsRecurring => CheckoutRefusal::SubscriptionNeedsRecurring,
        // The only other refusal of `checkout_mode`.
        _ => CheckoutRefusal::PaymentWithRecurring,
    })
}

/// A session's three amounts, in minor units of its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amounts {
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
}

impl Amounts {
    /// What a session in `mode` charges for lines worth `subtotal`, `discount` off: a SETUP
    /// session charges nothing at all.
    pub const fn of(mode: CheckoutMode, subtotal: i64, discount: i64) -> Amounts {
        if mode.charges() {
            Amounts {
                subtotal,
                discount,
                total: subtotal - discount,
            }
        } else {
            Amounts {
                subtotal: 0,
                discount: 0,
                total: 0,
            }
        }
    }
}

/// Why the hosted page shows no payment form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Paid: the page sends the shopper where a payment goes.
    Paid,
    Expired,
    /// Too many failed payments.
    Locked,
}

impl Closed {
    /// The page's status and sentence (a paid session has its own page).
    pub const fn page(self) -> (u16, Text) {
        match self {
            Closed::Paid => (200, Text::PaymentComplete),
            Closed::Expired => (410, Text::SessionExpired),
            Closed::Locked => (429, Text::TooManyAttempts),
        }
    }
}

/// Whether the page still takes a payment for a session at `now`.
pub fn closed(
    status: SessionStatus,
    expires_at: i64,
    failed_attempts: i64,
    now: i64,
) -> Option<Closed> {
    match status {
        SessionStatus::Complete => Some(Closed::Paid),
        SessionStatus::Expired => Some(Closed::Expired),
        SessionStatus::Open if expires_at <= now => Some(Closed::Expired),
        SessionStatus::Open if failed_attempts >= MAX_FAILED_ATTEMPTS => Some(Closed::Locked),
        SessionStatus::Open => None,
    }
}

/// Whether this failure (the `failed`-th, counting it) locks the session.
pub const fn locks(failed: i64) -> bool {
    failed >= MAX_FAILED_ATTEMPTS
}

/// The shopper's sentence for a processor's decline code.
pub fn decline_text(code: &str) -> Text {
    match code {
        "insufficient_funds" => Text::InsufficientFunds,
        "expired_card" => Text::ExpiredCard,
        "incorrect_cvc" => Text::IncorrectCvc,
        "processing_error" => Text::ProcessingError,
        _ => Text::CardDeclined,
    }
}

/// The shopper's sentence for a card refused before reaching the processor.
pub const fn card_error_text(error: CardError) -> Text {
    match error {
        CardError::InvalidNumber => Text::InvalidNumber,
        CardError::InvalidExpiry => Text::InvalidExpiry,
        CardError::Expired => Text::ExpiredCard,
        CardError::InvalidCvc => Text::InvalidCvc,
    }
}

/// Whether the page asks for a billing address (a link's `billing_address_collection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressCollection {
    #[default]
    Auto,
    Required,
}

impl AddressCollection {
    pub const fn as_str(self) -> &'static str {
        match self {
            AddressCollection::Auto => "auto",
            AddressCollection::Required => "required",
        }
    }

    /// As stored; anything but `required` asks for nothing.
    pub fn parse(text: &str) -> AddressCollection {
        if text == "required" {
            AddressCollection::Required
        } else {
            AddressCollection::Auto
        }
    }
}

/// Whether a payment makes a customer (a link's `customer_creation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CustomerCreation {
    #[default]
    IfRequired,
    Always,
}

impl CustomerCreation {
    pub const fn as_str(self) -> &'static str {
        match self {
            CustomerCreation::IfRequired => "if_required",
            CustomerCreation::Always => "always",
        }
    }

    /// As stored; anything but `always` makes a customer only when needed.
    pub fn parse(text: &str) -> CustomerCreation {
        if text == "always" {
            CustomerCreation::Always
        } else {
            CustomerCreation::IfRequired
        }
    }
}

/// A question a link asks on the page, as links and sessions store it: `{"key", "label":
/// {"type": "custom", "custom"}, "type", "optional", "dropdown": {"options": [{"label",
/// "value"}]} | null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    pub key: String,
    #[serde(default)]
    pub label: Option<FieldLabel>,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub dropdown: Option<Dropdown>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldLabel {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub custom: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Numeric,
    Dropdown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropdown {
    #[serde(default)]
    pub options: Vec<DropdownOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropdownOption {
    #[serde(default)]
    pub label: Option<String>,
    pub value: String,
}

impl CustomField {
    /// The label the shopper reads: the merchant's, else the key.
    pub fn label(&self) -> &str {
        self.label
            .as_ref()
            .and_then(|l| l.custom.as_deref())
            .unwrap_or(&self.key)
    }

    /// The form control's name.
    pub fn input_name(&self) -> String {
        format!("custom_{}", self.key)
    }

    /// The dropdown's options (none for other kinds).
    pub fn options(&self) -> &[DropdownOption] {
        self.dropdown.as_ref().map_or(&[], |d| &d.options)
    }

    /// Whether `value` (trimmed) answers the field: required fields need one, numeric
    /// fields take digits only.
    pub fn accepts(&self, value: &str) -> bool {
        let numeric_ok =
            self.kind != FieldKind::Numeric || value.bytes().all(|b| b.is_ascii_digit());
        numeric_ok && (self.optional || !value.is_empty())
    }
}

impl DropdownOption {
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.value)
    }
}

/// The answers to a link's questions (`value` reads a form control by name, trimmed), or
/// the first field left unanswered or answered wrongly. Empty optional answers are left out.
pub fn answers(
    fields: &[CustomField],
    value: impl Fn(&str) -> String,
) -> Result<Map<String, Value>, &CustomField> {
    let mut answers = Map::new();
    for field in fields {
        let answer = value(&field.input_name());
        if !field.accepts(&answer) {
            return Err(field);
        }
        if !answer.is_empty() {
            answers.insert(field.key.clone(), Value::String(answer));
        }
    }
    Ok(answers)
}

/// The form controls of a billing address.
pub const ADDRESS_FIELDS: [&str; 4] = [
    "address_line1",
    "address_city",
    "address_postal_code",
    "address_country",
];

/// A billing address as orders store it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingAddress {
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// Every part of the address is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressIncomplete;

/// The billing address a page asking for one received (`value` reads a form control,
/// trimmed); nothing when the page does not ask.
pub fn billing_address(
    collection: AddressCollection,
    value: impl Fn(&str) -> String,
) -> Result<Option<BillingAddress>, AddressIncomplete> {
    if collection != AddressCollection::Required {
        return Ok(None);
    }
    let [line1, city, postal_code, country] = ADDRESS_FIELDS.map(&value);
    if [&line1, &city, &postal_code, &country]
        .iter()
        .any(|part| part.is_empty())
    {
        return Err(AddressIncomplete);
    }
    Ok(Some(BillingAddress {
        line1,
        city,
        postal_code,
        country,
    }))
}

/// What a completed payment writes besides the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Records {
    pub customer: bool,
    /// An order and its payment: only when money was taken.
    pub order: bool,
    /// The saved card, attached to the new customer.
    pub payment_method: bool,
    /// A subscription whose first period this payment paid (when its plan reads).
    pub subscription: bool,
}

/// What completing a session in `mode` records: SUBSCRIPTION and SETUP always make a
/// customer (the saved card needs one), PAYMENT only when the link says `always`.
pub fn records(mode: CheckoutMode, creation: CustomerCreation, card_saved: bool) -> Records {
    let customer = creation == CustomerCreation::Always || mode != CheckoutMode::Payment;
    let order = mode.charges();
    let payment_method = card_saved && customer;
    Records {
        customer,
        order,
        payment_method,
        subscription: mode == CheckoutMode::Subscription && payment_method && order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Interval;
    use crate::pricing::tests::{one_time, recurring};
    use serde_json::json;

    #[test]
    fn statuses_round_trip_and_only_setup_needs_no_payment() {
        for status in SessionStatus::ALL {
            assert_eq!(SessionStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(SessionStatus::parse("open"), None);
        use CheckoutMode::*;
        use SessionStatus::*;
        assert_eq!(Open.payment_status(Payment), "unpaid");
        assert_eq!(Complete.payment_status(Subscription), "paid");
        assert_eq!(Expired.payment_status(Payment), "unpaid");
        assert_eq!(Complete.payment_status(Setup), "no_payment_required");
    }

    #[test]
    fn a_session_lives_between_half_an_hour_and_a_day() {
        let now = 1_000_000;
        assert_eq!(expiry(None, now), Ok(now + DEFAULT_LIFETIME));
        assert_eq!(
            expiry(Some(now + MIN_LIFETIME), now),
            Ok(now + MIN_LIFETIME)
        );
        assert_eq!(
            expiry(Some(now + MIN_LIFETIME - 1), now),
            Err(CheckoutRefusal::Lifetime)
        );
        assert_eq!(
            expiry(Some(now + DEFAULT_LIFETIME + 1), now),
            Err(CheckoutRefusal::Lifetime)
        );
        assert_eq!(CheckoutRefusal::Lifetime.param(), "expires_at");
    }

    #[test]
    fn prefilled_emails_and_locales_are_checked() {
        assert_eq!(check_shopper(Some("a@b.co"), Some("ja")), Ok(()));
        assert_eq!(check_shopper(None, None), Ok(()));
        assert_eq!(
            check_shopper(Some("not-an-email"), None),
            Err(CheckoutRefusal::Email)
        );
        assert_eq!(
            check_shopper(None, Some("xx")),
            Err(CheckoutRefusal::Locale)
        );
        assert_eq!(
            CheckoutRefusal::Locale.to_string(),
            "Must be one of: auto, en, zh-TW, zh-CN, ja, th."
        );
    }

    #[test]
    fn the_mode_follows_the_lines_in_the_apis_words() {
        let tea = [one_time("tea", 100, 1)];
        let club = [recurring("club", 300, Interval::Month, 1)];
        assert_eq!(mode_for(None, &club), Ok(CheckoutMode::Subscription));
        assert_eq!(
            mode_for(Some(CheckoutMode::Payment), &club),
            Err(CheckoutRefusal::PaymentWithRecurring)
        );
        assert_eq!(
            mode_for(Some(CheckoutMode::Subscription), &tea),
            Err(CheckoutRefusal::SubscriptionNeedsRecurring)
        );
        assert_eq!(CheckoutRefusal::PaymentWithRecurring.param(), "mode");
    }

    #[test]
    fn setup_sessions_charge_nothing() {
        assert_eq!(
            Amounts::of(CheckoutMode::Payment, 1000, 250),
            Amounts {
                subtotal: 1000,
                discount: 250,
                total: 750
            }
        );
        assert_eq!(
            Amounts::of(CheckoutMode::Setup, 1000, 250),
            Amounts {
                subtotal: 0,
                discount: 0,
                total: 0
            }
        );
    }

    #[test]
    fn the_page_closes_when_paid_expired_or_locked() {
        use SessionStatus::*;
        assert_eq!(closed(Open, 100, 0, 99), None);
        assert_eq!(closed(Open, 100, 0, 100), Some(Closed::Expired));
        assert_eq!(closed(Expired, 100, 0, 0), Some(Closed::Expired));
        assert_eq!(
            closed(Open, 100, MAX_FAILED_ATTEMPTS, 0),
            Some(Closed::Locked)
        );
        // Paid wins: a second submit goes where the first went.
        assert_eq!(
            closed(Complete, 0, MAX_FAILED_ATTEMPTS, 1),
            Some(Closed::Paid)
        );
        assert_eq!(Closed::Locked.page(), (429, Text::TooManyAttempts));
        assert!(!locks(MAX_FAILED_ATTEMPTS - 1) && locks(MAX_FAILED_ATTEMPTS));
    }

    #[test]
    fn declines_and_card_errors_have_their_sentences() {
        assert_eq!(decline_text("insufficient_funds"), Text::InsufficientFunds);
        assert_eq!(decline_text("do_not_honor"), Text::CardDeclined);
        assert_eq!(card_error_text(CardError::Expired), Text::ExpiredCard);
    }

    fn fields() -> Vec<CustomField> {
        serde_json::from_value(json!([
            {"key": "size", "label": {"type": "custom", "custom": "Size"}, "type": "dropdown",
             "optional": false, "dropdown": {"options": [{"label": "Small", "value": "s"}]}},
            {"key": "member", "label": {"type": "custom", "custom": "Member no."}, "type": "numeric",
             "optional": true, "dropdown": null},
            {"key": "note", "type": "text"},
        ]))
        .unwrap()
    }

    #[test]
    fn custom_fields_read_as_links_store_them() {
        let fields = fields();
        assert_eq!(fields[0].kind, FieldKind::Dropdown);
        assert_eq!(fields[0].options()[0].label(), "Small");
        assert_eq!(fields[1].label(), "Member no.");
        assert_eq!(fields[2].label(), "note");
        assert_eq!(fields[2].input_name(), "custom_note");
        assert!(fields[2].options().is_empty());
    }

    #[test]
    fn answers_need_required_fields_and_digits_in_numeric_ones() {
        let fields = fields();
        let form = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
                    .unwrap_or_default()
            }
        };
        let ok = answers(
            &fields,
            form(&[("custom_size", "s"), ("custom_note", "hi")]),
        )
        .unwrap();
        assert_eq!(Value::Object(ok), json!({"size": "s", "note": "hi"}));
        let missing = answers(&fields, form(&[("custom_note", "hi")])).unwrap_err();
        assert_eq!(missing.label(), "Size");
        let letters = answers(
            &fields,
            form(&[
                ("custom_size", "s"),
                ("custom_member", "12a"),
                ("custom_note", "x"),
            ]),
        )
        .unwrap_err();
        assert_eq!(letters.key, "member");
    }

    #[test]
    fn a_required_address_needs_every_part() {
        let full = |name: &str| format!("{name}!");
        assert_eq!(billing_address(AddressCollection::Auto, full), Ok(None));
        let address = billing_address(AddressCollection::Required, full)
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(address).unwrap(),
            json!({"line1": "address_line1!", "city": "address_city!",
                   "postal_code": "address_postal_code!", "country": "address_country!"})
        );
        let no_city = |name: &str| {
            if name == "address_city" {
                String::new()
            } else {
                "x".to_owned()
            }
        };
        assert_eq!(
            billing_address(AddressCollection::Required, no_city),
            Err(AddressIncomplete)
        );
        assert_eq!(
            AddressCollection::parse("required"),
            AddressCollection::Required
        );
        assert_eq!(AddressCollection::parse("auto"), AddressCollection::Auto);
    }

    #[test]
    fn a_completion_records_what_its_mode_needs() {
        use CheckoutMode::*;
        let plain = records(Payment, CustomerCreation::IfRequired, false);
        assert_eq!(
            plain,
            Records {
                customer: false,
                order: true,
                payment_method: false,
                subscription: false
            }
        );
        assert!(records(Payment, CustomerCreation::Always, false).customer);
        let setup = records(Setup, CustomerCreation::IfRequired, true);
        assert!(setup.customer && setup.payment_method && !setup.order && !setup.subscription);
        let subscription = records(Subscription, CustomerCreation::IfRequired, true);
        assert!(subscription.order && subscription.payment_method && subscription.subscription);
        // No saved card, no payment method and so no subscription.
        assert!(!records(Subscription, CustomerCreation::IfRequired, false).subscription);
        assert_eq!(CustomerCreation::parse("always"), CustomerCreation::Always);
        assert_eq!(
            CustomerCreation::parse("if_required").as_str(),
            "if_required"
        );
    }
}
