//! The hosted receipt of a payment: printable, in the shopper's language. The sales area
//! fills the view; the HTML and its escaping are here.

use till_shared::locale::{Locale, Text};
use worker::Response;

use super::checkout::{DiscountRow, ItemRow};
use super::{document, escape};

/// For paper: no background, no card borders, the whole width.
const PRINT: &str = "<style>@media print{body{background:#fff;color:#000}main{max-width:none;padding:0}\
.card{border:0;padding:0;margin:12px 0}.test{border:1px solid #92400e}a{color:#000}}\
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 16px;margin:0;font-size:14px}dt{color:#475569}dd{margin:0;text-align:right;word-break:break-all}</style>";

/// A receipt, every amount already formatted.
pub struct ReceiptView {
    pub merchant_name: String,
    /// The merchant's logo and accent colour ([`super::brand`]).
    pub brand: String,
    pub test_mode: bool,
    pub disputed: bool,
    /// The payment's id: the receipt's number.
    pub number: String,
    pub order_id: Option<String>,
    /// YYYY-MM-DD, UTC.
    pub date: String,
    pub email: Option<String>,
    /// The customer's name and billing address, one line (as the portal keeps them).
    pub billed_to: Option<String>,
    pub items: Vec<ItemRow>,
    /// A renewal's period (`2026-12-01 – 2027-01-01`).
    pub period: Option<String>,
    pub subtotal: Option<String>,
    pub discount: Option<DiscountRow>,
    pub total: String,
    /// Each refund's date and amount, oldest first.
    pub refunds: Vec<(String, String)>,
    /// What was kept, when anything was refunded.
    pub net: Option<String>,
    /// "Visa •••• 4242".
    pub card: String,
}

pub fn receipt(locale: Locale, view: &ReceiptView) -> worker::Result<Response> {
    let t = |key| escape(locale.text(key));
    let mut body = String::new();
    if view.test_mode {
        body.push_str(&format!(
            "<p class=\"test\">{}</p>",
            t(Text::ReceiptTestMode)
        ));
    }
    body.push_str(&format!(
        "<div class=\"card\">{}<p class=\"note\">{}</p><h1>{}</h1><p class=\"tot\">{} {}</p>",
        view.brand,
        t(Text::ReceiptFrom),
        escape(&view.merchant_name),
        t(Text::ReceiptPaid),
        view.total
    ));
    if view.disputed {
        body.push_str(&format!(
            "<p class=\"err\">{}</p>",
            t(Text::ReceiptDisputed)
        ));
    }
    body.push_str("<dl>");
    let mut fact = |label: Text, value: &str| {
        body.push_str(&format!("<dt>{}</dt><dd>{}</dd>", t(label), escape(value)));
    };
    fact(Text::ReceiptNumber, &view.number);
    if let Some(order) = &view.order_id {
        fact(Text::ReceiptOrder, order);
    }
    fact(Text::ReceiptDate, &view.date);
    fact(Text::ReceiptCard, &view.card);
    if let Some(email) = &view.email {
        fact(Text::Email, email);
    }
    if let Some(billed_to) = &view.billed_to {
        fact(Text::ReceiptBilledTo, billed_to);
    }
    if let Some(period) = &view.period {
        fact(Text::ReceiptPeriod, period);
    }
    body.push_str("</dl></div><div class=\"card\"><ul>");
    for item in &view.items {
        let quantity = if item.quantity > 1 {
            format!(" × {}", item.quantity)
        } else {
            String::new()
        };
        body.push_str(&format!(
            "<li><span>{}{quantity}</span><span>{}</span></li>",
            escape(&item.name),
            item.amount
        ));
    }
    body.push_str("</ul>");
    if let Some(subtotal) = &view.subtotal {
        body.push_str(&format!(
            "<div class=\"row\"><span>{}</span><span>{subtotal}</span></div>",
            t(Text::ReceiptSubtotal)
        ));
    }
    if let Some(discount) = &view.discount {
        body.push_str(&format!(
            "<div class=\"row\"><span>{} ({})</span><span>−{}</span></div>",
            t(Text::Discount),
            escape(&discount.code),
            discount.amount
        ));
    }
    body.push_str(&format!(
        "<div class=\"row tot\"><span>{}</span><span>{}</span></div>",
        t(Text::ReceiptPaid),
        view.total
    ));
    for (date, amount) in &view.refunds {
        body.push_str(&format!(
            "<div class=\"row\"><span>{} {}</span><span>−{amount}</span></div>",
            t(Text::ReceiptRefunded),
            escape(date)
        ));
    }
    if let Some(net) = &view.net {
        body.push_str(&format!(
            "<div class=\"row tot\"><span>{}</span><span>{net}</span></div>",
            t(Text::ReceiptNet)
        ));
    }
    body.push_str("</div>");
    let title = format!("{} · {}", locale.text(Text::Receipt), view.merchant_name);
    document(200, locale, &title, PRINT, &body)
}
