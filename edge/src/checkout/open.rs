//! Opening a checkout session from a payment link: when the shopper's browser first loads
//! the page a short-link visit redirected to (redeeming the visit's signed ticket), or,
//! on a Worker with no operator token to sign tickets with, during the visit itself.

use serde_json::{Map, Value};
use till_shared::catalog::Prefill;
use till_shared::ids::CheckoutSessionId;
use till_shared::locale::Text;
use till_shared::ticket::TicketError;
use worker::Response;

use crate::api::reply::Dialect;
use crate::catalog::promotion_codes::find_by_code;
use crate::checkout::sessions::{FromLink, NewSession, insert};
use crate::ctx::Ctx;
use crate::db::{self, Bind};
use crate::error::ApiResult;
use crate::links::payment_links::{LinkRow, subtotal};
use crate::links::shortlinks::{self, Unsigned, forget, fresh, signer, unavailable};
use crate::pages;

/// Sessions made from links live 24 hours, like API sessions by default.
const SESSION_LIFETIME: i64 = 24 * 3600;

/// What the checkout page got from a ticket for a session that does not exist yet.
pub enum Redeemed {
    /// The session exists now (made here, or by a concurrent load of the same page).
    Open,
    /// The ticket was good but the link cannot be paid now: the page to show instead.
    Unavailable(u16, Text),
    /// No ticket, or one that is forged, altered or stale: nothing was created.
    Refused(TicketError),
}

/// Creates the session a short-link visit promised (`/c/{session_id}?t={ticket}`): once,
/// only while D1 says the link is payable, with the view and the session counted in the
/// same batch.
pub async fn redeem(ctx: &Ctx, session_id: &str, sealed: &str) -> ApiResult<Redeemed> {
    let Some(signer) = signer(ctx) else {
        return Ok(Redeemed::Refused(TicketError::Forged));
    };
    let ticket = match signer.open(session_id, sealed, db::now_unix()) {
        Ok(ticket) => ticket,
        Err(error) => return Ok(Redeemed::Refused(error)),
    };
    let link: Option<LinkRow> = db::db(ctx)?
        .prepare("SELECT * FROM payment_links_view WHERE id = ?1")
        .bind(&[ticket.link_id.js()])?
        .first(None)
        .await?;
    let Some(link) = link else {
        return Ok(Redeemed::Unavailable(404, Text::LinkNotFound));
    };
    if let Some((status, text)) = unavailable(&link) {
        return Ok(Redeemed::Unavailable(status, text));
    }
    match open_session(ctx, &link, &ticket.params, Some(session_id.to_owned()), 1).await {
        Ok(Some(_)) => Ok(Redeemed::Open),
        // D1 refused: the link stopped being payable since the snapshot was taken.
        Ok(None) => Ok(Redeemed::Unavailable(410, Text::LinkInactive)),
        // Most likely the same page loaded twice at once: the other load made it.
        Err(error) => {
            let exists = db::db(ctx)?
                .prepare("SELECT 1 AS one FROM checkout_sessions WHERE id = ?1")
                .bind(&[session_id.js()])?
                .first::<Value>(None)
                .await?
                .is_some();
            if exists {
                Ok(Redeemed::Open)
            } else {
                Err(error)
            }
        }
    }
}

/// Creates the session for this visit and counts it, in one batch; `None` when D1 says the
/// link is no longer payable.
async fn open_session(
    ctx: &Ctx,
    link: &LinkRow,
    params: &[(String, String)],
    id: Option<String>,
    views: i64,
) -> ApiResult<Option<String>> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let lines = link.priced_lines();
    let total = subtotal(&lines)?;
    let now = db::now_unix();
    let discount = match &link.promotion_code {
        Some(code) => match find_by_code(ctx, &link.account_id, &link.environment, code).await? {
            Some(promotion) => promotion.discount_on(&lines, now)?.unwrap_or(0),
            _ => 0,
        },
        None => 0,
    };
    let recurring = lines.iter().any(|l| l.is_recurring());
    let prefill = Prefill::read(param);
    let utm: Map<String, Value> = params
        .iter()
        .filter(|(k, _)| k.starts_with("utm_"))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let session = NewSession {
        id: id.unwrap_or_else(|| CheckoutSessionId::generate().to_string()),
        account_id: link.account_id.clone(),
        environment: if link.environment == "PRODUCTION" {
            "PRODUCTION"
        } else {
            "SANDBOX"
        },
        mode: if recurring { "SUBSCRIPTION" } else { "PAYMENT" },
        currency: lines[0].currency.code(),
        amount_subtotal: total.amount(),
        amount_discount: discount,
        amount_total: total.amount() - discount,
        lines,
        promotion_code: link.promotion_code.clone().filter(|_| discount > 0),
        success_url: link.success_url.clone(),
        cancel_url: None,
        customer_email: prefill.email,
        customer_name: prefill.name,
        client_reference_id: prefill.client_reference_id,
        locale: prefill.locale,
        metadata: None,
        expires_at: now + SESSION_LIFETIME,
        payment_link: Some(FromLink {
            id: link.id.clone(),
            custom_fields: link.custom_fields.clone(),
            billing_address_collection: link.billing_address_collection.clone(),
            customer_creation: link.customer_creation.clone(),
            after_completion: link.after_completion.clone(),
        }),
        utm: (!utm.is_empty()).then_some(Value::Object(utm)),
        allow_promotion_codes: link.allow_promotion_codes == 1,
    };
    let db = db::db(ctx)?;
    let count = db
        .prepare(
            "UPDATE payment_links SET session_count = session_count + 1, view_count = view_count + ?3
             WHERE id = ?1 AND EXISTS (SELECT 1 FROM checkout_sessions WHERE id = ?2)",
        )
        .bind(&[link.id.js(), session.id.js(), views.js()])?;
    let results = db.batch(vec![insert(&db, &session, now)?, count]).await?;
    let inserted = results
        .first()
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    Ok((inserted == 1).then_some(session.id))
}

/// A visit to a payable link on a Worker without a ticket signer: the session is opened
/// now, and the shopper redirected to it.
pub async fn during_visit(ctx: &Ctx, code: &str, visit: Unsigned) -> worker::Result<Response> {
    let Unsigned {
        link,
        params,
        origin,
        frame,
        locale,
    } = visit;
    match open_session(ctx, &link, &params, None, 0).await {
        Ok(Some(session_id)) => {
            shortlinks::redirect(&format!("{origin}/c/{session_id}{}", frame.query()))
        }
        // D1 refused: the cached snapshot was stale. Answer from the fresh row.
        Ok(None) => {
            forget(ctx, code).await;
            let fresh = fresh(ctx, code).await.ok().flatten();
            let (status, text) = fresh
                .as_ref()
                .and_then(unavailable)
                .unwrap_or((410, Text::LinkInactive));
            pages::message_in(&frame, locale, status, text)
        }
        Err(error) => error.into_reply(Dialect::Till).into_response(),
    }
}
