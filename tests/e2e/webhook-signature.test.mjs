// The documented JavaScript verifier (www/docs/verify-webhook.mjs) against signatures made
// the way Till makes them (the vector is the one the Rust tests pin).
import { test } from "node:test";
import assert from "node:assert/strict";
import { verifyTillSignature } from "../../www/docs/verify-webhook.mjs";

const header = "t=1700000000,v1=47b6ce0fca59474308e2921c247cb2493dce6b8101d90ac05bd0c6a37d0e046e";
const body = Buffer.from("body");

test("a signature Till made verifies", () => {
  assert.equal(verifyTillSignature(header, body, "key", { now: 1700000100 }), true);
});

test("a changed body, another secret or an old timestamp does not", () => {
  assert.equal(verifyTillSignature(header, Buffer.from("bodY"), "key", { now: 1700000000 }), false);
  assert.equal(verifyTillSignature(header, body, "other", { now: 1700000000 }), false);
  assert.equal(verifyTillSignature(header, body, "key", { now: 1700000301 }), false);
});

test("during a secret roll either v1 may match", () => {
  const rolled = `${header.split(",")[0]},v1=${"00".repeat(32)},${header.split(",")[1]}`;
  assert.equal(verifyTillSignature(rolled, body, "key", { now: 1700000000 }), true);
  assert.equal(verifyTillSignature("garbage", body, "key"), false);
});
