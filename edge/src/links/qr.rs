//! `GET /v1/payment_links/{id}/qr.svg`: the link's URL as a QR code, an SVG that prints and
//! scales without loss. The `qrcode` crate encodes; the drawing (one path, a run of dark
//! modules per segment, a four-module quiet zone) is Till's.

use qrcode::{Color, EcLevel, QrCode};

use crate::api::call::Call;
use crate::api::reply::Reply;
use crate::error::{ApiError, ApiResult};
use crate::links::payment_links;

const QUIET: usize = 4;

pub async fn svg(call: &mut Call<'_>) -> ApiResult<Reply> {
    let link = payment_links::load(call, call.id()?).await?;
    let url = link.url(&call.link_base());
    let drawing =
        draw(&url).ok_or_else(|| ApiError::internal("a link URL too long for a QR code"))?;
    Ok(Reply::text("image/svg+xml", drawing))
}

/// `text` as an SVG QR code (error correction M), or `None` when it does not fit.
pub fn draw(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET;
    let mut path = String::with_capacity(width * width);
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] == Color::Dark {
                let start = x;
                while x < width && row[x] == Color::Dark {
                    x += 1;
                }
                path.push_str(&format!(
                    "M{} {}h{}v1h-{}z",
                    start + QUIET,
                    y + QUIET,
                    x - start,
                    x - start
                ));
            } else {
                x += 1;
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\" role=\"img\">\
         <title>{}</title><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>",
        crate::pages::escape(text)
    ))
}
