//! How often promotion codes may be tried on the hosted page: each code typed on
//! `/c/{id}/promotion` is one attempt, counted against the session and against the
//! client's address over a sliding hour (`till_shared::promotion::CodeAttempts`). The
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

/// Counts one attempt for `session` from `client`, unless either has used its allowance.
pub async fn count(db: &D1Database, session: &str, client: &str) -> ApiResult<Attempted> {
    let now = db::now_unix();
    let counted = Sql::new(
        "INSERT INTO promotion_code_attempts (session_id, client, at)
         SELECT :session, :client, :now
         WHERE (SELECT count(*) FROM promotion_code_attempts WHERE session_id = :session AND at > :since)
                   < :per_session
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
