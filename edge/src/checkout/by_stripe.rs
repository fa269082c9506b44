//! Paying a session through the account's Stripe: the page's Stripe fields made a
//! PaymentMethod; Till reads its card (brand, last4, expiry), reserves the session as for
//! any payment, creates the PaymentIntent and keeps its id on the session *before*
//! confirming it, then confirms. Whatever happens after that point — an answer lost, the
//! shopper gone during 3-D Secure — the PaymentIntent's id says where the money is: a
//! later read of it, or Stripe's own webhook, completes the session exactly once (the
//! reservation guards the completion), and an attempt that cannot have charged is
//! canceled at Stripe before its reservation is given back.

use till_shared::locale::Text;
use till_shared::money::Money;
use till_shared::plan::CheckoutMode;
use till_shared::stripe::{IntentStatus, is_id};
use worker::D1Database;

use crate::accounts::processor;
use crate::checkout::completion::{self, CardFacts, Pending, Reservation, Shopper};
use crate::checkout::page::{Attempt, Form, Outcome, complete_payment, declined, hold, reserve};
use crate::db;
use crate::processor::stripe::MethodCard;
use crate::processor::{Charge, Stripe};

/// The account's Stripe, opened.
async fn stripe_of(attempt: &Attempt<'_>, db: &D1Database) -> Option<Stripe> {
    let session = &attempt.page.session;
    processor::connection(
        &attempt.ctx.env,
        db,
        &session.account_id,
        session.environment.as_str(),
    )
    .await
    .ok()
    .flatten()
    .map(|c| c.stripe)
}

fn facts(card: &MethodCard, token: String, saved: Option<String>) -> CardFacts {
    CardFacts {
        brand: card.brand.clone(),
        last4: card.last4.clone(),
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        token,
        saved_token: saved,
        processor: "stripe".to_owned(),
    }
}

/// `POST /c/{id}` on the Stripe path.
pub(super) async fn take_payment(attempt: &Attempt<'_>, shopper: Shopper, form: &Form) -> Outcome {
    let method = form.text("payment_method");
    if !is_id("pm_", &method) {
        // Stripe's fields make it; a page without JavaScript cannot.
        return attempt.again(422, Text::JavaScriptNeeded);
    }
    let Ok(db) = db::db(attempt.ctx) else {
        return Outcome::TryLater;
    };
    let Some(stripe) = stripe_of(attempt, &db).await else {
        return Outcome::TryLater;
    };
    let card = match stripe.card_of(&method).await {
        Ok(Some(card)) => card,
        Ok(None) => return attempt.again(402, Text::CardDeclined),
        Err(()) => return Outcome::TryLater,
    };
    let token = match reserve(attempt, &db).await {
        Ok(token) => token,
        Err(outcome) => return outcome,
    };
    let session = &attempt.page.session;
    let held = Reservation {
        session,
        token: &token,
    };
    // Keys of this attempt: the session and its reservation (a new one per attempt).
    let key = format!("till-{}-{token}", session.id.as_str());
    let saved = match kept_card(&stripe, session.mode, &shopper.email, &method, &key).await {
        Ok(saved) => saved,
        Err(Charge::Declined(code)) => return declined(attempt, &db, &held, code, None).await,
        Err(_) => {
            let _ = completion::release(&db, &held, None).await;
            return Outcome::TryLater;
        }
    };
    if session.mode == CheckoutMode::Setup {
        let kept = saved.clone().unwrap_or_default();
        return complete_payment(attempt, &db, &held, &shopper, &facts(&card, kept, saved)).await;
    }
    let Ok(amount) = Money::from_minor(session.amounts.total, session.currency) else {
        let _ = completion::release(&db, &held, None).await;
        return attempt.again(500, Text::ProcessingError);
    };
    let customer = saved
        .as_deref()
        .and_then(|s| s.split_once('/'))
        .map(|(c, _)| c);
    let metadata = [
        ("till_session", session.id.as_str()),
        ("till_reservation", token.as_str()),
    ];
    let intent = match stripe
        .create_intent(
            amount,
            &method,
            customer,
            &metadata,
            &format!("{key}-intent"),
        )
        .await
    {
        Ok(intent) => intent,
        Err(Charge::Declined(code)) => return declined(attempt, &db, &held, code, None).await,
        Err(_) => {
            let _ = completion::release(&db, &held, None).await;
            return Outcome::TryLater;
        }
    };
    // From here the PaymentIntent may take money: the session keeps its id first.
    let pending = Pending {
        card: facts(&card, intent.id.clone(), saved.clone()),
        shopper,
        reservation: token.clone(),
        charged: false,
    };
    if completion::keep_pending(&db, &held, &pending)
        .await
        .is_err()
    {
        stripe.cancel(&intent.id).await;
        let _ = completion::release(&db, &held, None).await;
        return Outcome::TryLater;
    }
    let charge = stripe.confirm(&intent.id, &format!("{key}-confirm")).await;
    settle(
        attempt,
        &db,
        &held,
        &pending,
        &stripe,
        charge,
        intent.client_secret,
    )
    .await
}

/// SETUP and SUBSCRIPTION keep the card at Stripe for later charges (SETUP through a
/// SetupIntent); a PAYMENT keeps nothing. Answers the saved token, if any.
async fn kept_card(
    stripe: &Stripe,
    mode: CheckoutMode,
    email: &str,
    method: &str,
    key: &str,
) -> Result<Option<String>, Charge> {
    match mode {
        CheckoutMode::Setup => stripe.set_up(email, method, key).await.map(Some),
        CheckoutMode::Subscription => stripe.keep_card(email, method, key).await.map(Some),
        CheckoutMode::Payment => Ok(None),
    }
}

/// What a PaymentIntent's outcome makes of the payment.
async fn settle(
    attempt: &Attempt<'_>,
    db: &D1Database,
    held: &Reservation<'_>,
    pending: &Pending,
    stripe: &Stripe,
    charge: Charge,
    client_secret: Option<String>,
) -> Outcome {
    match charge {
        Charge::Succeeded { token } => {
            let card = CardFacts {
                token,
                ..pending.card.clone()
            };
            complete_payment(attempt, db, held, &pending.shopper, &card).await
        }
        Charge::Declined(code) => {
            // A declined PaymentIntent could still be confirmed with another card by whoever
            // holds its client secret: the reservation goes back only once it is canceled
            // (else the cron settles it).
            if !stripe.cancel(&pending.card.token).await {
                return attempt.again(503, Text::ProcessingError);
            }
            declined(attempt, db, held, code, None).await
        }
        Charge::ChallengeRequired { .. } => match client_secret {
            Some(secret) => Outcome::StripeChallenge(secret),
            None => match stripe
                .intent(&pending.card.token)
                .await
                .and_then(|i| i.client_secret)
            {
                Some(secret) => Outcome::StripeChallenge(secret),
                None => hold(attempt, db, held, pending).await,
            },
        },
        // Not known: an intent that is canceled cannot charge any more, and its
        // reservation goes back; one that cannot be canceled stays the session's, for
        // Stripe's webhook or the next read to settle.
        Charge::Unavailable => {
            if stripe.cancel(&pending.card.token).await {
                let _ = completion::release(db, held, None).await;
                Outcome::TryLater
            } else {
                attempt.again(503, Text::ProcessingError)
            }
        }
    }
}

/// `POST /c/{id}/challenge` on the Stripe path: Stripe.js showed the bank's check; the
/// PaymentIntent says how it went. `None` when it failed (the caller shows the form again
/// with the decline, and gives the reservation back).
pub(super) async fn after_challenge(
    attempt: &Attempt<'_>,
    db: &D1Database,
    held: &Reservation<'_>,
    pending: &Pending,
) -> Option<Outcome> {
    let Some(stripe) = stripe_of(attempt, db).await else {
        return Some(Outcome::TryLater);
    };
    match stripe.intent_charge(&pending.card.token).await {
        Charge::Declined(_) => {
            stripe.cancel(&pending.card.token).await;
            None
        }
        Charge::Unavailable => Some(attempt.again(503, Text::ProcessingError)),
        charge => Some(settle(attempt, db, held, pending, &stripe, charge, None).await),
    }
}

/// The cron's part: sessions whose Stripe payment was left mid-way (the shopper gone
/// during 3-D Secure, an answer lost) longer than `cutoff`, at most `limit`. Each
/// PaymentIntent is read: one that charged completes its session; one that failed, or that
/// Stripe cancels now, gives its reservation back; one Stripe is still working on, or that
/// cannot be read, waits for the next run (or Stripe's webhook).
pub async fn settle_abandoned(
    env: &worker::Env,
    db: &D1Database,
    cutoff: i64,
    limit: i64,
) -> crate::error::ApiResult<usize> {
    let rows: Vec<crate::checkout::sessions::SessionRow> = crate::db::Sql::new(
        "SELECT * FROM checkout_sessions
         WHERE status = 'OPEN' AND reservation IS NOT NULL AND reserved_at < :cutoff
           AND json_extract(pending_payment, '$.processor') = 'stripe'
           AND coalesce(json_extract(pending_payment, '$.charged'), 0) = 0
         ORDER BY reserved_at LIMIT :limit",
    )
    .bind("cutoff", cutoff)
    .bind("limit", limit)
    .prepare(db)?
    .all()
    .await?
    .results()?;
    let mut settled = 0;
    for row in rows {
        match settle_one(env, db, row).await {
            Ok(true) => settled += 1,
            Ok(false) => {}
            // One row that cannot be settled never stops the others'.
            Err(error) => worker::console_error!("cron: an abandoned Stripe payment: {error:?}"),
        }
    }
    Ok(settled)
}

/// One abandoned Stripe payment settled; `false` when it is left for later.
async fn settle_one(
    env: &worker::Env,
    db: &D1Database,
    row: crate::checkout::sessions::SessionRow,
) -> crate::error::ApiResult<bool> {
    let session = row.parse()?;
    let Some(pending) = Pending::of(&session) else {
        return Ok(false);
    };
    let held = Reservation {
        session: &session,
        token: &pending.reservation,
    };
    let Some(connection) =
        processor::connection(env, db, &session.account_id, session.environment.as_str()).await?
    else {
        look_later(db, &held).await?;
        return Ok(false);
    };
    let stripe = connection.stripe;
    let origin = session.origin.clone().unwrap_or_default();
    let Some(intent) = stripe.intent(&pending.card.token).await else {
        look_later(db, &held).await?;
        return Ok(false);
    };
    match intent.status {
        // A charge of another amount is not this session's to complete.
        IntentStatus::Succeeded
            if intent.amount != session.amounts.total
                || intent.currency != session.currency.code() =>
        {
            worker::console_error!(
                "checkout {}: PaymentIntent {} charged another amount; left for a person",
                session.id.as_str(),
                intent.id
            );
            look_later(db, &held).await?;
            return Ok(false);
        }
        IntentStatus::Succeeded => {
            completion::complete(db, &held, &pending.shopper, &pending.card, &origin).await?;
        }
        IntentStatus::Failed(_) => {
            stripe.cancel(&intent.id).await;
            completion::release(db, &held, None).await?;
        }
        IntentStatus::Canceled => completion::release(db, &held, None).await?,
        IntentStatus::RequiresAction | IntentStatus::RequiresConfirmation => {
            if !stripe.cancel(&intent.id).await {
                look_later(db, &held).await?;
                return Ok(false);
            }
            completion::release(db, &held, None).await?;
        }
        IntentStatus::Processing => {
            look_later(db, &held).await?;
            return Ok(false);
        }
    }
    Ok(true)
}

/// A payment the cron could not settle this time goes to the back of the queue: its
/// reservation's age starts again, so it is looked at once more after the same wait, and
/// one account's unsettled payments never hold up the others'.
async fn look_later(db: &D1Database, held: &Reservation<'_>) -> crate::error::ApiResult<()> {
    crate::db::Sql::new(
        "UPDATE checkout_sessions SET reserved_at = :now WHERE id = :id AND reservation = :token",
    )
    .bind("now", db::now_unix())
    .bind("id", held.session.id.as_str())
    .bind("token", held.token)
    .prepare(db)?
    .run()
    .await?;
    Ok(())
}
