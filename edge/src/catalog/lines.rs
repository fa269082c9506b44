//! Lines of a cart priced from the caller's catalogue, the checks a set of lines must
//! pass to be sold together, and whether a promotion code applies to them. The rules are
//! `till_shared::pricing` and `till_shared::promotion`; this module reads the rows they
//! need and answers in the API's errors.

use till_shared::money::Money;
use till_shared::params::Params;
use till_shared::pricing::{PricingError, check_lines};
use till_shared::promotion::PromotionError;

use crate::api::call::Call;
use crate::catalog::{prices, promotion_codes};
use crate::db;
use crate::error::{ApiError, ApiResult};

pub use till_shared::pricing::LineItem;

/// Prices `line_items: [{price_id, quantity}]` from the caller's catalogue.
pub async fn price_lines(call: &Call<'_>, mut items: Vec<Params>) -> ApiResult<Vec<LineItem>> {
    if items.is_empty() {
        return Err(ApiError::invalid(
            "line_items",
            "At least one line item is needed.",
        ));
    }
    let mut lines = Vec::new();
    for item in &mut items {
        let price_param = item.name("price_id");
        let price_id = match item.string("price", 100)? {
            Some(price) => price,
            None => item.required_string("price_id", 100)?,
        };
        let quantity = item.integer("quantity", 1, 999)?.unwrap_or(1);
        let seller = call.principal()?.seller();
        let price = prices::sellable(call.ctx, seller, &price_id, &price_param).await?;
        lines.push(price.line(quantity, price.nickname.clone())?);
    }
    for item in items {
        item.finish()?;
    }
    check_lines(&lines).map_err(|error| lines_refused(&error))?;
    Ok(lines)
}

/// The API's answer to lines that cannot be sold together, naming the offending line.
pub fn lines_refused(error: &PricingError) -> ApiError {
    let param = match error.index() {
        Some(i) => format!("line_items[{i}].price_id"),
        None => "line_items".to_owned(),
    };
    let message = match error {
        PricingError::CurrencyMismatch { .. } => "All line items must share one currency.",
        PricingError::IntervalMismatch { .. } | PricingError::RecurringWithoutInterval { .. } => {
            "Recurring line items must share one billing interval."
        }
        PricingError::TooLarge | PricingError::Amount(_) => {
            "The total is larger than the maximum amount."
        }
        _ => return ApiError::internal(error),
    };
    ApiError::invalid(param, message)
}

/// Checks that a promotion code can apply to these lines now.
pub async fn check_promotion(
    call: &Call<'_>,
    code: &str,
    lines: &[LineItem],
    param: &str,
) -> ApiResult<promotion_codes::PromotionCodeRow> {
    let promotion = promotion_codes::load_by_code(call, code, param).await?;
    match promotion.discount_on(lines, db::now_unix())? {
        Ok(_) => Ok(promotion),
        Err(refused) => Err(promotion_refused(refused, param)),
    }
}

/// The API's answer to a promotion code that does not apply, naming `param` (or the lines,
/// when it is the cart that cannot be priced).
pub fn promotion_refused(error: PromotionError, param: &str) -> ApiError {
    // A code that is switched off, used up, expired or not for these items is a
    // well-formed request at odds with the code: 409.
    match error {
        PromotionError::Pricing(error) => ApiError::conflict("line_items", error.to_string()),
        PromotionError::Malformed => ApiError::internal("promotion code without a discount"),
        refused => ApiError::conflict(param, refused.to_string()),
    }
}

/// Subtotal of priced lines (`till_shared::pricing::subtotal`), refused as the API
/// refuses lines.
pub fn subtotal(lines: &[LineItem]) -> ApiResult<Money> {
    till_shared::pricing::subtotal(lines).map_err(|error| lines_refused(&error))
}
