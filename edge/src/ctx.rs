//! The Worker's environment, as every layer above sees it: the bindings (D1, KV,
//! variables and secrets), the clock, and work left to run after the response. Imports
//! nothing of the crate.

use worker::{Context, D1Database, Env, kv::KvStore};

/// What every handler gets besides the request.
pub struct Ctx {
    pub env: Env,
    /// For work after the response (`wait_until`): counting views, caching links.
    pub ctx: Context,
}

impl Ctx {
    /// The system of record.
    pub fn db(&self) -> worker::Result<D1Database> {
        database(&self.env)
    }

    /// The read cache of the short-link hot path. Nothing that takes money trusts it.
    pub fn cache(&self) -> worker::Result<KvStore> {
        self.env.kv("CACHE")
    }

    /// The Worker's `OPERATOR_TOKEN` (a secret, or a variable locally); empty when unset.
    pub fn operator_token(&self) -> String {
        self.env
            .secret("OPERATOR_TOKEN")
            .map(|s| s.to_string())
            .or_else(|_| self.env.var("OPERATOR_TOKEN").map(|v| v.to_string()))
            .unwrap_or_default()
    }

    /// Runs `work` after the response is sent (`wait_until`).
    pub fn spawn(&self, work: impl std::future::Future<Output = ()> + 'static) {
        self.ctx.wait_until(work);
    }
}

/// Where a webhook endpoint of an environment may point: loopback too only for SANDBOX
/// and only when the instance's `WEBHOOK_LOOPBACK` variable is `allowed`, which
/// `cargo xtask dev` and the test harness set for a local instance (never `wrangler.toml`,
/// so never a deployment). `only` (the fuzz tier's) also keeps every delivery, of either
/// environment, on the machine.
pub fn webhook_reach(env: &Env, sandbox: bool) -> till_shared::webhooks::Reach {
    use till_shared::webhooks::Reach;
    match env
        .var("WEBHOOK_LOOPBACK")
        .map(|v| v.to_string())
        .as_deref()
    {
        Ok("only") => Reach::LoopbackOnly,
        Ok("allowed") if sandbox => Reach::Loopback,
        _ => Reach::Public,
    }
}

/// The system of record, from the environment alone (the cron trigger has no request).
pub fn database(env: &Env) -> worker::Result<D1Database> {
    env.d1("DB")
}

/// Milliseconds since the Unix epoch, from the platform clock.
pub fn now_millis() -> u64 {
    worker::Date::now().as_millis()
}

/// Seconds since the Unix epoch; what rows store.
pub fn now_unix() -> i64 {
    i64::try_from(now_millis() / 1000).unwrap_or(i64::MAX)
}
