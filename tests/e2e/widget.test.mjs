// The embeddable buy button in real Chromium, on a merchant page served from another origin
// (another port) with hostile CSS: every embed form, the overlay, the events the page gets,
// dark theme, keyboard only, a phone-sized screen, and the fallback when a CSP blocks it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { api, base, launch, merchant, paymentLink, screenshot } from "./support.mjs";

let browser;
let key;
let publishable;
let shop; // the merchant's origin
const pages = new Map(); // path → { html, csp }
let server;

before(async () => {
  browser = await launch();
  const account = await api("/v1/accounts", { method: "POST", body: { name: "Widget shop" } });
  key = account.keys.test.secret_key;
  publishable = account.keys.test.publishable_key;
  server = createServer((req, res) => {
    const page = pages.get(req.url.split("?")[0]);
    if (!page) return res.writeHead(404).end("not found");
    res.writeHead(200, {
      "Content-Type": "text/html; charset=utf-8",
      ...(page.csp ? { "Content-Security-Policy": page.csp } : {}),
    });
    res.end(page.html);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  shop = `http://127.0.0.1:${server.address().port}`;
  assert.notEqual(new URL(shop).origin, new URL(base).origin, "the shop is another origin");
  // The shop is the merchant's own site: its checkout may be embedded there.
  await api("/v1/account", { method: "PATCH", key, body: { allowed_redirect_hosts: [new URL(shop).host] } });
});
after(async () => {
  await browser?.close();
  server?.close();
});

// CSS a careless theme might carry: it must not reach the button or the overlay.
const HOSTILE = `<style>
  * { font-family: "Comic Sans MS", cursive !important; letter-spacing: 3px; }
  button, [role=button] { background: hotpink !important; color: lime !important; font-size: 34px !important; padding: 0 !important; }
  dialog { display: none !important; }
  iframe { width: 10px !important; height: 10px !important; border: 9px solid red !important; }
  div, span { display: inline !important; }
</style>`;

/** Serves a merchant page whose body is `body`; its `till:*` events reach `events`. */
function merchantPage(name, body, { csp, stay = true } = {}) {
  const path = `/${name}.html`;
  pages.set(path, {
    csp,
    html: `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${name}</title>${HOSTILE}</head><body><h1>Field notes</h1><p><a href="#top">Top</a></p>${body}
<script>
  for (const type of ["success", "error", "close"]) {
    window.addEventListener("till:" + type, (event) => {
      window.recordTill?.({ type, where: "window", detail: event.detail });
      ${stay ? "event.preventDefault();" : ""}
    });
    document.addEventListener("DOMContentLoaded", () =>
      document.querySelectorAll("till-buy-button, a.till-button").forEach((element) =>
        element.addEventListener("till:" + type, (event) => window.recordTill?.({ type, where: element.localName, detail: event.detail }))));
  }
</script></body></html>`,
  });
  return shop + path;
}

/** A fresh page that reports its `till:*` events to the returned array. */
async function open(url, { viewport, hold, block, prepare } = {}) {
  const context = await browser.newContext(viewport ? { viewport, isMobile: true, hasTouch: true } : {});
  const page = await context.newPage();
  await prepare?.(page);
  const events = [];
  await page.exposeFunction("recordTill", (event) => events.push(event));
  const warnings = [];
  page.on("console", (message) => message.type() === "warning" && warnings.push(message.text()));
  let release;
  if (hold) {
    // Holds the WebAssembly until `release()`: what a shopper sees before it arrives.
    const held = new Promise((resolve) => (release = resolve));
    await page.route("**/pkg/till_widget_bg.wasm", async (route) => {
      await held;
      await route.continue();
    });
  }
  // An ad blocker or a proxy that refuses the widget's files.
  if (block) await page.route("**/pkg/**", (route) => route.abort("blockedbyclient"));
  let wasm = 0;
  page.on("requestfinished", (request) => request.url().endsWith(".wasm") && wasm++);
  await page.goto(url);
  return { context, page, events, warnings, release, wasmLoaded: () => wasm };
}

const overlayFrame = (page) => page.frameLocator("till-overlay iframe");

/** Waits for the checkout in the overlay, pays with the test card, waits for success. */
async function payInOverlay(page, events, { email = "shopper@example.com" } = {}) {
  const frame = overlayFrame(page);
  await frame.locator("#cc").waitFor();
  if (!(await frame.locator("#email").inputValue())) await frame.locator("#email").fill(email);
  await frame.locator("#cc").fill("4242 4242 4242 4242");
  await frame.locator("#exp").fill("12 / 34");
  await frame.locator("#cvc").fill("123");
  await frame.locator("#pay").click();
  // The element's and the window's events reach the test one by one: wait for the window's.
  const success = await waitFor(() => events.find((e) => e.type === "success" && e.where === "window"), "till:success on window");
  return success.detail.session_id;
}

async function waitFor(check, what = "condition", ms = 20000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function session(id) {
  return api(`/v1/checkout/sessions/${id}`, { key });
}

const style = (locator, property) => locator.evaluate((el, p) => getComputedStyle(el)[p], property);

test("script tag: the button paints before the wasm, opens the overlay, and till:success carries the session", async () => {
  const link = await paymentLink(key);
  const code = link.url.split("/").pop();
  const url = merchantPage(
    "script-tag",
    `<script src="${base}/till.js" data-link="${code}" data-text="Buy the ebook" data-email="mei@example.com" data-client-reference-id="order-42"></script>`,
    { stay: false },
  );
  const { context, page, events, release, wasmLoaded } = await open(url, { hold: true });
  const button = page.locator("till-buy-button").getByRole("button", { name: "Buy the ebook" });
  await button.waitFor();
  // Painted by the loader alone: the WebAssembly has not arrived.
  assert.equal(wasmLoaded(), 0, "no WebAssembly yet");
  assert.equal(await style(button, "backgroundColor"), "rgb(79, 70, 229)", "the page's CSS does not reach it");
  assert.equal(await style(button, "fontSize"), "16px");
  const before = await button.boundingBox();
  await screenshot(page, "widget-script-tag-before-wasm");
  await button.click(); // a click before the wasm is there waits for it
  release();
  await overlayFrame(page).locator("#cc").waitFor();
  const after = await page.locator("till-buy-button").getByRole("button").boundingBox();
  assert.deepEqual(after, before, "the handover does not move the button");
  const dialog = page.locator("till-overlay dialog");
  assert.equal(await style(dialog, "display"), "block", "the page's CSS does not hide the overlay");
  assert.equal(await overlayFrame(page).locator("#email").inputValue(), "mei@example.com", "prefilled");
  await screenshot(page, "widget-script-tag-overlay");
  const sessionId = await payInOverlay(page, events);
  // Not prevented: the page goes to the link's success URL with the session id.
  await page.waitForURL(`${base}/?session_id=${sessionId}`);
  await waitFor(() => events.some((e) => e.type === "success" && e.where === "till-buy-button" && e.detail.session_id === sessionId), "till:success on the element");
  const paid = await session(sessionId);
  assert.equal(paid.status, "COMPLETE");
  assert.equal(paid.client_reference_id, "order-42");
  assert.equal(paid.customer_email, "mei@example.com");
  await context.close();
});

test("custom element in dark theme: dark button, dark checkout page, payment completes", async () => {
  const link = await paymentLink(key);
  const code = link.url.split("/").pop();
  const url = merchantPage(
    "custom-element-dark",
    `<script src="${base}/till.js"></script><till-buy-button link="${code}" theme="dark" text="Buy"></till-buy-button>`,
  );
  const { context, page, events } = await open(url);
  const button = page.locator("till-buy-button").getByRole("button", { name: "Buy" });
  assert.equal(await style(button, "backgroundColor"), "rgb(165, 180, 252)");
  await button.click();
  const frame = overlayFrame(page);
  await frame.locator("html[data-theme=dark]").waitFor();
  assert.equal(await frame.locator("body").evaluate((b) => getComputedStyle(b).backgroundColor), "rgb(11, 17, 32)");
  await screenshot(page, "widget-custom-element-dark");
  const sessionId = await payInOverlay(page, events);
  assert.equal((await session(sessionId)).status, "COMPLETE");
  await frame.getByText("Payment complete").or(frame.locator(".card.center")).first().waitFor();
  assert.equal(new URL(page.url()).origin, shop, "prevented: the shopper stays on the shop");
  await page.locator("till-overlay .x").click();
  await waitFor(() => events.find((e) => e.type === "close"), "till:close");
  assert.equal(events.find((e) => e.type === "close").detail.session_id, sessionId);
  assert.equal(await page.locator("till-overlay").count(), 0);
  await context.close();
});

test("an upgraded link opens in the overlay; a modified click still opens the page", async () => {
  const link = await paymentLink(key);
  const url = merchantPage("anchor", `<script src="${base}/till.js"></script><p><a class="till-button" href="${link.url}">Buy the print edition</a></p>`);
  const { context, page, events } = await open(url);
  const anchor = page.getByRole("link", { name: "Buy the print edition" });
  const [tab] = await Promise.all([context.waitForEvent("page"), anchor.click({ modifiers: ["Control"] })]);
  await tab.waitForURL(/\/c\/cs_/);
  assert.equal(await page.locator("till-overlay").count(), 0, "a modified click is a plain link");
  await tab.close();
  await anchor.click();
  await overlayFrame(page).locator("#cc").waitFor();
  assert.match(page.url(), /anchor\.html$/, "the page did not navigate");
  await screenshot(page, "widget-anchor-overlay");
  const sessionId = await payInOverlay(page, events);
  await waitFor(() => events.some((e) => e.type === "success" && e.where === "a"), "till:success on the link");
  assert.equal((await session(sessionId)).status, "COMPLETE");
  await context.close();
});

test("a floating button on a 360 px phone screen: overlay fits, payment completes", async () => {
  const link = await paymentLink(key);
  const code = link.url.split("/").pop();
  const url = merchantPage(
    "floating",
    `<div style="height:2000px">Long page</div><script src="${base}/till.js" data-link="${code}" data-float="right" data-margin="32px" data-text="Buy"></script>`,
  );
  const { context, page, events } = await open(url, { viewport: { width: 360, height: 740 } });
  const button = page.locator("till-buy-button").getByRole("button", { name: "Buy" });
  const box = await button.boundingBox();
  assert.ok(Math.abs(box.x + box.width - (360 - 32)) <= 1, `32px from the right edge: ${JSON.stringify(box)}`);
  assert.ok(Math.abs(box.y + box.height - (740 - 32)) <= 1, `32px from the bottom: ${JSON.stringify(box)}`);
  await button.tap();
  await overlayFrame(page).locator("#cc").waitFor();
  const dialog = await page.locator("till-overlay dialog").boundingBox();
  assert.ok(dialog.width <= 360 && dialog.width >= 340, `the overlay fits the screen: ${dialog.width}`);
  const pay = await overlayFrame(page).locator("#pay").boundingBox();
  assert.ok(pay.width >= 280 && pay.x >= 0 && pay.x + pay.width <= 360, `the pay button is usable: ${JSON.stringify(pay)}`);
  await screenshot(page, "widget-floating-phone");
  const sessionId = await payInOverlay(page, events);
  assert.equal((await session(sessionId)).status, "COMPLETE");
  await context.close();
});

test("by product with a publishable key", async () => {
  const product = await api("/v1/products", {
    method: "POST",
    key,
    body: { name: "Sticker pack", price: { amount: 150, currency: "TWD" } },
  });
  const url = merchantPage(
    "product",
    `<script src="${base}/till.js"></script><till-buy-button product="${product.id}" publishable-key="${publishable}" client-reference-id="cart-7"></till-buy-button>`,
  );
  const { context, page, events } = await open(url);
  await page.locator("till-buy-button").getByRole("button", { name: "Buy now" }).click();
  const sessionId = await payInOverlay(page, events);
  const paid = await session(sessionId);
  assert.equal(paid.status, "COMPLETE");
  assert.equal(paid.amount_total, 150);
  assert.equal(paid.client_reference_id, "cart-7");
  await context.close();
});

test("keyboard only: Tab to the button, Enter opens, Escape closes, then pay without a mouse", async () => {
  const link = await paymentLink(key);
  const code = link.url.split("/").pop();
  const url = merchantPage("keyboard", `<script src="${base}/till.js" data-link="${code}" data-text="Buy"></script>`);
  const { context, page, events } = await open(url);
  await page.keyboard.press("Tab"); // the page's own link
  await page.keyboard.press("Tab"); // the buy button
  const focused = () => page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.textContent ?? null);
  assert.equal(await focused(), "Buy");
  await page.keyboard.press("Enter");
  await overlayFrame(page).locator("#cc").waitFor();
  await page.keyboard.press("Escape");
  await waitFor(() => events.find((e) => e.type === "close"), "till:close");
  assert.equal(await page.locator("till-overlay").count(), 0);
  assert.equal(await focused(), "Buy", "focus returns to the button");

  await page.keyboard.press("Enter");
  const frame = overlayFrame(page);
  await frame.locator("#cc").waitFor();
  // The checkout has focus once it is ready; Tab walks its fields.
  await waitFor(() => frame.locator("#email").evaluate((el) => document.hasFocus()), "focus in the checkout");
  for (const [id, text] of [["#email", "key@example.com"], ["#name", "Kei"], ["#cc", "4242424242424242"], ["#exp", "1234"], ["#cvc", "123"]]) {
    for (let i = 0; i < 6 && !(await frame.locator(id).evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press("Tab");
    }
    assert.ok(await frame.locator(id).evaluate((el) => el === document.activeElement), `Tab reaches ${id}`);
    await page.keyboard.type(text);
  }
  await screenshot(page, "widget-keyboard");
  await page.keyboard.press("Enter"); // submits the form
  await waitFor(() => events.find((e) => e.type === "success"), "till:success");
  const sessionId = events.find((e) => e.type === "success").detail.session_id;
  assert.equal((await session(sessionId)).status, "COMPLETE");
  await context.close();
});

test("Till.open() from page script, and Escape is ignored while a payment is confirming", async () => {
  const link = await paymentLink(key);
  const url = merchantPage("api", `<script src="${base}/till.js"></script>`);
  const { context, page, events } = await open(url);
  await page.evaluate((link) => window.Till.open({ link, clientReferenceId: "api-1" }), link.url);
  const frame = overlayFrame(page);
  await frame.locator("#cc").waitFor();
  // Slow the payment down so Escape lands while it is confirming.
  await page.route("**/c/cs_*", async (route) => {
    if (route.request().method() === "POST") await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  await frame.locator("#email").fill("api@example.com");
  await frame.locator("#cc").fill("4242 4242 4242 4242");
  await frame.locator("#exp").fill("12 / 34");
  await frame.locator("#cvc").fill("123");
  await frame.locator("#pay").click();
  await page.waitForTimeout(300);
  await page.keyboard.press("Escape");
  await page.locator("till-overlay .x").click({ force: true });
  assert.equal(await page.locator("till-overlay").count(), 1, "still open while confirming");
  await waitFor(() => events.find((e) => e.type === "success"), "till:success");
  assert.ok(!events.some((e) => e.type === "close"));
  const sessionId = events.find((e) => e.type === "success").detail.session_id;
  const paid = await session(sessionId);
  assert.equal(paid.status, "COMPLETE");
  assert.equal(paid.client_reference_id, "api-1");
  await context.close();
});

test("a page whose CSP forbids the frame falls back to the checkout page, names the CSP lines, and the payment completes", async () => {
  const link = await paymentLink(key);
  const code = link.url.split("/").pop();
  const url = merchantPage("csp", `<script src="${base}/till.js" data-link="${code}" data-text="Buy"></script>`, {
    csp: `default-src 'self'; script-src 'unsafe-inline' ${base} 'wasm-unsafe-eval'; connect-src ${base}; frame-src 'none'; style-src 'unsafe-inline'`,
  });
  const { context, page, warnings } = await open(url);
  await page.locator("till-buy-button").getByRole("button", { name: "Buy" }).click();
  await page.waitForURL(/\/c\/cs_/);
  assert.ok(!page.url().includes("embedded=1"), "the plain hosted page");
  assert.ok(warnings.some((w) => w.includes(`frame-src ${new URL(base).origin}`)), `a CSP hint: ${warnings}`);
  await screenshot(page, "widget-csp-fallback");
  const sessionId = page.url().split("/c/")[1].split("?")[0];
  await page.locator("#email").fill("csp@example.com");
  await page.locator("#cc").fill("4242 4242 4242 4242");
  await page.locator("#exp").fill("12 / 34");
  await page.locator("#cvc").fill("123");
  await page.locator("#pay").click();
  await page.waitForURL(/session_id=/);
  assert.equal((await session(sessionId)).status, "COMPLETE");
  await context.close();
});

test("a page whose CSP forbids WebAssembly also falls back to the checkout page", async () => {
  const link = await paymentLink(key);
  const code = link.url.split("/").pop();
  const url = merchantPage("csp-wasm", `<script src="${base}/till.js" data-link="${code}" data-text="Buy"></script>`, {
    csp: `default-src 'self'; script-src 'unsafe-inline' ${base}; connect-src ${base}; frame-src ${base}; style-src 'unsafe-inline'`,
  });
  const { context, page, warnings } = await open(url);
  await page.locator("till-buy-button").getByRole("button", { name: "Buy" }).click();
  await page.waitForURL(/\/c\/cs_/);
  assert.ok(warnings.some((w) => w.includes("'wasm-unsafe-eval'")), `a CSP hint: ${warnings}`);
  await context.close();
});

test("options: locale, success URL override, Till.close(), redirect mode, and a blocked widget request", async () => {
  const link = await paymentLink(key);
  const code = link.url.split("/").pop();
  const other = (await paymentLink(key)).url.split("/").pop();
  const thanks = merchantPage("thanks", "<p>Thanks</p>");
  const url = merchantPage(
    "options",
    `<script src="${base}/till.js"></script>
     <till-buy-button id="ja" link="${code}" locale="ja" text="購入" success-url="${thanks}?paid={CHECKOUT_SESSION_ID}"></till-buy-button>
     <till-buy-button id="redirect" link="${other}" mode="redirect" text="Go"></till-buy-button>`,
    { stay: false },
  );
  const { context, page, events } = await open(url);
  await page.locator("#ja").getByRole("button", { name: "購入" }).click();
  const frame = overlayFrame(page);
  await frame.locator("html[lang=ja]").waitFor();
  await page.evaluate(() => window.Till.close());
  await waitFor(() => events.find((e) => e.type === "close"), "till:close after Till.close()");
  assert.equal(await page.locator("till-overlay").count(), 0);

  await page.locator("#ja").getByRole("button").click();
  const sessionId = await payInOverlay(page, events);
  await page.waitForURL(`${thanks}?paid=${sessionId}`);
  assert.equal((await session(sessionId)).status, "COMPLETE");

  await page.goto(url);
  // Both buttons are in sight: the widget takes over #ja and leaves #redirect alone.
  await waitFor(() => page.locator("#ja button[aria-haspopup]").count(), "the widget's handover");
  await page.locator("#redirect").getByRole("button", { name: "Go" }).click();
  await page.waitForURL(/\/c\/cs_/);
  assert.ok(!page.url().includes("embedded"), "redirect mode goes to the page itself");
  await context.close();

  // An ad blocker or a proxy refuses the widget: the button still leads to checkout.
  const blocked = await open(merchantPage("blocked", `<script src="${base}/till.js" data-link="${other}" data-text="Buy"></script>`), {
    block: true,
  });
  await blocked.page.locator("till-buy-button").getByRole("button", { name: "Buy" }).click();
  await blocked.page.waitForURL(/\/c\/cs_/);
  assert.ok(blocked.warnings.some((w) => w.includes("failed to load")), `${blocked.warnings}`);
  await blocked.context.close();
});

// A page that pretends to be checkout: it tells whoever framed it that a payment succeeded
// and where to go next.
const FORGED = `<!doctype html><script>
  const say = (m) => parent.postMessage({ till: 1, ...m }, "*");
  say({ type: "ready", height: 300 });
  say({ type: "success", session_id: "cs_forged", url: "http://evil.example/phish" });
</script>`;

test("the button opens checkout only on Till's origin and hears only it: `/evil.example` stays a link code", async () => {
  pages.set("/forged-checkout", { html: FORGED });
  const evil = [];
  const url = merchantPage(
    "elsewhere",
    `<script src="${base}/till.js"></script>
     <till-buy-button id="slash" link="/evil.example" text="Slash"></till-buy-button>
     <till-buy-button id="away" link="${shop}/forged-checkout" text="Away"></till-buy-button>`,
    { stay: false },
  );
  const prepare = (page) =>
    page.context().route(/^https?:\/\/evil\.example\//, (route) => {
      evil.push(route.request().url());
      return route.fulfill({ contentType: "text/html", body: FORGED });
    });
  const { context, page, events } = await open(url, { prepare });
  await page.locator("#slash").getByRole("button", { name: "Slash" }).click();
  const frame = page.locator("till-overlay iframe");
  await frame.waitFor({ state: "attached" });
  const src = await frame.getAttribute("src");
  assert.ok(src.startsWith(`${base}/%2Fevil.example?embedded=1`), `the overlay opened ${src}`);
  // The code is not a link: Till's page says so (and, belonging to no account, refuses to be framed).
  await waitFor(() => frame.evaluate((f) => f.src), "the frame's address");
  assert.deepEqual(evil, [], "nothing was asked of evil.example");
  assert.ok(!events.some((e) => e.type === "success"), "a forged success was heard");

  // A full link URL on another origin is a plain navigation: never framed, never heard.
  await page.goto(url);
  await page.locator("#away").getByRole("button", { name: "Away" }).click();
  await page.waitForURL(`${shop}/forged-checkout`);
  assert.ok(!events.some((e) => e.type === "success"), "a forged success was heard");
  assert.deepEqual(evil, [], "the forged page's url was followed");
  await context.close();
});
