//! `GET /demo.json`: this instance's demo shop (its publishable key and the payment links
//! `www/index.html` puts buy buttons on), from the Worker variable `DEMO_SHOP`.
//! `cargo xtask dev` sets it from the instance's state directory, so instances side by side
//! each show their own shop and nothing in the served assets is written. Without the
//! variable the instance has no demo shop (404).

use till_shared::api::ErrorCode;

use crate::api::reply::Reply;
use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult};

pub fn shop(ctx: &Ctx) -> ApiResult<Reply> {
    let shop = ctx
        .env
        .var("DEMO_SHOP")
        .ok()
        .and_then(|text| serde_json::from_str(&text.to_string()).ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ResourceNotFound,
                "This instance has no demo shop.",
            )
        })?;
    Ok(Reply::ok(shop))
}
