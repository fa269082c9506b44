//! The link host's Worker: short links answered here, everything else handed to the main
//! Worker (service binding `TILL`) as it came, on the same URL. A visit this Worker does
//! not answer alone goes on too: one inside the checkout overlay (`embedded`, `origin`:
//! see [`Unframed`]), one with no operator token to sign a ticket with (the main Worker
//! opens the session itself) and one whose storage read failed (the main Worker answers
//! in the API's error shape).

use till_shared::routes::path_of;
use worker::worker_sys::web_sys;
use worker::{Context, Env, Request, Response, Result, event};

use crate::visit::{self, Unframed, Visit, Visitor};

/// The main Worker, as the link host's `wrangler.toml` binds it.
const MAIN: &str = "TILL";

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<Response> {
    let method = req.method();
    if matches!(method.as_str(), "GET" | "HEAD")
        && let Some(code) = visit::short_code(path_of(&req.url()))
    {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let visitor = Visitor {
            head: method == "HEAD",
            preview: till_shared::visit::is_preview(&method, header),
            accept_language: header("Accept-Language"),
            url: req.url(),
        };
        let query = visit::query(&visitor);
        if !visit::asks_for_frame(&query)
            && let Ok(Visit::Answered(response)) =
                visit::visit::<Unframed>(visitor, query, &env, &ctx, code).await
        {
            return Ok(response);
        }
    }
    env.service(MAIN)?.fetch_request(Request::from(req)).await
}
