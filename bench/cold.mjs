// `cargo xtask bench cold`: fresh starts of a Worker, each timed from launching workerd to
// the first correct answer to a short link (a 302 to its checkout page).
//
// Each start is a new workerd process (through miniflare, the library wrangler's local
// mode runs on), so nothing compiled survives from one start to the next. The Worker reads
// the D1 database and KV namespace a local Till run persisted, so the short link is
// resolved as in production: isolate memory is empty, the snapshot is in KV.
//
// Usage: node bench/cold.mjs PLAN.json — PLAN names the subjects, the rounds and the link:
//   {"rounds": 10, "url": "http://till.test/CODE",
//    "subjects": [{"name", "script", "persist", "vars": {…}, "service": "TILL"?}]}
// Prints one JSON line per start: {"subject", "round", "ms"}.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Miniflare } from "miniflare";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));

function options(subject) {
  const options = {
    modules: true,
    scriptPath: subject.script,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-20",
    d1Databases: { DB: "00000000-0000-4000-8000-000000000000" },
    kvNamespaces: { CACHE: "till-cache" },
    d1Persist: join(subject.persist, "v3", "d1"),
    kvPersist: join(subject.persist, "v3", "kv"),
    bindings: subject.vars ?? {},
    host: "127.0.0.1",
  };
  if (subject.service) {
    // The links Worker hands on what is not a short link; the benchmark asks only short
    // links, so the binding answers nothing.
    options.serviceBindings = { [subject.service]: () => new Response("not benchmarked", { status: 502 }) };
  }
  return options;
}

async function start(subject) {
  const began = performance.now();
  const mf = new Miniflare(options(subject));
  try {
    const response = await mf.dispatchFetch(plan.url, { redirect: "manual" });
    const ms = performance.now() - began;
    const location = response.headers.get("location") ?? "";
    await response.arrayBuffer();
    if (response.status !== 302 || !location.includes("/c/cs_")) {
      throw new Error(`${subject.name} answered ${response.status} ${location}`);
    }
    return ms;
  } finally {
    await mf.dispose();
  }
}

// One unmeasured start each: the OS has read the files, and each KV holds the snapshot.
for (const subject of plan.subjects) await start(subject);
// Rounds take the subjects in turn, each round starting one further along.
for (let round = 0; round < plan.rounds; round++) {
  for (let turn = 0; turn < plan.subjects.length; turn++) {
    const subject = plan.subjects[(round + turn) % plan.subjects.length];
    const ms = await start(subject);
    console.log(JSON.stringify({ subject: subject.name, round, ms }));
  }
}
