// The hosted checkout in real Chromium: from a shared link to a paid order.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { api, base, fillAndPay, launch, merchant, paymentLink, query, screenshot } from "./support.mjs";

let browser;
let key;
before(async () => {
  browser = await launch();
  key = await merchant("Browser shop");
});
after(async () => browser?.close());

async function session(id) {
  return api(`/v1/checkout/sessions/${id}`, { key });
}

async function openLink(context, link, query = "") {
  const page = await context.newPage();
  await page.goto(link.url + query);
  assert.match(page.url(), /\/c\/cs_/, "the link redirects to the hosted page");
  return page;
}

test("the test card pays and the shopper lands on the success URL", async () => {
  const context = await browser.newContext();
  const link = await paymentLink(key);
  const page = await openLink(context, link);
  await assert.doesNotReject(page.getByText("NT$590").first().waitFor());
  await screenshot(page, "checkout-form");
  const sessionId = new URL(page.url()).pathname.split("/c/")[1];
  await fillAndPay(page, { card: "4242 4242 4242 4242" });
  await page.waitForURL(`${base}/?session_id=${sessionId}`);
  await screenshot(page, "checkout-success");
  const paid = await session(sessionId);
  assert.equal(paid.status, "COMPLETE");
  assert.equal(paid.amount_total, 590);
  await context.close();
});

test("a declined card shows a message, then another card pays", async () => {
  const context = await browser.newContext();
  const page = await openLink(context, await paymentLink(key));
  const sessionId = new URL(page.url()).pathname.split("/c/")[1];
  await fillAndPay(page, { card: "4000 0000 0000 0002" });
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").textContent(), /declined/);
  await screenshot(page, "checkout-declined");
  assert.equal((await session(sessionId)).status, "OPEN");
  await fillAndPay(page, { card: "5555 5555 5555 4444" });
  await page.waitForURL(/session_id=/);
  assert.equal((await session(sessionId)).status, "COMPLETE");
  await context.close();
});

for (const outcome of ["complete", "fail"]) {
  test(`3-D Secure: the shopper chooses ${outcome}`, async () => {
    const context = await browser.newContext();
    const page = await openLink(context, await paymentLink(key));
    const sessionId = new URL(page.url()).pathname.split("/c/")[1];
    await fillAndPay(page, { card: "4000 0025 0000 3155" });
    await page.locator(`button[value=${outcome}]`).waitFor();
    await screenshot(page, `checkout-3ds-${outcome}`);
    await page.locator(`button[value=${outcome}]`).click();
    if (outcome === "complete") {
      await page.waitForURL(/session_id=/);
      assert.equal((await session(sessionId)).status, "COMPLETE");
    } else {
      await page.getByRole("alert").waitFor();
      assert.equal((await session(sessionId)).status, "OPEN");
    }
    await context.close();
  });
}

test("cancel returns to the merchant's cancel URL", async () => {
  const context = await browser.newContext();
  const product = await api("/v1/products", { method: "POST", key, body: { name: "Mug", price: { amount: 1200, currency: "JPY" } } });
  const created = await api("/v1/checkout/sessions", {
    method: "POST",
    key,
    body: { productId: product.id, cancelUrl: `${base}/?cancelled=1`, successUrl: `${base}/?ok=1` },
  });
  const page = await context.newPage();
  await page.goto(created.url);
  await assert.doesNotReject(page.getByText("¥1,200").first().waitFor());
  await page.getByRole("link", { name: /Cancel/ }).click();
  await page.waitForURL(`${base}/?cancelled=1`);
  assert.equal((await session(created.id)).status, "OPEN");
  await context.close();
});

test("custom field answers and the billing address are stored with the order", async () => {
  const context = await browser.newContext();
  const link = await paymentLink(key, {
    custom_fields: [
      { key: "engraving", label: "Engraving", type: "text" },
      { key: "size", label: "Size", type: "dropdown", dropdown: { options: [{ label: "Small", value: "s" }, { label: "Large", value: "l" }] } },
    ],
    billing_address_collection: "required",
  });
  const page = await openLink(context, link);
  const sessionId = new URL(page.url()).pathname.split("/c/")[1];
  await page.locator("#custom_engraving").fill("For Ada");
  await page.locator("#custom_size").selectOption("l");
  await page.locator("#line1").fill("1 Market St");
  await page.locator("#city").fill("Taipei");
  await page.locator("#postal").fill("100");
  await page.locator("#country").fill("TW");
  await screenshot(page, "checkout-custom-fields");
  await fillAndPay(page, { card: "4242 4242 4242 4242" });
  await page.waitForURL(/session_id=/);
  const [order] = await query(`SELECT custom_fields, billing_address FROM orders WHERE checkout_session_id = '${sessionId}'`);
  assert.deepEqual(JSON.parse(order.custom_fields), { engraving: "For Ada", size: "l" });
  assert.equal(JSON.parse(order.billing_address).city, "Taipei");
  await context.close();
});

test("the page speaks Japanese when asked", async () => {
  const context = await browser.newContext({ locale: "ja-JP" });
  const page = await openLink(context, await paymentLink(key));
  await assert.doesNotReject(page.getByText("カード番号").waitFor());
  assert.equal(await page.locator("html").getAttribute("lang"), "ja");
  await screenshot(page, "checkout-ja");
  await fillAndPay(page, { card: "4242 4242 4242 4242" });
  await page.waitForURL(/session_id=/);
  await context.close();
});

test("the same payment works with JavaScript disabled", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await openLink(context, await paymentLink(key));
  const sessionId = new URL(page.url()).pathname.split("/c/")[1];
  await fillAndPay(page, { card: "4242 4242 4242 4242" });
  await page.waitForURL(`${base}/?session_id=${sessionId}`);
  assert.equal((await session(sessionId)).status, "COMPLETE");
  await context.close();
});

test("a promotion code typed on the page lowers the total", async () => {
  const context = await browser.newContext();
  await api("/v1/promotion_codes", { method: "POST", key, body: { code: "E2E20", percent_off: 20 } });
  const page = await openLink(context, await paymentLink(key, { allow_promotion_codes: true }));
  const sessionId = new URL(page.url()).pathname.split("/c/")[1];
  await page.locator("#promo").fill("e2e20");
  await page.getByRole("button", { name: "Apply" }).click();
  await assert.doesNotReject(page.locator("#total", { hasText: "NT$472" }).waitFor());
  await screenshot(page, "checkout-promotion");
  await fillAndPay(page, { card: "4242 4242 4242 4242" });
  await page.waitForURL(/session_id=/);
  const paid = await session(sessionId);
  assert.equal(paid.amount_total, 472);
  assert.equal(paid.promotion_code, "E2E20");
  await context.close();
});

test("with JavaScript, mistakes are caught inline and a decline comes back without a reload", async () => {
  const context = await browser.newContext();
  const page = await openLink(context, await paymentLink(key));
  const sessionId = new URL(page.url()).pathname.split("/c/")[1];
  await page.evaluate(() => { window.stillHere = true; });
  await page.locator("#cc").fill("4242424242424241");
  assert.equal(await page.locator("#cc").inputValue(), "4242 4242 4242 4241", "the number is spaced as typed");
  await page.locator("#email").fill("not-an-email");
  await page.locator("#exp").fill("13 / 30");
  await page.locator("#cvc").fill("12");
  await page.locator("#pay").click();
  await page.locator("#cc-error").waitFor();
  assert.match(await page.locator("#cc-error").textContent(), /not valid/);
  assert.equal(await page.locator("[aria-invalid=true]").count(), 4);
  await screenshot(page, "checkout-inline-errors");
  assert.equal((await query(`SELECT failed_attempts FROM checkout_sessions WHERE id = '${sessionId}'`))[0].failed_attempts, 0,
    "nothing was sent");
  await fillAndPay(page, { card: "4000 0000 0000 0002" });
  await page.getByRole("alert").waitFor();
  assert.equal(await page.evaluate(() => window.stillHere), true, "the decline came back without a reload");
  await fillAndPay(page, { card: "4242 4242 4242 4242" });
  await page.waitForURL(`${base}/?session_id=${sessionId}`);
  assert.equal((await session(sessionId)).status, "COMPLETE");
  await context.close();
});
