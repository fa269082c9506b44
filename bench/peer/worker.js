// The peer for `cargo xtask bench links`: the same short-link resolution as Till's Rust
// Worker (KV snapshot first, D1 on a miss; a checkout session written only while D1 says
// the link is payable, counted in the same batch; the view counted off the response path;
// 302), written as a plain JavaScript Worker.
const PAYABLE = `SELECT 1 FROM payment_links WHERE id = ?2 AND active = 1 AND deleted = 0
  AND (max_completions IS NULL OR completed_count + reserved_count < max_completions)
  AND (multiple = 1 OR completed_count + reserved_count = 0)`;

function randomId(prefix) {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return prefix + Array.from(bytes, (b) => alphabet[b % 62]).join("");
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const code = url.pathname.slice(1);
    if (!/^[0-9A-Za-z]{15}$/.test(code)) return new Response("not found", { status: 404 });
    let link = await env.CACHE.get(`link:${code}`, "json");
    if (!link) {
      link = await env.DB.prepare("SELECT * FROM payment_links WHERE url_id = ?1").bind(code).first();
      if (!link) return new Response("not found", { status: 404 });
      ctx.waitUntil(env.CACHE.put(`link:${code}`, JSON.stringify(link), { expirationTtl: 60 }));
    }
    if (!link.active || link.deleted) return new Response("gone", { status: 410 });
    const id = randomId("cs_");
    const now = Math.floor(Date.now() / 1000);
    const [inserted] = await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO checkout_sessions (id, account_id, environment, mode, line_items, currency, amount_subtotal,
           amount_discount, amount_total, expires_at, created_at, payment_link_id, csrf_token)
         SELECT ?1, ?3, ?4, 'PAYMENT', ?5, ?6, ?7, 0, ?7, ?8, ?9, ?2, ?10 WHERE EXISTS (${PAYABLE})`,
      ).bind(id, link.id, link.account_id, link.environment, link.line_items, link.currency, link.amount, now + 86400, now, randomId("")),
      env.DB.prepare(
        "UPDATE payment_links SET session_count = session_count + 1 WHERE id = ?1 AND EXISTS (SELECT 1 FROM checkout_sessions WHERE id = ?2)",
      ).bind(link.id, id),
    ]);
    ctx.waitUntil(env.DB.prepare("UPDATE payment_links SET view_count = view_count + 1 WHERE id = ?1").bind(link.id).run());
    if (inserted.meta.changes !== 1) return new Response("gone", { status: 410 });
    return new Response(null, {
      status: 302,
      headers: { Location: `${url.origin}/c/${id}`, "X-Robots-Tag": "noindex", "Cache-Control": "no-store" },
    });
  },
};
