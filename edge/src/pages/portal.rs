//! The customer portal's pages: the overview (subscriptions, card, billing history,
//! billing details) and the pages of one step (cancel, change plan, update card). The
//! billing area fills the views; the HTML and its escaping are here. Every form is a plain
//! POST carrying the session's CSRF token, so the portal works without JavaScript.

use till_shared::embed::Frame;
use till_shared::locale::{Locale, Text};
use worker::Response;

use super::checkout::{STRIPE_SCRIPT, StripeView};
use super::{escape, page_with};

/// What every portal page shows around its content.
pub struct Shell {
    pub merchant_name: String,
    /// The merchant's logo and accent colour ([`super::brand`]).
    pub brand: String,
    pub test_mode: bool,
    pub csrf: String,
    pub return_url: Option<String>,
    /// Whose portal this is (their email, else name).
    pub customer: String,
    /// After a change: saved, or refused with the reason.
    pub notice: Option<Result<(), String>>,
}

/// One subscription as the overview lists it.
pub struct SubscriptionView {
    pub id: String,
    pub title: String,
    pub state: Text,
    /// "NT$590 / month".
    pub price: String,
    /// "Next payment 2027-01-01", "Ends on …", "Ended on …".
    pub when: Option<(Text, String)>,
    pub can_cancel: bool,
    pub can_resume: bool,
    pub can_resubscribe: bool,
    pub can_switch: bool,
    /// PAST_DUE or UNPAID: the card page retries it.
    pub overdue: bool,
}

/// One line of the billing history: a payment with its receipt, or a billing order not
/// paid (yet).
pub struct HistoryRow {
    pub date: String,
    pub amount: String,
    pub refunded: Option<String>,
    /// A payment's receipt; `None` for an unpaid billing order.
    pub receipt_url: Option<String>,
    /// An unpaid billing order's state (failed, or due).
    pub unpaid: Option<Text>,
}

/// The customer's billing details, as the form shows them.
#[derive(Default)]
pub struct Details {
    pub name: String,
    pub email: String,
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

pub struct Overview {
    pub subscriptions: Vec<SubscriptionView>,
    /// "Visa •••• 4242".
    pub card: Option<String>,
    pub history: Vec<HistoryRow>,
    pub details: Details,
}

fn t(locale: Locale, key: Text) -> String {
    escape(locale.text(key))
}

/// A POST form to `action` with the session's CSRF token, `fields` and one button.
fn form(shell: &Shell, action: &str, fields: &str, button: &str, secondary: bool) -> String {
    form_with(shell, action, "", fields, button, secondary)
}

/// [`form`], with attributes of its own (`id`, `data-…`).
fn form_with(
    shell: &Shell,
    action: &str,
    attributes: &str,
    fields: &str,
    button: &str,
    secondary: bool,
) -> String {
    let class = if secondary { " class=\"sec\"" } else { "" };
    format!(
        "<form method=\"post\" action=\"{}\"{attributes}><input type=\"hidden\" name=\"csrf\" value=\"{}\">{fields}\
<button type=\"submit\"{class}>{button}</button></form>",
        escape(action),
        escape(&shell.csrf)
    )
}

/// Lays out a portal page: branding, test-mode banner, the notice, `body`, the way back.
fn portal_page(locale: Locale, shell: &Shell, title: &str, body: &str) -> worker::Result<Response> {
    portal_page_with(locale, shell, title, body, None)
}

/// [`portal_page`], with Stripe's card fields on it.
fn portal_page_with(
    locale: Locale,
    shell: &Shell,
    title: &str,
    body: &str,
    stripe: Option<&StripeView>,
) -> worker::Result<Response> {
    let mut html = String::new();
    if shell.test_mode {
        html.push_str(&format!(
            "<p class=\"test\">{}</p>",
            t(locale, Text::ReceiptTestMode)
        ));
    }
    html.push_str(&format!(
        "<header>{}<p class=\"note\">{}</p><h1>{}</h1><p class=\"note\" id=\"customer\">{}</p></header>",
        shell.brand,
        escape(&shell.merchant_name),
        escape(title),
        escape(&shell.customer)
    ));
    match &shell.notice {
        Some(Ok(())) => html.push_str(&format!(
            "<p class=\"card\" role=\"status\" id=\"notice\">{}</p>",
            t(locale, Text::PortalSaved)
        )),
        Some(Err(reason)) => html.push_str(&format!(
            "<div class=\"err\" role=\"alert\" id=\"notice\"><p>{}</p><p class=\"note\">{}</p></div>",
            t(locale, Text::PortalRefused),
            escape(reason)
        )),
        None => {}
    }
    html.push_str(body);
    html.push_str(&form(
        shell,
        "/portal/signout",
        "",
        &t(locale, Text::PortalSignOut),
        true,
    ));
    if let Some(url) = &shell.return_url {
        html.push_str(&format!(
            "<p><a id=\"return\" href=\"{}\">← {} {}</a></p>",
            escape(url),
            t(locale, Text::PortalBack),
            escape(&shell.merchant_name)
        ));
    }
    let (script, fields) = match stripe {
        Some(stripe) => (Some(STRIPE_SCRIPT), Some(&stripe.fields)),
        None => (None, None),
    };
    page_with(
        &Frame::default(),
        200,
        locale,
        title,
        &html,
        None,
        script,
        fields,
    )
}

fn subscription_card(locale: Locale, shell: &Shell, sub: &SubscriptionView) -> String {
    let mut html = format!(
        "<section class=\"card\" id=\"{id}\" data-state=\"{state:?}\"><div class=\"row\"><strong>{}</strong><span>{}</span></div><p>{}</p>",
        escape(&sub.title),
        t(locale, sub.state),
        escape(&sub.price),
        id = escape(&sub.id),
        state = sub.state,
    );
    if let Some((label, date)) = &sub.when {
        html.push_str(&format!(
            "<p class=\"note\">{} {}</p>",
            t(locale, *label),
            escape(date)
        ));
    }
    let base = format!("/portal/subscriptions/{}", sub.id);
    if sub.overdue {
        html.push_str(&format!(
            "<p><a href=\"/portal/card?subscription={}\">{}</a></p>",
            escape(&sub.id),
            t(locale, Text::PortalUpdateCard)
        ));
    }
    if sub.can_switch {
        html.push_str(&format!(
            "<p><a href=\"{}/switch\">{}</a></p>",
            escape(&base),
            t(locale, Text::PortalSwitch)
        ));
    }
    if sub.can_resume {
        html.push_str(&form(
            shell,
            &format!("{base}/resume"),
            "",
            &t(locale, Text::PortalResume),
            false,
        ));
    }
    if sub.can_resubscribe {
        html.push_str(&format!(
            "<p class=\"note\">{}</p>",
            t(locale, Text::PortalResubscribeWhat)
        ));
        html.push_str(&form(
            shell,
            &format!("{base}/resubscribe"),
            "",
            &t(locale, Text::PortalResubscribe),
            false,
        ));
    }
    if sub.can_cancel {
        html.push_str(&format!(
            "<p><a class=\"cancel\" href=\"{}/cancel\">{}</a></p>",
            escape(&base),
            t(locale, Text::PortalCancel)
        ));
    }
    html.push_str("</section>");
    html
}

fn field(id: &str, label: &str, value: &str, attributes: &str) -> String {
    format!(
        "<label for=\"{id}\">{label}</label><input id=\"{id}\" name=\"{id}\" value=\"{}\"{attributes}>",
        escape(value)
    )
}

/// The portal's first page.
pub fn overview(locale: Locale, shell: &Shell, view: &Overview) -> worker::Result<Response> {
    let mut body = format!("<h2>{}</h2>", t(locale, Text::PortalSubscriptions));
    if view.subscriptions.is_empty() {
        body.push_str(&format!(
            "<p class=\"note\">{}</p>",
            t(locale, Text::PortalNoSubscriptions)
        ));
    }
    for sub in &view.subscriptions {
        body.push_str(&subscription_card(locale, shell, sub));
    }
    body.push_str(&format!(
        "<section class=\"card\" id=\"payment-method\"><h2>{}</h2><p>{}</p><p><a href=\"/portal/card\">{}</a></p></section>",
        t(locale, Text::ReceiptCard),
        view.card
            .as_deref()
            .map_or_else(|| t(locale, Text::PortalNoCard), escape),
        t(locale, Text::PortalUpdateCard)
    ));
    body.push_str(&format!(
        "<section class=\"card\" id=\"history\"><h2>{}</h2>",
        t(locale, Text::PortalHistory)
    ));
    if view.history.is_empty() {
        body.push_str(&format!(
            "<p class=\"note\">{}</p>",
            t(locale, Text::PortalNoHistory)
        ));
    }
    body.push_str("<ul>");
    for row in &view.history {
        let refunded = row.refunded.as_ref().map_or(String::new(), |r| {
            format!(
                " <span class=\"note\">({} {})</span>",
                t(locale, Text::ReceiptRefunded),
                escape(r)
            )
        });
        let last = match (&row.receipt_url, row.unpaid) {
            (Some(url), _) => format!(
                "<a href=\"{}\">{}</a>",
                escape(url),
                t(locale, Text::Receipt)
            ),
            (None, Some(state)) => format!("<span class=\"fe\">{}</span>", t(locale, state)),
            (None, None) => String::new(),
        };
        body.push_str(&format!(
            "<li><span>{}</span><span>{}{refunded}</span>{last}</li>",
            escape(&row.date),
            escape(&row.amount),
        ));
    }
    body.push_str("</ul></section>");
    let d = &view.details;
    let fields = [
        field(
            "name",
            &t(locale, Text::Name),
            &d.name,
            " autocomplete=\"name\" maxlength=\"200\"",
        ),
        field(
            "email",
            &t(locale, Text::Email),
            &d.email,
            " type=\"email\" autocomplete=\"email\" maxlength=\"254\" required",
        ),
        field(
            "line1",
            &t(locale, Text::AddressLine),
            &d.line1,
            " autocomplete=\"address-line1\" maxlength=\"200\"",
        ),
        field(
            "city",
            &t(locale, Text::City),
            &d.city,
            " autocomplete=\"address-level2\" maxlength=\"100\"",
        ),
        field(
            "postal_code",
            &t(locale, Text::PostalCode),
            &d.postal_code,
            " autocomplete=\"postal-code\" maxlength=\"20\"",
        ),
        field(
            "country",
            &t(locale, Text::Country),
            &d.country,
            " autocomplete=\"country\" maxlength=\"2\" placeholder=\"TW\"",
        ),
    ]
    .concat();
    body.push_str(&format!(
        "<section class=\"card\" id=\"details\"><h2>{}</h2><p class=\"note\">{}</p>{}</section>",
        t(locale, Text::PortalDetails),
        t(locale, Text::PortalDetailsWhat),
        form(
            shell,
            "/portal/details",
            &fields,
            &t(locale, Text::PortalSave),
            false
        )
    ));
    portal_page(locale, shell, locale.text(Text::PortalTitle), &body)
}

/// Cancel at period end: what it means, and the confirmation.
pub fn cancel(locale: Locale, shell: &Shell, sub: &SubscriptionView) -> worker::Result<Response> {
    let body = format!(
        "<div class=\"card\"><div class=\"row\"><strong>{}</strong><span>{}</span></div><p>{}</p>{}\
<p><a href=\"/portal\">{}</a></p></div>",
        escape(&sub.title),
        escape(&sub.price),
        t(locale, Text::PortalCancelWhat),
        form(
            shell,
            &format!("/portal/subscriptions/{}/cancel", sub.id),
            "",
            &t(locale, Text::PortalCancel),
            false
        ),
        t(locale, Text::PortalKeep)
    );
    portal_page(locale, shell, locale.text(Text::PortalCancel), &body)
}

/// Change plan: the prices the merchant allows, the current one checked.
pub fn switch(
    locale: Locale,
    shell: &Shell,
    sub: &SubscriptionView,
    choices: &[(String, String, bool)],
) -> worker::Result<Response> {
    let mut options = String::new();
    for (price_id, label, current) in choices {
        let mark = if *current {
            format!(
                " checked> {} <em>({})</em>",
                escape(label),
                t(locale, Text::PortalCurrentPlan)
            )
        } else {
            format!("> {}", escape(label))
        };
        options.push_str(&format!(
            "<label class=\"row\"><span><input type=\"radio\" name=\"price\" value=\"{}\" style=\"width:auto\"{mark}</span></label>",
            escape(price_id)
        ));
    }
    let body = if choices.iter().filter(|c| !c.2).count() == 0 {
        format!(
            "<div class=\"card\"><p>{}</p></div>",
            t(locale, Text::PortalNoOtherPlans)
        )
    } else {
        format!(
            "<div class=\"card\"><p><strong>{}</strong></p><p class=\"note\">{}</p>{}<p><a href=\"/portal\">{}</a></p></div>",
            escape(&sub.title),
            t(locale, Text::PortalSwitchWhen),
            form(
                shell,
                &format!("/portal/subscriptions/{}/switch", sub.id),
                &options,
                &t(locale, Text::PortalSwitch),
                false
            ),
            t(locale, Text::PortalKeep)
        )
    };
    portal_page(locale, shell, locale.text(Text::PortalSwitch), &body)
}

/// Update card: the sandbox's card form (test numbers), or Stripe's own fields when the
/// environment charges through Stripe; for every subscription or one.
pub fn card(
    locale: Locale,
    shell: &Shell,
    current: Option<&str>,
    subscription: Option<&str>,
    stripe: Option<&StripeView>,
) -> worker::Result<Response> {
    let target = subscription.map_or(String::new(), |id| {
        format!(
            "<input type=\"hidden\" name=\"subscription\" value=\"{}\">",
            escape(id)
        )
    });
    let (attributes, fields) = match stripe {
        Some(stripe) => (
            format!(
                " id=\"stripe-form\" data-key=\"{}\" data-failed=\"{}\"",
                escape(&stripe.publishable_key),
                t(locale, Text::CardDeclined)
            ),
            format!(
                "{target}<label for=\"stripe-card\">{}</label><div id=\"stripe-card\" class=\"card-field\"></div>\
<input type=\"hidden\" id=\"payment-method\" name=\"payment_method\"><p id=\"stripe-error\" class=\"fe\" role=\"alert\" hidden></p>\
<noscript><p class=\"err\">{}</p></noscript>",
                t(locale, Text::CardNumber),
                t(locale, Text::JavaScriptNeeded)
            ),
        ),
        None => (
            String::new(),
            format!(
                "{target}<label for=\"cc\">{}</label><input id=\"cc\" name=\"card_number\" inputmode=\"numeric\" autocomplete=\"cc-number\" placeholder=\"1234 1234 1234 1234\" maxlength=\"32\" required>\
<div class=\"split\"><div><label for=\"exp\">{}</label><input id=\"exp\" name=\"card_expiry\" autocomplete=\"cc-exp\" placeholder=\"MM / YY\" maxlength=\"9\" required></div>\
<div><label for=\"cvc\">{}</label><input id=\"cvc\" name=\"card_cvc\" inputmode=\"numeric\" autocomplete=\"cc-csc\" maxlength=\"4\" required></div></div>",
                t(locale, Text::CardNumber),
                t(locale, Text::Expiry),
                t(locale, Text::Cvc),
            ),
        ),
    };
    let test = if shell.test_mode && stripe.is_none() {
        format!("<p class=\"note\">{}</p>", t(locale, Text::TestMode))
    } else {
        String::new()
    };
    let body = format!(
        "<div class=\"card\"><p>{}</p>{test}<p class=\"note\">{}</p>{}<p><a href=\"/portal\">{}</a></p></div>",
        current.map_or_else(|| t(locale, Text::PortalNoCard), escape),
        t(locale, Text::PortalCardRetries),
        form_with(
            shell,
            "/portal/card",
            &attributes,
            &fields,
            &t(locale, Text::PortalUpdateCard),
            false
        ),
        t(locale, Text::PortalToOverview)
    );
    portal_page_with(
        locale,
        shell,
        locale.text(Text::PortalUpdateCard),
        &body,
        stripe,
    )
}
