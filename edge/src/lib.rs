//! Till's Worker. A thin adapter: parse the request, call `till-shared`, read and write D1
//! and KV, render the response. Every route is declared in [`router`].

mod accounts;
mod auth;
mod billing;
mod buy;
mod call;
mod checkout_page;
mod checkout_sessions;
mod completion;
mod customers;
mod error;
mod events;
mod health;
mod idempotency;
mod omise;
mod openapi;
mod pages;
mod payment_links;
mod payment_methods;
mod prices;
mod processor;
mod products;
mod promotion_codes;
mod reply;
mod router;
mod shortlinks;
mod store;
mod subscriptions;
mod sweeper;
mod test_clocks;
mod test_hooks;
mod webhooks;

use worker::worker_sys::web_sys;
use worker::{Context, Env, Response, Result, ScheduleContext, ScheduledEvent, event};

/// Takes the runtime's request as it is: `worker::Request` reads `request.cf` up front, a
/// tenth of a short link's time, so the router converts only where a handler needs it.
#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<Response> {
    router::handle(req, env, ctx).await
}

/// Every minute: expire due checkout sessions, release abandoned payment reservations,
/// bill due subscriptions, send due webhooks.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    sweeper::run(&env).await;
}
