// The customer portal and Recur's checkout element in real Chromium: a subscriber with
// JavaScript turned off cancels, resumes, replaces the card and opens a receipt; a page on
// the merchant's own site (another origin) starts a checkout the way Recur's element does.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { api, base, fillAndPay, launch, screenshot } from "./support.mjs";

let browser;
let key;
let publishable;
let shop;
let server;
const pages = new Map();

before(async () => {
  browser = await launch();
  const account = await api("/v1/accounts", { method: "POST", body: { name: "Portal shop" } });
  key = account.keys.test.secret_key;
  publishable = account.keys.test.publishable_key;
  server = createServer((req, res) => {
    const html = pages.get(req.url.split("?")[0]);
    if (!html) return res.writeHead(404).end("not found");
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(html);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  shop = `http://127.0.0.1:${server.address().port}`;
  assert.notEqual(new URL(shop).origin, new URL(base).origin, "the shop is another origin");
  await api("/v1/account", { method: "PATCH", key, body: { allowed_redirect_hosts: [new URL(shop).host] } });
});
after(async () => {
  await browser?.close();
  server?.close();
});

/** A subscriber with a saved card and a monthly subscription; answers their ids. */
async function subscriber() {
  const product = await api("/v1/products", {
    method: "POST",
    key,
    body: { name: "Pro plan", price: { amount: 490, currency: "TWD", type: "recurring", interval: "month" } },
  });
  const customer = await api("/v1/customers", { method: "POST", key, body: { name: "Aiko", email: "aiko@example.com" } });
  const card = await api("/v1/payment_methods", {
    method: "POST",
    key,
    body: { customer_id: customer.id, card: { number: "4242424242424242", exp_month: 12, exp_year: 2034, cvc: "123" } },
  });
  const subscription = await api("/v1/subscriptions", {
    method: "POST",
    key,
    body: { customer_id: customer.id, payment_method: card.id, products: [{ product_id: product.id, quantity: 1 }] },
  });
  assert.equal(subscription.state, "ACTIVE");
  return { customer: customer.id, card: card.id, subscription: subscription.id };
}

test("a subscriber without JavaScript cancels, resumes, replaces the card and opens a receipt", async () => {
  const { customer, card, subscription } = await subscriber();
  const session = await api("/v1/portal/sessions", {
    method: "POST",
    key,
    body: { customerId: customer, returnUrl: `${shop}/account`, locale: "en" },
  });
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(session.url);
  assert.equal(new URL(page.url()).pathname, "/portal");
  await assert.doesNotReject(page.getByRole("heading", { name: "Your subscriptions and billing" }).waitFor());
  const sub = page.locator(`section#${subscription}`);
  await sub.getByText("Active").waitFor();

  await sub.getByRole("link", { name: "Cancel subscription" }).click();
  await page.getByText("stays active until the end of the current period").waitFor();
  await page.getByRole("button", { name: "Cancel subscription" }).click();
  await page.locator("#notice").getByText("your change is saved").waitFor();
  await page.locator(`section#${subscription}`).getByText("Ends on").waitFor();
  assert.equal((await api(`/v1/subscriptions/${subscription}`, { key })).cancel_at_period_end, true);
  await screenshot(page, "portal-canceling");

  await page.locator(`section#${subscription}`).getByRole("button", { name: "Resume subscription" }).click();
  await page.locator("#notice").waitFor();
  assert.equal((await api(`/v1/subscriptions/${subscription}`, { key })).cancel_at_period_end, false);

  await page.locator("#payment-method").getByRole("link", { name: "Update card" }).click();
  await page.locator("#cc").fill("5555 5555 5555 4444");
  await page.locator("#exp").fill("11 / 33");
  await page.locator("#cvc").fill("321");
  await page.getByRole("button", { name: "Update card" }).click();
  await page.locator("#payment-method").getByText("•••• 4444").waitFor();
  const after = await api(`/v1/subscriptions/${subscription}`, { key });
  assert.notEqual(after.payment_method, card);

  const receipt = page.locator("#history a").first();
  const href = await receipt.getAttribute("href");
  assert.match(href, /\/receipts\/rcpt_/);
  await receipt.click();
  await page.getByText("NT$490").first().waitFor();
  await page.goBack();
  assert.equal(await page.locator("#return").getAttribute("href"), `${shop}/account`);
  await context.close();
});

test("the portal speaks the session's language", async () => {
  const { customer, subscription } = await subscriber();
  const session = await api("/v1/portal/sessions", {
    method: "POST",
    key,
    body: { customer_id: customer, locale: "ja", flow: "cancel", subscription_id: subscription },
  });
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(session.url);
  assert.equal(new URL(page.url()).pathname, `/portal/subscriptions/${subscription}/cancel`);
  assert.equal(await page.locator("html").getAttribute("lang"), "ja");
  await page.getByRole("button", { name: "解約する" }).waitFor();
  await screenshot(page, "portal-ja");
  await context.close();
});

test("Recur's checkout element starts a checkout from the merchant's own site", async () => {
  const product = await api("/v1/products", {
    method: "POST",
    key,
    body: { name: "Sticker pack", price: { amount: 120, currency: "TWD" } },
  });
  pages.set(
    "/element.html",
    `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head><body>
<button id="buy">Buy stickers</button><p id="error"></p>
<script>
  document.getElementById("buy").addEventListener("click", async () => {
    try {
      const response = await fetch(${JSON.stringify(`${base}/v1/checkout/sessions`)}, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Recur-Publishable-Key": ${JSON.stringify(publishable)} },
        body: JSON.stringify({ productId: ${JSON.stringify(product.id)}, mode: "PAYMENT",
          successUrl: location.origin + "/thanks.html?session={CHECKOUT_SESSION_ID}",
          cancelUrl: location.origin + "/element.html", customerEmail: "element@example.com" }),
      });
      const session = await response.json();
      if (!response.ok) throw new Error(session.error.message);
      location.href = session.url;
    } catch (error) {
      document.getElementById("error").textContent = String(error);
    }
  });
</script></body></html>`,
  );
  pages.set("/thanks.html", "<!doctype html><title>Thanks</title><h1>Thank you</h1>");
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${shop}/element.html`);
  await page.getByRole("button", { name: "Buy stickers" }).click();
  await page.waitForURL(/\/c\/cs_/);
  await screenshot(page, "recur-element-checkout");
  await page.getByText("Sticker pack").first().waitFor();
  assert.equal(await page.locator("#email").inputValue(), "element@example.com");
  await fillAndPay(page, { card: "4242 4242 4242 4242", email: "element@example.com" });
  await page.waitForURL(/\/thanks\.html\?session=cs_/);
  const id = new URL(page.url()).searchParams.get("session");
  assert.equal((await api(`/v1/checkout/sessions/${id}`, { key })).status, "COMPLETE");
  await context.close();
});
