//! How often promotion codes may be tried: each code typed on the hosted page's
//! `/c/{id}/promotion` is one attempt, counted against the session and against the
//! client's address over a sliding hour, and so is each code a publishable key asks a new
//! session for (against the address) (`till_shared::promotion::CodeAttempts`). The
//! attempt is written only while both are under their limit, by one conditional INSERT, so
//! a burst of parallel requests gets exactly the allowance and no more.

use till_shared::promotion::CODE_ATTEMPTS;
use worker::D1Database;

use crate::db::{self, Sql};
use crate::error::ApiResult;

/// Whether an attempt may go on.
pub enum Attempted {
    /// Counted: check the code.
    Counted,
    /// The session or the address used its allowance for this hour: the code is not even
    /// looked up.
    TooMany,
}

/// The key an address is counted under (`CF-Connecting-IP`; `unknown` when run without
/// Cloudflare in front, as in local development).
pub fn client_key(address: Option<&str>) -> String {
    format!("ip:{}", address.unwrap_or("unknown"))
}

/// Counts one attempt for `session` from `client`, unless either has used its allowance.
pub async fn count(db: &D1Database, session: &str, client: &str) -> ApiResult<Attempted> {
    count_in(db, Some(session), client).await
}

/// Counts one attempt from `client` with no session yet (a publishable key asking for a
/// session with a code), unless the address has used its allowance.
pub async fn count_unopened(db: &D1Database, client: &str) -> ApiResult<Attempted> {
    count_in(db, None, client).await
}

async fn count_in(db: &D1Database, session: Option<&str>, client: &str) -> ApiResult<Attempted> {
    let now = db::now_unix();
    let counted = Sql::new(
        "INSERT INTO promotion_code_attempts (session_id, client, at)
         SELECT coalesce(:session, ''), :client, :now
         WHERE (:session IS NULL
                OR (SELECT count(*) FROM promotion_code_attempts WHERE session_id = :session AND at > :since)
                   < :per_session)
           AND (SELECT count(*) FROM promotion_code_attempts WHERE client = :client AND at > :since)
                   < :per_address",
    )
    .bind("session", session)
    .bind("client", client)
    .bind("now", now)
    .bind("since", now - CODE_ATTEMPTS.window_secs)
    .bind("per_session", CODE_ATTEMPTS.per_session)
    .bind("per_address", CODE_ATTEMPTS.per_address)
    .prepare(db)?;
    Ok(match db::run(counted).await? {
        1 => Attempted::Counted,
        _ => Attempted::TooMany,
    })
}

/// Forgets attempts older than the window (the cron's housekeeping).
pub async fn forget_old(db: &D1Database, now: i64) -> ApiResult<()> {
    Sql::new("DELETE FROM promotion_code_attempts WHERE at <= :before")
        .bind("before", now - CODE_ATTEMPTS.window_secs)
        .prepare(db)?
        .run()
        .await?;
    Ok(())
}
