//! Every route of the Worker, in one place. Static assets (the demo shop, docs, the widget
//! files) are served by the platform before the Worker runs; what reaches here is the API.

use till_shared::api::ErrorCode;
use worker::{Context, Env, Method, Request, Response, Result};

use crate::error::{ApiError, ApiResult};
use crate::{accounts, auth, health};

/// What every handler gets besides the request.
pub struct Ctx {
    pub env: Env,
    #[allow(dead_code)] // used by the off-path work of later routes (counting, delivery)
    pub ctx: Context,
}

pub async fn handle(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let ctx = Ctx { env, ctx };
    let response = match route(req, &ctx).await {
        Ok(response) => Ok(response),
        Err(error) => error.into_response(),
    }?;
    Ok(response)
}

async fn route(req: Request, ctx: &Ctx) -> ApiResult<Response> {
    let method = req.method();
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (Method::Get, ["healthz"]) => health::check(ctx).await,
        (Method::Post, ["v1", "accounts"]) => accounts::create(req, ctx).await,
        (Method::Get, ["v1", "account"]) => {
            let principal = auth::authenticate(&req, ctx).await?;
            accounts::current(principal)
        }
        _ => Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("Unrecognized request URL ({method} {path})."),
        )),
    }
}
