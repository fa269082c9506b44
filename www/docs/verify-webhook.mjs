// Verifying a Till webhook in Node.js (18+). Pass the raw request body (bytes, not parsed
// JSON), the `Till-Signature` header, and your endpoint's `whsec_…` secret.
import { createHmac, timingSafeEqual } from "node:crypto";

export function verifyTillSignature(header, rawBody, secret, { toleranceSeconds = 300, now = Date.now() / 1000 } = {}) {
  const parts = String(header).split(",").map((part) => part.trim().split("="));
  const timestamp = Number(parts.find(([key]) => key === "t")?.[1]);
  const signatures = parts.filter(([key]) => key === "v1").map(([, value]) => Buffer.from(value ?? "", "hex"));
  if (!Number.isInteger(timestamp) || signatures.length === 0) return false;
  if (Math.abs(now - timestamp) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest();
  return signatures.some((signature) => signature.length === expected.length && timingSafeEqual(signature, expected));
}
