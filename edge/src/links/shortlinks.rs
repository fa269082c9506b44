//! Short links that reach this Worker itself (the link host's Worker answers most of them:
//! `till_links`, whose code this is), and the link snapshot in KV, kept fresh: every change
//! of a link or its product writes the link as D1 then has it.

use till_shared::ids::ShortCode;
use till_shared::ticket::Signer;

use crate::ctx::Ctx;

use till_links::visit::Framed;
pub use till_links::visit::{Unsigned, Visit, Visitor, redirect, short_code};
pub use till_shared::links::LinkRow;

/// What checkout tickets are signed with; `None` when the Worker has no operator token
/// (then a visit creates its session itself, as a plain write).
pub fn signer(ctx: &Ctx) -> Option<Signer> {
    till_links::visit::signer(&ctx.env)
}

/// `GET|HEAD /{code}`, in any frame the link's merchant allows.
pub async fn visit(visitor: Visitor, ctx: &Ctx, code: ShortCode) -> worker::Result<Visit> {
    let query = till_links::visit::query(&visitor);
    till_links::visit::visit::<Framed>(visitor, query, &ctx.env, &ctx.ctx, code).await
}

/// After a change to the link behind `code`: KV gets it as D1 has it now (which is
/// answered).
pub async fn refresh(ctx: &Ctx, code: &str) -> Option<LinkRow> {
    till_links::snapshot::refresh(&ctx.env, code).await
}
