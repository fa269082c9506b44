//! What an account sets per environment: its allowed redirect hosts (`till_shared::hosts`),
//! read by the checkout (a publishable key's redirects, which pages may frame the page)
//! and set by `PATCH /v1/account`.

use till_shared::branding::Branding;
use till_shared::embed::{Frame, FrameRequest};
use till_shared::hosts::{AllowedHosts, HostError, MAX_ALLOWED_HOSTS};
use till_shared::keys::Environment;
use till_shared::params::Params;
use worker::{D1Database, D1PreparedStatement};

use crate::ctx::Ctx;
use crate::db::{self, Seller, Sql};
use crate::error::{ApiError, ApiResult};

/// The request field, and the column.
pub const FIELD: &str = "allowed_redirect_hosts";

/// What a seller allows in its environment: its hosts, and (SANDBOX) plain http to a
/// loopback host among them.
#[derive(Clone)]
pub struct Allowed {
    pub hosts: AllowedHosts,
    pub sandbox: bool,
}

impl Allowed {
    pub fn new(hosts: AllowedHosts, environment: Environment) -> Allowed {
        Allowed {
            hosts,
            sandbox: environment == Environment::Sandbox,
        }
    }

    /// How one of the seller's pages may be framed, as `asked`.
    pub fn frame(&self, asked: &FrameRequest) -> Frame {
        asked.permit(&self.hosts, self.sandbox)
    }
}

/// [`allowed_hosts`] with the seller's environment.
pub async fn allowed(ctx: &Ctx, seller: Seller<'_>) -> ApiResult<Allowed> {
    Ok(Allowed::new(
        allowed_hosts(ctx, seller).await?,
        seller.environment,
    ))
}

/// The seller's allowed hosts; none when it never set any.
pub async fn allowed_hosts(ctx: &Ctx, seller: Seller<'_>) -> ApiResult<AllowedHosts> {
    Ok(
        till_links::visit::allowed_hosts(&db::db(ctx)?, seller.account_id, seller.environment)
            .await?,
    )
}

/// Writes the seller's allowed hosts (the whole list).
pub fn set_allowed_hosts(
    db: &D1Database,
    seller: Seller<'_>,
    hosts: &AllowedHosts,
) -> ApiResult<D1PreparedStatement> {
    Sql::new(
        "INSERT INTO environment_settings (account_id, environment, allowed_redirect_hosts)
         VALUES (:account_id, :environment, :hosts)
         ON CONFLICT (account_id, environment)
         DO UPDATE SET allowed_redirect_hosts = excluded.allowed_redirect_hosts",
    )
    .bind("account_id", seller.account_id)
    .bind("environment", seller.environment.as_str())
    .bind("hosts", hosts.to_stored())
    .prepare(db)
}

/// `allowed_redirect_hosts` of a PATCH: not sent, or the new list (`null` or `[]`
/// clears it). Each entry is a host alone; the error names the entry.
pub fn read_allowed_hosts(p: &mut Params) -> ApiResult<Option<AllowedHosts>> {
    let name = p.name(FIELD);
    let Some(entries) = p.patch(FIELD, |p, f| p.strings(f, MAX_ALLOWED_HOSTS))? else {
        return Ok(None);
    };
    AllowedHosts::parse(&entries.unwrap_or_default())
        .map(Some)
        .map_err(|(i, error)| match error {
            HostError::TooMany => ApiError::invalid(name, error.to_string()),
            _ => ApiError::invalid(format!("{name}[{i}]"), error.to_string()),
        })
}

/// `branding` of a PATCH: not sent, or all three fields as they are to be.
pub fn read_branding(p: &mut Params) -> ApiResult<Option<Branding>> {
    let Some(value) = p.raw("branding") else {
        return Ok(None);
    };
    Branding::read(&value)
        .map(Some)
        .map_err(|e| ApiError::invalid(e.0, e.1))
}

/// Writes the seller's branding (its environment's only).
pub fn set_branding(
    db: &D1Database,
    seller: Seller<'_>,
    branding: &Branding,
) -> ApiResult<D1PreparedStatement> {
    Sql::new(
        "INSERT INTO environment_settings (account_id, environment, brand_name, brand_logo_url, brand_color)
         VALUES (:account, :environment, :name, :logo, :color)
         ON CONFLICT (account_id, environment) DO UPDATE SET brand_name = excluded.brand_name,
             brand_logo_url = excluded.brand_logo_url, brand_color = excluded.brand_color",
    )
    .selling(seller)
    .bind("name", branding.display_name.as_deref())
    .bind("logo", branding.logo_url.as_deref())
    .bind("color", branding.accent_color.as_deref())
    .prepare(db)
}
