//! Till's main Worker: the JSON API, the hosted checkout pages, billing and webhook
//! delivery, over D1 and KV. Short links are answered by the link host's Worker
//! (`till_links`, whose code this Worker links too, for the short links that reach it
//! directly and for the page shell of its own pages).
//!
//! The folders are layers; a module imports only from the layers below its own, an area
//! never calls another area's route handlers (checked by `tests/tests/layers.rs`):
//!
//! ```text
//! http/  jobs/        the entry points: the router (the only layer that takes in the
//!                     request; it hands handlers a Call, a PageRequest or a Visitor) and
//!                     the cron trigger's work
//! sales/ checkout/ billing/ links/ catalog/ accounts/ events/
//!                     the areas, each above the ones after it: handlers, use cases,
//!                     rows and statements of one part of the domain
//! api/                what a handler is given and answers: call, page request, reply,
//!                     lists
//! pages/ processor.rs db/
//!                     HTML for shoppers, card processors, statements and the event writer
//! ctx.rs error.rs     the Worker's environment and the one error type
//! ```
//!
//! Rules that need no I/O live in `till_shared`, below all of these.

mod accounts;
mod api;
mod billing;
mod catalog;
mod checkout;
mod ctx;
mod db;
mod error;
mod events;
mod http;
mod jobs;
mod links;
mod pages;
mod processor;
mod sales;

use worker::worker_sys::web_sys;
use worker::{Context, Env, Response, Result, ScheduleContext, ScheduledEvent, event};

/// Takes the runtime's request as it is: `worker::Request` reads `request.cf` up front, a
/// tenth of a short link's time, so the router converts only where a handler needs it.
#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<Response> {
    http::handle(req, env, ctx).await
}

/// Every minute: expire due checkout sessions, release abandoned payment reservations,
/// bill due subscriptions, send due webhooks.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    jobs::run(&env).await;
}
