//! A payment link's views by day and `utm_source`: the first step of its funnel. Each
//! human visit adds one, in the statement that counts it on the link.

use worker::{D1Database, D1PreparedStatement, Result};

use crate::statement::{integer, prepare, text};

/// Sources a link keeps a day; views from further ones count under [`OTHER`].
const SOURCES_PER_DAY: i64 = 50;
/// Where views of a day's sources past [`SOURCES_PER_DAY`] are counted.
pub const OTHER: &str = "~other";

/// Adds `views` to today's row of `link_id` and `utm_source` (see
/// [`till_shared::visit::source_of`]). With `session`, only once that checkout session is
/// stored (the statement follows its INSERT in a batch).
pub fn count(
    db: &D1Database,
    link_id: &str,
    utm_source: Option<&str>,
    views: i64,
    session: Option<&str>,
    now: i64,
) -> Result<D1PreparedStatement> {
    let guard = if session.is_some() {
        "EXISTS (SELECT 1 FROM checkout_sessions WHERE id = :session)"
    } else {
        ":session IS NULL"
    };
    prepare(
        db,
        &format!(
            "INSERT INTO link_view_days (payment_link_id, day, source, views)
             SELECT :link, date(:now, 'unixepoch'),
                    CASE WHEN :source = ''
                           OR EXISTS (SELECT 1 FROM link_view_days
                                      WHERE payment_link_id = :link AND day = date(:now, 'unixepoch') AND source = :source)
                           OR (SELECT count(*) FROM link_view_days
                               WHERE payment_link_id = :link AND day = date(:now, 'unixepoch')) < :cap
                         THEN :source ELSE :other END,
                    :views
             WHERE :views > 0 AND {guard}
             ON CONFLICT (payment_link_id, day, source) DO UPDATE SET views = views + excluded.views"
        ),
        &[
            ("link", text(Some(link_id))),
            ("now", integer(now)),
            ("source", text(Some(&till_shared::visit::source_of(utm_source)))),
            ("cap", integer(SOURCES_PER_DAY)),
            ("other", text(Some(OTHER))),
            ("views", integer(views)),
            ("session", text(session)),
        ],
    )
}

/// Counts one human visit on the link and its day, off the response path.
pub fn count_visit(
    env: &worker::Env,
    ctx: &worker::Context,
    link_id: &str,
    utm_source: Option<&str>,
) {
    let Ok(db) = env.d1(crate::DB) else { return };
    let link = prepare(
        &db,
        "UPDATE payment_links SET view_count = view_count + 1 WHERE id = :id",
        &[("id", text(Some(link_id)))],
    );
    let day = count(&db, link_id, utm_source, 1, None, crate::now_unix());
    if let (Ok(link), Ok(day)) = (link, day) {
        ctx.wait_until(async move {
            let _ = db.batch(vec![link, day]).await;
        });
    }
}
