// Shared helpers for the browser tests: the running Worker's API, and Chromium.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const base = process.env.TILL_BASE_URL;
const operator = process.env.TILL_OPERATOR_TOKEN;
export const artifacts = process.env.TILL_ARTIFACTS ?? "target/e2e-artifacts";
mkdirSync(artifacts, { recursive: true });

if (!base || !operator) {
  throw new Error("TILL_BASE_URL and TILL_OPERATOR_TOKEN must be set (cargo xtask test sets them)");
}

/** Calls the API; throws with the body on a non-2xx answer. */
export async function api(path, { method = "GET", key, body } = {}) {
  const response = await fetch(base + path, {
    method,
    headers: {
      Authorization: `Bearer ${key ?? operator}`,
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Rows of one read-only query on the Worker's D1 (test hook). */
export async function query(sql) {
  return (await api("/__test/d1", { method: "POST", body: { sql } })).results;
}

/** A fresh merchant's test secret key. */
export async function merchant(name) {
  const account = await api("/v1/accounts", { method: "POST", body: { name } });
  return account.keys.test.secret_key;
}

/** A payment link for a NT$590 product, with `extra` settings. */
export async function paymentLink(key, extra = {}) {
  const product = await api("/v1/products", {
    method: "POST",
    key,
    body: { name: "Field notes", price: { amount: 590, currency: "TWD" } },
  });
  return api("/v1/payment_links", {
    method: "POST",
    key,
    body: { productId: product.id, successUrl: `${base}/?session_id={CHECKOUT_SESSION_ID}`, ...extra },
  });
}

/** Headless Debian Chromium, as root, without background network traffic. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Fills the hosted form and submits it. */
export async function fillAndPay(page, { card, email = "shopper@example.com", name = "Mei Lin" }) {
  await page.getByLabel(/email|電子郵件|メール/i).fill(email);
  await page.locator("#name").fill(name);
  await page.locator("#cc").fill(card);
  await page.locator("#exp").fill("12 / 34");
  await page.locator("#cvc").fill(card.replaceAll(" ", "").startsWith("37") ? "1234" : "123");
  await page.locator("#pay").click();
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}
