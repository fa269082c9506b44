// The peer for `cargo xtask bench links`: the same short-link resolution as Till's Rust
// Worker, written as a plain JavaScript Worker. The link comes from this isolate's memory
// (10 s), else KV, else D1 (then cached); a human visit writes nothing and answers a 302
// to its checkout page with a signed ticket: HMAC-SHA256, keyed with a key derived from
// OPERATOR_TOKEN, over the session id and the hex of the visit's parameters.
const MEMORY_TTL_MS = 10_000;
const memory = new Map();
let keyPromise;

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const utf8 = (text) => new TextEncoder().encode(text);

async function hmac(keyBytes, message) {
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", key, utf8(message));
}

function ticketKey(env) {
  keyPromise ||= hmac(utf8(env.OPERATOR_TOKEN || "bench"), "till checkout ticket v1").then((raw) =>
    crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
  );
  return keyPromise;
}

function randomId(prefix) {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return prefix + Array.from(bytes, (b) => alphabet[b % 62]).join("");
}

async function snapshot(env, ctx, code) {
  const held = memory.get(code);
  if (held && held.until > Date.now()) return held.link;
  let link = await env.CACHE.get(`link:${code}`, "json");
  if (!link) {
    link = await env.DB.prepare("SELECT * FROM payment_links WHERE url_id = ?1").bind(code).first();
    if (!link) return null;
    ctx.waitUntil(env.CACHE.put(`link:${code}`, JSON.stringify(link), { expirationTtl: 60 }));
  }
  memory.set(code, { link, until: Date.now() + MEMORY_TTL_MS });
  return link;
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const code = url.pathname.slice(1);
    if (!/^[0-9A-Za-z]{15}$/.test(code)) return new Response("not found", { status: 404 });
    const link = await snapshot(env, ctx, code);
    if (!link) return new Response("not found", { status: 404 });
    if (!link.active || link.deleted) return new Response("gone", { status: 410 });
    const id = randomId("cs_");
    const params = new URLSearchParams([["l", link.id], ["a", String(Math.floor(Date.now() / 1000))]]);
    for (const [name, value] of url.searchParams) {
      if (/^(prefilled_email|prefilled_name|client_reference_id|locale|utm_\w+)$/.test(name)) params.append(name, value);
    }
    const payload = hex(utf8(params.toString()));
    const signature = hex(await crypto.subtle.sign("HMAC", await ticketKey(env), utf8(`${id}.${payload}`)));
    return new Response(null, {
      status: 302,
      headers: {
        Location: `${url.origin}/c/${id}?t=${payload}.${signature}`,
        "X-Robots-Tag": "noindex",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
      },
    });
  },
};
