// The merchant dashboard in real Chromium against the real Worker: a merchant signs in with
// a login link, makes a product and a link with a custom field, copies its snippet, scans
// its QR code, pastes the snippet into a page on another origin where a shopper pays, sees
// the payment and the funnel, refunds half and finds the refund's webhook delivery. Also:
// a wrong key, sign-out, a write without the CSRF header, another merchant's data, the link
// form by keyboard alone, an axe-core scan of every screen, a 360 px phone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { api, base, launch, screenshot } from "./support.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

let browser;
let account; // the merchant under test
let shop; // the merchant's own site, another origin
let shopPage = "";
let shopServer;
const hooks = []; // webhook deliveries the merchant's receiver got
let receiver;
let hookUrl;

before(async () => {
  browser = await launch();
  account = await api("/v1/accounts", { method: "POST", body: { name: "Dashboard shop" } });
  shopServer = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body><h1>Field notes</h1>${shopPage}</body></html>`);
  });
  await new Promise((resolve) => shopServer.listen(0, "127.0.0.1", resolve));
  shop = `http://127.0.0.1:${shopServer.address().port}`;
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      hooks.push(JSON.parse(body || "{}"));
      res.writeHead(200).end("ok");
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${receiver.address().port}/hooks`;
});
after(async () => {
  await browser?.close();
  shopServer?.close();
  receiver?.close();
});

/** A signed-in dashboard page, through a one-time login link made with `key`. */
async function signIn(key, options = {}) {
  const context = await browser.newContext({ ...options });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log("page error:", e.message));
  const link = await api("/v1/dashboard/login_links", { method: "POST", key, body: {} });
  await page.goto(link.url);
  // The link asks before it signs in (a mail scanner opening it spends nothing).
  await page.getByRole("button", { name: "Sign in to the Till dashboard" }).click();
  await page.waitForURL(`${base}/dashboard/`);
  await page.getByRole("heading", { name: "Home" }).waitFor();
  return { context, page };
}

/** Goes to a dashboard address by its menu, as a merchant does. */
async function menu(page, name) {
  await page.getByRole("navigation").getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { level: 1, name }).waitFor();
}

async function waitFor(check, what, ms = 20000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(page, screen) {
  await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
  });
  assert.deepEqual(violations, [], `${screen}: ${violations.join("\n")}`);
}

test("a merchant sells from the dashboard: product, link, snippet, QR, a sale on another site, funnel, half refund, its webhook", async () => {
  const key = account.keys.test.secret_key;
  // The merchant's receiver, so that the refund's delivery can be seen.
  await api("/v1/webhook_endpoints", { method: "POST", key, body: { url: hookUrl, enabled_events: ["*"] } });
  const { context, page } = await signIn(key);
  await screenshot(page, "dashboard-home");

  // Settings: the merchant's own site may embed the checkout.
  await menu(page, "Settings");
  await page.getByLabel("Your sites (allowed redirect hosts)").fill(new URL(shop).host);
  await page.locator("#hosts-submit").click();
  await waitFor(async () => (await api("/v1/account", { key })).allowed_redirect_hosts.length === 1, "the host saved");

  // A product with its price.
  await menu(page, "Products");
  await page.getByRole("link", { name: "New product" }).click();
  await page.getByLabel("Name").fill("Field notes");
  await page.getByLabel("Amount").fill("590");
  await page.locator("#product-currency").selectOption("TWD");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { level: 1, name: "Field notes" }).waitFor();
  await screenshot(page, "dashboard-product");

  // A link with a custom field.
  await menu(page, "Payment links");
  await page.getByRole("link", { name: "New payment link" }).click();
  const product = (await api("/v1/products", { key })).data.find((p) => p.name === "Field notes");
  await page.locator("#link-product_id").selectOption(product.id);
  await page.locator("#link-field1").selectOption("text");
  await page.locator("#link-field1_key").fill("engraving");
  await page.locator("#link-field1_label").fill("Engraving");
  await page.locator("#link-field1_optional").check();
  await screenshot(page, "dashboard-new-link");
  await page.locator("#link-submit").click();
  await page.getByRole("heading", { level: 1, name: "Field notes" }).waitFor();
  const linkId = page.url().split("/").pop();
  const link = await api(`/v1/payment_links/${linkId}`, { key });
  assert.equal(link.custom_fields[0].key, "engraving");
  assert.equal(await page.locator("#link-url").textContent(), link.url);

  // The QR code in the page scans to the link's URL (a real decoder on a screenshot).
  const qr = page.locator("#qr");
  await qr.waitFor();
  await page.waitForFunction(() => document.querySelector("#qr").naturalWidth > 0);
  const png = PNG.sync.read(await qr.screenshot());
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(decoded, "the QR code decodes");
  assert.equal(decoded.data, link.url);

  // The snippet, copied to the clipboard, with the dark theme chosen; the preview is the
  // real button.
  await page.locator("#embed-kind").selectOption("element");
  await page.locator("#embed-theme").selectOption("dark");
  await page.locator("#embed-text").fill("Buy the notes");
  await page.locator("#preview till-buy-button").getByRole("button", { name: "Buy the notes" }).waitFor();
  await page.locator("#copy-snippet").click();
  const snippet = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(snippet, new RegExp(`<till-buy-button link="${link.url_id}" theme="dark" text="Buy the notes"></till-buy-button>`));
  assert.match(snippet, new RegExp(`<script src="${base}/till.js"></script>`));
  await screenshot(page, "dashboard-link");

  // The snippet on the merchant's own site: a shopper pays with the test card.
  shopPage = snippet;
  const shopper = await browser.newPage();
  await shopper.goto(`${shop}/`);
  await shopper.locator("till-buy-button").getByRole("button", { name: "Buy the notes" }).click();
  const frame = shopper.frameLocator("till-overlay iframe");
  await frame.locator("#cc").waitFor();
  await frame.locator("#email").fill("mei@example.com");
  await frame.locator("#name").fill("Mei Lin");
  await frame.getByLabel("Engraving").fill("For Mei");
  await frame.locator("#cc").fill("4242 4242 4242 4242");
  await frame.locator("#exp").fill("12 / 34");
  await frame.locator("#cvc").fill("123");
  await frame.locator("#pay").click();
  await waitFor(async () => (await api(`/v1/payments?payment_link=${linkId}`, { key })).data.length === 1, "the payment");
  await shopper.close();

  // Sales shows the payment; its page has the receipt and the order's answer.
  await menu(page, "Sales");
  const row = page.locator("#payments tbody tr").first();
  await row.waitFor();
  assert.match(await row.textContent(), /NT\$590/);
  await row.getByRole("link").click();
  await page.locator("#receipt-link").waitFor();
  const payment = (await api(`/v1/payments?payment_link=${linkId}`, { key })).data[0];
  assert.equal(await page.locator("#receipt-link").getAttribute("href"), payment.receipt_url);
  await page.locator("#order-link").click();
  await page.getByText("engraving: For Mei").waitFor();
  await page.goBack();
  await page.locator("#refund-amount").waitFor();

  // The link's funnel: one view, one checkout, one sale.
  await page.goto(`${base}/dashboard/links/${linkId}`);
  await waitFor(async () => (await page.locator("#funnel-paid").textContent().catch(() => "")) === "1", "the funnel");
  assert.equal(await page.locator("#funnel-views").textContent(), "1");
  assert.equal(await page.locator("#funnel-sessions").textContent(), "1");
  assert.equal(await page.locator("#funnel-conversion").textContent(), "100.0%");

  // Refund half from the payment's page.
  await page.goto(`${base}/dashboard/payments/${payment.id}`);
  await page.locator("#refund-amount").fill("295");
  await page.locator("#refund-submit").click();
  const refunds = page.locator("#refunds tbody tr");
  await waitFor(async () => (await refunds.count()) === 1, "the refund in the list").catch(async (e) => {
    await screenshot(page, "dashboard-refund-failed");
    throw e;
  });
  assert.match(await refunds.first().textContent(), /NT\$295.*SUCCEEDED/);
  const after = await api(`/v1/payments/${payment.id}`, { key });
  assert.equal(after.amount_refunded, 295);
  assert.equal(after.status, "PARTIALLY_REFUNDED");
  await screenshot(page, "dashboard-refunded");

  // Its webhook delivery is listed with its attempt (the cron sends what is due).
  await waitFor(async () => {
    await fetch(`${base}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`).catch(() => null);
    return hooks.some((h) => h.type === "payment.refunded");
  }, "payment.refunded at the receiver", 30000);
  await menu(page, "Developers");
  await page.locator("#endpoints tbody a").first().click();
  const delivery = page.locator("#deliveries tbody tr", { hasText: "payment.refunded" });
  await delivery.waitFor();
  assert.match(await delivery.textContent(), /payment\.refunded\s*SUCCEEDED.*→ 200 \(\d+ ms\)/);
  await screenshot(page, "dashboard-deliveries");
  await context.close();
});

test("a wrong key is refused cleanly; a signed-out cookie stops working; writes need the CSRF header", async () => {
  // (bypassCSP only so that axe-core can be injected for the scan below.)
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${base}/dashboard/`);
  await page.getByLabel("Secret key").fill("sk_test_wrongwrongwrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").textContent(), /key/i);
  assert.equal((await context.cookies()).length, 0, "no cookie for a wrong key");
  await screenshot(page, "dashboard-wrong-key");
  await accessible(page, "sign-in");

  // The right key signs in; the key is not kept anywhere in the page's storage.
  const key = account.keys.test.secret_key;
  await page.getByLabel("Secret key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Home" }).waitFor();
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!stored.includes(key), "the key is not kept in the browser");
  const [cookie] = await context.cookies();
  assert.equal(cookie.name, "__Host-till_dashboard");
  assert.ok(cookie.httpOnly && cookie.secure && cookie.sameSite === "Strict", JSON.stringify(cookie));

  // A write without the CSRF header, from the dashboard's own origin, is refused.
  const bare = await page.evaluate(async () => {
    const r = await fetch("/v1/products", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "Sneaky", price: { amount: 100, currency: "USD" } }) });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(bare.status, 403);
  assert.match(bare.body.error.message, /X-Till-CSRF/);

  // Signed out, the same cookie (replayed from outside the browser) is refused.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  const replay = await fetch(`${base}/v1/dashboard/session`, { headers: { Cookie: `${cookie.name}=${cookie.value}` } });
  assert.equal(replay.status, 401);
  await context.close();
});

test("one merchant's dashboard never shows another's data", async () => {
  const mine = account.keys.test.secret_key;
  const product = await api("/v1/products", { method: "POST", key: mine, body: { name: "Secret recipe", price: { amount: 100, currency: "TWD" } } });
  const other = await api("/v1/accounts", { method: "POST", body: { name: "Another shop" } });
  const { context, page } = await signIn(other.keys.test.secret_key);
  await menu(page, "Products");
  await page.getByText("Nothing here yet.").waitFor();
  assert.ok(!(await page.content()).includes("Secret recipe"));
  await page.goto(`${base}/dashboard/products/${product.id}`);
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").textContent(), /No such product/);
  assert.ok(!(await page.content()).includes("Secret recipe"));
  await context.close();
});

test("the link form works with the keyboard alone", async () => {
  const key = account.keys.test.secret_key;
  await api("/v1/products", { method: "POST", key, body: { name: "Keyboard poster", price: { amount: 300, currency: "TWD" } } });
  const { context, page } = await signIn(key);
  await page.goto(`${base}/dashboard/links/new`);
  await page.locator("#link-by").waitFor();
  const focused = () => page.evaluate(() => document.activeElement?.id ?? "");
  const tabTo = async (id) => {
    for (let i = 0; i < 80; i++) {
      if ((await focused()) === id) return;
      await page.keyboard.press("Tab");
    }
    throw new Error(`Tab never reached #${id}`);
  };
  await tabTo("link-by");
  await tabTo("link-name");
  await page.keyboard.type("Poster by keyboard");
  await tabTo("link-field1");
  await page.keyboard.press("ArrowDown"); // text
  await tabTo("link-field1_key");
  await page.keyboard.type("size");
  await tabTo("link-field1_label");
  await page.keyboard.type("Size");
  await tabTo("link-submit");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { level: 1, name: "Poster by keyboard" }).waitFor();
  const id = page.url().split("/").pop();
  const link = await api(`/v1/payment_links/${id}`, { key });
  assert.equal(link.custom_fields[0].label.custom, "Size");
  await context.close();
});

test("every screen passes an axe-core scan, in English and 繁體中文, and fits a 360 px phone", async () => {
  const key = account.keys.test.secret_key;
  // Something on most screens: a customer, a code (the first test made the rest).
  await api("/v1/customers", { method: "POST", key, body: { customer_id: "cus_axe", name: "Ada", email: "ada@example.com" } });
  await api("/v1/payment_methods", { method: "POST", key, body: { customer_id: "cus_axe", card: { number: "4242424242424242", exp_month: 12, exp_year: 2034, cvc: "123" } } }).catch(() => null);
  await api("/v1/promotion_codes", { method: "POST", key, body: { code: "AXE10", percent_off: 10 } });
  const { context, page } = await signIn(key, { bypassCSP: true, viewport: { width: 360, height: 740 } });
  const links = await api("/v1/payment_links", { key });
  const payments = await api("/v1/payments", { key });
  const events = await api("/v1/events", { key });
  const screens = [
    "/dashboard/",
    "/dashboard/products",
    "/dashboard/products/new",
    "/dashboard/links",
    "/dashboard/links/new",
    `/dashboard/links/${links.data[0].id}`,
    "/dashboard/sales",
    `/dashboard/payments/${payments.data[0].id}`,
    `/dashboard/orders/${payments.data[0].order_id}`,
    "/dashboard/customers",
    "/dashboard/customers/cus_axe",
    "/dashboard/subscriptions",
    "/dashboard/promotion_codes",
    "/dashboard/developers",
    "/dashboard/events",
    `/dashboard/events/${events.data[0].id}`,
    "/dashboard/settings",
  ];
  for (const [lang, label] of [["en", "English"], ["zh-TW", "繁體中文"]]) {
    await page.goto(`${base}/dashboard/`);
    await page.locator(".lang select").selectOption(lang);
    for (const screen of screens) {
      await page.goto(`${base}${screen}`);
      await page.waitForFunction(() => !document.querySelector("[role=status]")?.textContent?.match(/Loading|載入中/));
      await page.waitForTimeout(150);
      assert.equal(await page.evaluate(() => document.documentElement.lang), lang);
      await accessible(page, `${screen} (${label})`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      if (wide > 361) {
        await screenshot(page, `dashboard-too-wide-${lang}`);
        const culprits = await page.evaluate(() =>
          [...document.querySelectorAll("body *")].filter((e) => !e.closest("nav"))
            .filter((e) => e.getBoundingClientRect().right > 361)
            .map((e) => `${e.tagName}.${e.className}: ${e.textContent.slice(0, 40)}`)
            .slice(0, 5),
        );
        assert.fail(`${screen} is ${wide}px wide on a 360 px screen: ${culprits.join(" | ")}`);
      }
    }
    await screenshot(page, `dashboard-phone-${lang}`);
  }
  // The Chinese view says so.
  await page.goto(`${base}/dashboard/`);
  await page.getByRole("heading", { name: "首頁" }).waitFor();
  await context.close();
});
