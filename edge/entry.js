// The JavaScript entry of each of Till's Workers: hands each event to the Rust Worker
// (wasm-bindgen's `module` output, bundled beside this file by `cargo xtask build`).
//
// A plain handler object, called once per event. worker-build's generated entry wraps the
// handlers in a class Proxy that builds a WorkerEntrypoint and two more Proxies for every
// request; without them a short link served about 15% more requests per second.
//
// A Rust panic aborts the Wasm instance, usually inside a future's microtask, where no
// request's promise sees it. Every request then in flight is answered with the API's
// error shape (rather than left to hang until the runtime cancels it), and the next event
// runs on a fresh instance (wasm-bindgen's `__wbg_reset_state`).
import * as till from "./index.js";

Error.stackTraceLimit = 100;
const state = till.__worker_init_state();
const exported = { ...till };

// The requests running on the current instance, each with the function that settles it
// with a trap. Each request's promise is made in that request's own context: the runtime
// runs no continuation of a promise settled for a request that has already finished.
const inFlight = new Set();

// A trap of any kind leaves the instance in an undefined state: a Wasm trap
// (`unreachable`, out-of-bounds memory, which is also what a Rust stack overflow becomes)
// is a RuntimeError; running out of the engine's own stack is a RangeError ("Maximum call
// stack size exceeded").
function trapped(error) {
  if (error instanceof WebAssembly.RuntimeError || error instanceof RangeError) {
    state.criticalError = true;
    for (const abort of inFlight) abort(error);
    inFlight.clear();
  }
}

addEventListener("error", (event) => {
  console.error("Critical", event.error);
  trapped(event.error);
});

function recover() {
  if (state.criticalError) {
    console.log("Reinitializing the Wasm instance after a critical error");
    till.__wbg_reset_state(); // a new instance, whose start counts itself in `instanceId`
    state.criticalError = false;
  }
}

async function run(handler, event, env, ctx) {
  recover();
  let abort;
  const aborted = new Promise((_, reject) => {
    abort = reject;
  });
  aborted.catch(() => {});
  inFlight.add(abort);
  try {
    return await Promise.race([handler(event, env, ctx), aborted]);
  } catch (error) {
    trapped(error);
    throw error;
  } finally {
    inFlight.delete(abort);
  }
}

// What the API answers for a failure on its side (`ErrorCode::ApiError`), here for the
// one Rust cannot answer itself.
const FAILED = JSON.stringify({
  error: {
    type: "api_error",
    code: "api_error",
    message: "Something went wrong on our side. Please try again.",
  },
});

export default {
  fetch: (request, env, ctx) =>
    run(till.fetch, request, env, ctx).catch((error) => {
      console.error("Request failed:", error);
      return new Response(FAILED, {
        status: 500,
        headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
      });
    }),
  // The link host's Worker has no cron of its own, nor a `scheduled` export.
  ...(exported.scheduled && { scheduled: (event, env, ctx) => run(exported.scheduled, event, env, ctx) }),
};
