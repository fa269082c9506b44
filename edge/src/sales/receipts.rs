//! `GET /receipts/{key}`: a payment's hosted receipt. The key is the URL's only
//! credential (190 random bits, unique per payment); an unknown key is a plain 404 page.

use serde::Deserialize;
use till_shared::locale::{Locale, Text, format_money};
use till_shared::money::{Currency, Money};
use till_shared::pricing::LineItem;
use worker::Response;

use crate::api::iso;
use crate::api::page::PageRequest;
use crate::ctx::Ctx;
use crate::db::{self, Sql};
use crate::error::ApiResult;
use crate::pages;
use crate::pages::checkout::{DiscountRow, ItemRow};
use crate::pages::receipt::ReceiptView;
use crate::sales::orders::OrderRow;
use crate::sales::payments::PaymentRow;
use crate::sales::refunds;

/// What a receipt shows beside the payment: who sold, and a renewal's period.
#[derive(Deserialize)]
struct Beside {
    merchant_name: String,
    brand_logo_url: Option<String>,
    brand_color: Option<String>,
    period_start: Option<i64>,
    period_end: Option<i64>,
}

pub async fn show(req: PageRequest, ctx: &Ctx, key: &str) -> worker::Result<Response> {
    let fallback = Locale::negotiate(
        req.query("locale").as_deref(),
        req.accept_language.as_deref(),
    );
    match view(&req, ctx, key).await {
        Ok(Some((locale, view))) => pages::receipt::receipt(locale, &view),
        Ok(None) => pages::message(fallback, 404, Text::ReceiptNotFound),
        Err(error) => {
            worker::console_error!("receipt: {error:?}");
            pages::message(fallback, 503, Text::TryAgainShortly)
        }
    }
}

fn date(at: i64) -> ApiResult<String> {
    Ok(iso(at)?.chars().take(10).collect())
}

async fn view(req: &PageRequest, ctx: &Ctx, key: &str) -> ApiResult<Option<(Locale, ReceiptView)>> {
    // Keys are made of `rcpt_` and Base62; anything else is not looked up.
    if !key.starts_with("rcpt_")
        || key.len() > 64
        || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Ok(None);
    }
    let db = db::db(ctx)?;
    let payment: Option<PaymentRow> = Sql::new("SELECT * FROM payments WHERE receipt_key = :key")
        .bind("key", key)
        .prepare(&db)?
        .first(None)
        .await?;
    let Some(payment) = payment else {
        return Ok(None);
    };
    let found: Beside = Sql::new(
        "SELECT coalesce(e.brand_name, a.name) AS merchant_name, e.brand_logo_url, e.brand_color,
                b.period_start, b.period_end
         FROM accounts a LEFT JOIN billing_orders b ON b.id = :order
           LEFT JOIN environment_settings e ON e.account_id = a.id AND e.environment = :environment
         WHERE a.id = :account",
    )
    .bind("order", payment.billing_order_id.clone())
    .bind("account", payment.account_id.as_str())
    .bind("environment", payment.environment.as_str())
    .prepare(&db)?
    .first(None)
    .await?
    .ok_or_else(|| crate::error::ApiError::internal("the payment's account is gone"))?;
    let payment = &payment;
    let order: Option<OrderRow> = match &payment.order_id {
        Some(id) => {
            Sql::new("SELECT * FROM orders_view WHERE id = :id")
                .bind("id", id.as_str())
                .prepare(&db)?
                .first(None)
                .await?
        }
        None => None,
    };
    let locale = Locale::negotiate(
        req.query("locale")
            .as_deref()
            .or(order.as_ref().and_then(|o| o.locale.as_deref())),
        req.accept_language.as_deref(),
    );
    let currency = Currency::parse(&payment.currency).map_err(crate::error::ApiError::internal)?;
    let money = |amount: i64| {
        Money::from_minor(amount, currency)
            .ok()
            .map(format_money)
            .unwrap_or_default()
    };
    let Lines {
        mut items,
        subtotal,
        discount,
        email,
    } = order.as_ref().map(|o| lines(o, &money)).unwrap_or_default();
    let period = match (found.period_start, found.period_end) {
        (Some(start), Some(end)) => Some(format!("{} – {}", date(start)?, date(end)?)),
        _ => None,
    };
    if items.is_empty() {
        items.push(ItemRow {
            name: locale.text(Text::ReceiptPeriod).to_owned(),
            quantity: 1,
            amount: money(payment.amount),
        });
    }
    let customer = billed_to(&db, payment).await?;
    let email = email.or_else(|| customer.as_ref().and_then(|c| c.email.clone()));
    let billed_to = customer.and_then(|c| c.line());
    let refunds = refunds::of_payment(&db, &payment.id)
        .await?
        .iter()
        .map(|r| Ok((date(r.created_at)?, money(r.amount))))
        .collect::<ApiResult<Vec<_>>>()?;
    let view = ReceiptView {
        merchant_name: found.merchant_name.clone(),
        brand: crate::pages::brand(
            found.brand_logo_url.as_deref(),
            found.brand_color.as_deref(),
        ),
        test_mode: !payment.livemode(),
        disputed: payment.disputed == 1,
        number: payment.id.clone(),
        order_id: payment
            .order_id
            .clone()
            .or(payment.billing_order_id.clone()),
        date: date(payment.created_at)?,
        email,
        billed_to,
        items,
        period,
        subtotal,
        discount,
        total: money(payment.amount),
        net: (payment.amount_refunded > 0).then(|| money(payment.refundable())),
        refunds,
        card: format!(
            "{} •••• {}",
            brand_name(&payment.card_brand),
            payment.card_last4
        ),
    };
    Ok(Some((locale, view)))
}

/// Who a payment was billed to, as the customer's details stand now (a customer id given
/// to someone else after the payment is not theirs).
#[derive(Deserialize)]
struct BilledTo {
    name: Option<String>,
    email: Option<String>,
    billing_address: Option<String>,
}

impl BilledTo {
    /// "Mei Lin, 1 Harbour Rd, 000 Hong Kong, HK", or nothing when neither is kept.
    fn line(&self) -> Option<String> {
        let address = crate::db::parse_json(self.billing_address.as_deref());
        let part = |key: &str| {
            address
                .get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let town = [part("postal_code"), part("city")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let parts: Vec<String> = [
            self.name.clone().filter(|n| !n.trim().is_empty()),
            part("line1"),
            part("line2"),
            (!town.is_empty()).then_some(town),
            part("state"),
            part("country"),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

async fn billed_to(db: &worker::D1Database, payment: &PaymentRow) -> ApiResult<Option<BilledTo>> {
    let Some(customer) = &payment.customer_id else {
        return Ok(None);
    };
    Ok(Sql::new(
        "SELECT name, email, billing_address FROM customers_view
         WHERE id = :customer AND account_id = :account AND environment = :environment
           AND created_at <= :paid_at",
    )
    .bind("paid_at", payment.created_at)
    .bind("customer", customer.as_str())
    .bind("account", payment.account_id.as_str())
    .bind("environment", payment.environment.as_str())
    .prepare(db)?
    .first(None)
    .await?)
}

/// What a checkout's order shows on its receipt.
#[derive(Default)]
struct Lines {
    items: Vec<ItemRow>,
    /// With the discount, when there is one.
    subtotal: Option<String>,
    discount: Option<DiscountRow>,
    email: Option<String>,
}

fn lines(order: &OrderRow, money: &impl Fn(i64) -> String) -> Lines {
    let sold: Vec<LineItem> = order
        .line_items
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let items = sold
        .iter()
        .map(|line| ItemRow {
            name: line.name.clone().unwrap_or_else(|| "Item".to_owned()),
            quantity: line.quantity,
            amount: money(line.line_total().map_or(0, |m| m.amount())),
        })
        .collect();
    let discounted = order.amount_discount > 0;
    Lines {
        items,
        subtotal: discounted.then(|| money(order.amount_subtotal)),
        discount: order
            .promotion_code
            .as_ref()
            .filter(|_| discounted)
            .map(|code| DiscountRow {
                code: code.clone(),
                amount: money(order.amount_discount),
            }),
        email: Some(order.customer_email.clone()),
    }
}

/// A card brand as people write it.
fn brand_name(brand: &str) -> String {
    match brand {
        "visa" => "Visa".to_owned(),
        "mastercard" => "Mastercard".to_owned(),
        "amex" => "American Express".to_owned(),
        "jcb" => "JCB".to_owned(),
        other => other.to_owned(),
    }
}
