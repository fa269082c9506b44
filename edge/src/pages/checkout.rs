//! The hosted checkout's pages: the payment form, the sandbox bank's 3-D Secure page and
//! the confirmation. The checkout area decides what they show and fills these views; the
//! HTML, and the escaping of everything the merchant or the shopper wrote, is here.

use serde_json::json;
use till_shared::checkout::{CustomField, FieldKind};
use till_shared::embed::Frame;
use till_shared::locale::{Locale, Text};
use worker::Response;

use super::{ProcessorFields, escape, page, page_with};

/// The enhancement script, inlined so the page needs no other request.
const SCRIPT: &str = include_str!("checkout.js");
/// What drives Stripe's fields on the Stripe path.
/// The card collected by Stripe.js, on every page that takes a card on the Stripe path.
pub const STRIPE_SCRIPT: &str = include_str!("stripe.js");

/// The payment form as the shopper sees it, every amount already formatted.
pub struct CheckoutView<'a> {
    pub merchant_name: String,
    /// The merchant's logo and accent colour ([`super::brand`]).
    pub brand: String,
    /// A sandbox session: the page says so above the order.
    pub test_mode: bool,
    pub items: Vec<ItemRow>,
    pub discount: Option<DiscountRow>,
    pub total: String,
    /// The code form, while the session takes a code and has none.
    pub promotion: Option<PromotionForm>,
    /// Why the last submit came back.
    pub error: Option<String>,
    pub email: String,
    pub name: String,
    /// The link's questions, in its order.
    pub fields: Vec<FieldView<'a>>,
    /// The billing address, when the link asks for one.
    pub address: Option<AddressView>,
    /// The way back to the merchant, when the session has one.
    pub cancel_url: Option<String>,
    /// The button's word ("Pay", "Subscribe", …), shown before the total.
    pub submit: Text,
    pub csrf_token: String,
    /// Where the form posts, with the frame's query (unescaped).
    pub action: String,
    /// The account's Stripe, when connected: the card is collected by Stripe's fields.
    pub stripe: Option<StripeView>,
}

/// Stripe's fields on a page: the account's publishable key, and Stripe.js.
#[derive(Clone)]
pub struct StripeView {
    pub publishable_key: String,
    pub fields: ProcessorFields,
}

/// One line of the order.
pub struct ItemRow {
    pub name: String,
    pub quantity: u32,
    pub amount: String,
}

/// The applied promotion code and what it takes off.
pub struct DiscountRow {
    pub code: String,
    pub amount: String,
}

/// The promotion code form: where it posts (unescaped) and the code typed last.
pub struct PromotionForm {
    pub action: String,
    pub code: String,
}

/// One of the link's questions and what the shopper answered.
pub struct FieldView<'a> {
    pub field: &'a CustomField,
    pub value: String,
}

/// The billing address as typed.
pub struct AddressView {
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// The sandbox bank's 3-D Secure page: the amount, and where the answer posts (unescaped).
pub struct ChallengeView {
    pub total: String,
    pub csrf_token: String,
    pub action: String,
}

/// The confirmation after payment, and what it reports to the merchant page.
pub struct ConfirmationView {
    pub merchant_name: String,
    /// The merchant's logo and accent colour ([`super::brand`]).
    pub brand: String,
    /// The merchant's message, else the default sentence.
    pub message: Option<String>,
    pub total: String,
    pub session_id: String,
    /// The success URL the merchant page may go to, inside the overlay.
    pub success_url: Option<String>,
}

/// The payment form page, with its script allowed by a fresh nonce.
pub fn form(
    frame: &Frame,
    status: u16,
    locale: Locale,
    view: &CheckoutView<'_>,
) -> worker::Result<Response> {
    let title = format!("{} · {}", view.merchant_name, view.total);
    let body = form_body(frame, locale, view);
    match &view.stripe {
        Some(stripe) => page_with(
            frame,
            status,
            locale,
            &title,
            &body,
            None,
            Some(STRIPE_SCRIPT),
            Some(&stripe.fields),
        ),
        None => page(frame, status, locale, &title, &body, None, Some(SCRIPT)),
    }
}

/// The card part of the form: the sandbox's inputs, or the place of Stripe's fields (with
/// the PaymentMethod id they make, and what a page without JavaScript says).
fn card_html(view: &CheckoutView<'_>, locale: Locale) -> (String, String) {
    let t = |key| escape(locale.text(key));
    match &view.stripe {
        None => (
            "pay-form".to_owned(),
            format!(
                "<label for=\"cc\">{}</label><input id=\"cc\" name=\"card_number\" inputmode=\"numeric\" autocomplete=\"cc-number\" placeholder=\"1234 1234 1234 1234\" required>\
<div class=\"split\"><div><label for=\"exp\">{}</label><input id=\"exp\" name=\"card_expiry\" autocomplete=\"cc-exp\" placeholder=\"MM / YY\" required></div>\
<div><label for=\"cvc\">{}</label><input id=\"cvc\" name=\"card_cvc\" inputmode=\"numeric\" autocomplete=\"cc-csc\" maxlength=\"4\" required></div></div>",
                t(Text::CardNumber),
                t(Text::Expiry),
                t(Text::Cvc)
            ),
        ),
        Some(_) => (
            "stripe-form".to_owned(),
            format!(
                "<label for=\"stripe-card\">{}</label><div id=\"stripe-card\" class=\"card-field\"></div>\
<input type=\"hidden\" id=\"payment-method\" name=\"payment_method\"><p id=\"stripe-error\" class=\"fe\" role=\"alert\" hidden></p>\
<noscript><p class=\"err\">{}</p></noscript>",
                t(Text::CardNumber),
                t(Text::JavaScriptNeeded)
            ),
        ),
    }
}

/// The order, the promotion code form and the payment form.
fn form_body(frame: &Frame, locale: Locale, view: &CheckoutView<'_>) -> String {
    let t = |key| escape(locale.text(key));
    let test_banner = if view.test_mode {
        format!("<p class=\"test\">{}</p>", t(Text::TestMode))
    } else {
        String::new()
    };
    let error = view
        .error
        .as_ref()
        .map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let fields: String = view.fields.iter().map(|f| field_html(f, locale)).collect();
    let address = view
        .address
        .as_ref()
        .map(|a| address_html(a, locale))
        .unwrap_or_default();
    let promotion = view
        .promotion
        .as_ref()
        .map(|p| promotion_html(p, &view.csrf_token, locale))
        .unwrap_or_default();
    let (form_id, card) = card_html(view, locale);
    let messages = json!({
        "number": locale.text(Text::InvalidNumber),
        "expiry": locale.text(Text::InvalidExpiry),
        "cvc": locale.text(Text::InvalidCvc),
        "email": locale.text(Text::InvalidEmail),
    });
    format!(
        "{brand}<h1>{merchant}</h1>{test_banner}<section class=\"card\"><ul>{items}</ul>{discount}\
<div class=\"row tot\"><span>{total_label}</span><strong id=\"total\">{total}</strong></div></section>{promotion}\
<form id=\"{form_id}\" class=\"card\" method=\"post\" action=\"{action}\" data-done=\"{action}\" data-messages=\"{messages}\"{stripe_key}>\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{error}\
<label for=\"email\">{email_label}</label><input id=\"email\" type=\"email\" name=\"email\" autocomplete=\"email\" value=\"{email}\" required>\
<label for=\"name\">{name_label}</label><input id=\"name\" name=\"name\" autocomplete=\"name\" value=\"{name}\">{fields}{address}{card}\
<button id=\"pay\" type=\"submit\">{submit} {total}</button>{cancel}</form>",
        merchant = escape(&view.merchant_name),
        brand = view.brand,
        items = items_html(&view.items),
        discount = view
            .discount
            .as_ref()
            .map(|d| discount_html(d, locale))
            .unwrap_or_default(),
        total_label = t(Text::Total),
        total = view.total,
        action = escape(&view.action),
        messages = escape(&messages.to_string()),
        csrf = escape(&view.csrf_token),
        email_label = t(Text::Email),
        email = escape(&view.email),
        name_label = t(Text::Name),
        name = escape(&view.name),
        form_id = form_id,
        card = card,
        stripe_key = view.stripe.as_ref().map_or(String::new(), |s| format!(
            " data-key=\"{}\" data-failed=\"{}\"",
            escape(&s.publishable_key),
            t(Text::CardDeclined)
        )),
        submit = t(view.submit),
        cancel = cancel_html(view.cancel_url.as_deref(), locale, frame),
    )
}

/// What is bought, line by line.
fn items_html(items: &[ItemRow]) -> String {
    items
        .iter()
        .map(|item| {
            format!(
                "<li><span>{} × {}</span><span>{}</span></li>",
                escape(&item.name),
                item.quantity,
                item.amount
            )
        })
        .collect()
}

/// The discount's row under the lines.
fn discount_html(discount: &DiscountRow, locale: Locale) -> String {
    format!(
        "<div class=\"row\"><span>{} ({})</span><span>−{}</span></div>",
        escape(locale.text(Text::Discount)),
        escape(&discount.code),
        discount.amount
    )
}

/// One of the link's questions, as a label and its control.
fn field_html(view: &FieldView<'_>, locale: Locale) -> String {
    let field = view.field;
    let name = field.input_name();
    let (suffix, required) = if field.optional {
        let note = format!(
            " <span class=\"note\">({})</span>",
            escape(locale.text(Text::Optional))
        );
        (note, "")
    } else {
        (String::new(), " required")
    };
    let input = match field.kind {
        FieldKind::Dropdown => {
            let options = options_html(field, &view.value);
            format!(
                "<select id=\"{name}\" name=\"{name}\"{required}><option value=\"\"></option>{options}</select>"
            )
        }
        FieldKind::Numeric => format!(
            "<input id=\"{name}\" name=\"{name}\" inputmode=\"numeric\" pattern=\"[0-9]*\" value=\"{}\"{required}>",
            escape(&view.value)
        ),
        FieldKind::Text => format!(
            "<input id=\"{name}\" name=\"{name}\" maxlength=\"255\" value=\"{}\"{required}>",
            escape(&view.value)
        ),
    };
    format!(
        "<label for=\"{name}\">{}{suffix}</label>{input}",
        escape(field.label())
    )
}

/// A dropdown's options, the one answered last selected.
fn options_html(field: &CustomField, answered: &str) -> String {
    field
        .options()
        .iter()
        .map(|o| {
            let selected = if answered == o.value { " selected" } else { "" };
            format!(
                "<option value=\"{}\"{selected}>{}</option>",
                escape(&o.value),
                escape(o.label())
            )
        })
        .collect()
}

/// The billing address controls.
fn address_html(address: &AddressView, locale: Locale) -> String {
    let t = |key| escape(locale.text(key));
    format!(
        "<label for=\"line1\">{}</label><input id=\"line1\" name=\"address_line1\" autocomplete=\"billing address-line1\" value=\"{}\" required>\
<div class=\"split\"><div><label for=\"city\">{}</label><input id=\"city\" name=\"address_city\" autocomplete=\"billing address-level2\" value=\"{}\" required></div>\
<div><label for=\"postal\">{}</label><input id=\"postal\" name=\"address_postal_code\" autocomplete=\"billing postal-code\" value=\"{}\" required></div></div>\
<label for=\"country\">{}</label><input id=\"country\" name=\"address_country\" autocomplete=\"billing country\" value=\"{}\" required>",
        t(Text::AddressLine),
        escape(&address.line1),
        t(Text::City),
        escape(&address.city),
        t(Text::PostalCode),
        escape(&address.postal_code),
        t(Text::Country),
        escape(&address.country),
    )
}

/// The way back to the merchant; inside the overlay, cancelling closes it and stays on the
/// merchant's page.
fn cancel_html(url: Option<&str>, locale: Locale, frame: &Frame) -> String {
    let Some(url) = url else {
        return String::new();
    };
    let close = if frame.parent.is_some() {
        " data-close"
    } else {
        ""
    };
    format!(
        "<p class=\"center\"><a href=\"{}\"{close}>{}</a></p>",
        escape(url),
        escape(locale.text(Text::Cancel))
    )
}

/// The promotion code form; it carries the session's token like the payment form.
fn promotion_html(form: &PromotionForm, csrf_token: &str, locale: Locale) -> String {
    format!(
        "<form class=\"card\" method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label for=\"promo\">{label}</label><div class=\"split\"><div><input id=\"promo\" name=\"code\" autocomplete=\"off\" value=\"{value}\"></div>\
<div><button class=\"sec\" type=\"submit\">{apply}</button></div></div></form>",
        action = escape(&form.action),
        csrf = escape(csrf_token),
        label = escape(locale.text(Text::PromotionCode)),
        value = escape(&form.code),
        apply = escape(locale.text(Text::Apply)),
    )
}

/// The sandbox bank's 3-D Secure page: complete or fail.
pub fn challenge(frame: &Frame, locale: Locale, view: &ChallengeView) -> worker::Result<Response> {
    let body = format!(
        "<div class=\"card center\"><h1>{title}</h1><p class=\"tot\">{total}</p>\
<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button name=\"outcome\" value=\"complete\">{complete}</button>\
<button class=\"sec\" name=\"outcome\" value=\"fail\">{fail}</button></form></div>",
        title = escape(locale.text(Text::ChallengeTitle)),
        total = view.total,
        action = escape(&view.action),
        csrf = escape(&view.csrf_token),
        complete = escape(locale.text(Text::ChallengeComplete)),
        fail = escape(locale.text(Text::ChallengeFail)),
    );
    let title = locale.text(Text::ChallengeTitle);
    page(frame, 200, locale, title, &body, None, None)
}

/// The bank's check of a Stripe payment (3-D Secure): Stripe.js shows it, then the form
/// asks Till to read the outcome from Stripe. Without JavaScript the page says it is needed.
pub fn stripe_challenge(
    frame: &Frame,
    locale: Locale,
    view: &ChallengeView,
    stripe: &StripeView,
    client_secret: &str,
) -> worker::Result<Response> {
    let body = format!(
        "<div class=\"card center\"><h1>{title}</h1><p class=\"tot\">{total}</p>\
<form id=\"stripe-form\" method=\"post\" action=\"{action}\" data-key=\"{key}\" data-secret=\"{secret}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"outcome\" value=\"processor\">\
<noscript><p class=\"err\">{needed}</p></noscript><button>{complete}</button></form></div>",
        title = escape(locale.text(Text::BankCheck)),
        total = view.total,
        action = escape(&view.action),
        key = escape(&stripe.publishable_key),
        secret = escape(client_secret),
        csrf = escape(&view.csrf_token),
        needed = escape(locale.text(Text::JavaScriptNeeded)),
        complete = escape(locale.text(Text::ChallengeComplete)),
    );
    let title = locale.text(Text::BankCheck);
    page_with(
        frame,
        200,
        locale,
        title,
        &body,
        None,
        Some(STRIPE_SCRIPT),
        Some(&stripe.fields),
    )
}

/// The hosted confirmation; inside the overlay it reports `success` with the session id
/// and the success URL, and the merchant page decides whether to go there.
pub fn confirmation(
    frame: &Frame,
    locale: Locale,
    view: &ConfirmationView,
) -> worker::Result<Response> {
    let message = view
        .message
        .as_deref()
        .unwrap_or_else(|| locale.text(Text::PaymentComplete));
    let body = format!(
        "<div class=\"card center\">{}<h1>{}</h1><p>{}</p><p class=\"tot\">{}</p></div>",
        view.brand,
        escape(&view.merchant_name),
        escape(message),
        view.total
    );
    let say = json!({"type": "success", "session_id": view.session_id, "url": view.success_url});
    let title = locale.text(Text::PaymentComplete);
    page(frame, 200, locale, title, &body, Some(&say), None)
}
