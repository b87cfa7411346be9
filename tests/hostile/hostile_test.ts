/**
 * Hostile input, generated: a seeded stream of a few thousand bad requests against every route
 * that takes input (wrong JSON types at every field, out-of-range and non-finite numbers,
 * broken and deeply nested JSON, oversized bodies, random and absurd .npy bodies, wrong content
 * types, hostile dictionary ids, junk query strings). Every answer has to be a 4xx
 * problem+json document, no request may throw or hang, and afterwards the service still
 * encodes correctly.
 * @module
 */

import assert from "node:assert/strict";
import { assertClose, loadFixtures } from "../conformance.ts";
import { postJson, testApp } from "../helpers.ts";
import { generate } from "./generate.ts";
import { type Hostile, MAX_BODY } from "./request.ts";
import { seededRng } from "./rng.ts";
import { type Context, DICTS, type Dims, rows, templates } from "./templates.ts";

const SEED = 0x5ae_5e7e;
const REQUESTS = 5000;
const TIMEOUT_MS = 5000;

async function send(app: ReturnType<typeof testApp>["app"], h: Hostile): Promise<Response> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      Promise.resolve(app.request(h.url, h.init())),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("hostile requests: every one is a 4xx problem+json, none throws or hangs, and the service keeps serving", async () => {
  const started = performance.now();
  const { app, registry } = testApp({ maxBodyBytes: MAX_BODY });
  try {
    const dims: Record<string, Dims> = {};
    for (const id of DICTS) {
      const res = await app.request(`/v1/dictionaries/${id}`);
      assert.equal(res.status, 200, await res.clone().text());
      const body = await res.json();
      dims[id] = { dIn: body.d_in, dSae: body.d_sae };
    }
    // Probe documents to break, from real training.
    const d = dims.saelens_standard.dIn;
    const trainBody = (methods: string[]) => ({
      activations: rows(8, d),
      labels: [0, 1, 0, 1, 0, 1, 0, 1],
      methods,
      ...(methods.includes("sae") ? { dictionary: "saelens_standard", k: [2] } : {}),
    });
    const logistic = await postJson(app, {
      path: "/v1/probes/train",
      body: trainBody(["logistic"]),
    });
    assert.equal(logistic.status, 200, await logistic.clone().text());
    const sae = await postJson(app, { path: "/v1/probes/train", body: trainBody(["sae"]) });
    assert.equal(sae.status, 200, await sae.clone().text());
    const ctx: Context = {
      templates: templates(dims, {
        logistic: (await logistic.json()).probe,
        sae: (await sae.json()).probe,
      }),
      dims,
    };
    // Every template is valid as it stands, so each mutation is what makes a request bad.
    for (const t of ctx.templates) {
      const res = await postJson(app, { path: t.path, body: t.body });
      const text = await res.text();
      assert.equal(res.status, 200, `${t.name} ${t.path}: ${text.slice(0, 300)}`);
    }

    const rng = seededRng(SEED);
    const counts = new Map<number, number>();
    const kinds = new Map<string, number>();
    const failures: string[] = [];
    const overflowAccepted: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const h = generate(rng, ctx);
      kinds.set(h.kind, (kinds.get(h.kind) ?? 0) + 1);
      let res: Response;
      try {
        res = await send(app, h);
      } catch (e) {
        failures.push(`#${i} ${h.kind} [${h.what}]: threw ${(e as Error).message}`);
        continue;
      }
      counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
      const text = await res.text();
      if (h.overflow && res.status === 200) {
        // A finite scalar past the f32 range may pass validation when the answer stays finite;
        // an answer that overflowed must be a 422, never nulls in a 200.
        const type = res.headers.get("content-type") ?? "";
        if (type.startsWith("application/json") && /\bnull\b/.test(text)) {
          overflowAccepted.push(h.what);
          failures.push(`#${i} ${h.kind} [${h.what}]: 200 with non-finite (null) results`);
        }
        continue;
      }
      const where = `#${i} ${h.kind} [${h.what}]`;
      if (res.status >= 500 || res.status < 400) {
        failures.push(`${where}: status ${res.status} ${text.slice(0, 200)}`);
        continue;
      }
      if (!h.expect.includes(res.status)) {
        failures.push(`${where}: status ${res.status}, expected ${h.expect} ${text.slice(0, 200)}`);
        continue;
      }
      if (res.status === 405 && !/\bPOST\b|\bGET\b/.test(res.headers.get("allow") ?? "")) {
        failures.push(`${where}: 405 without an Allow header naming the path's methods`);
        continue;
      }
      const type = res.headers.get("content-type")?.split(";")[0];
      if (type !== "application/problem+json") {
        failures.push(`${where}: content-type ${type}`);
        continue;
      }
      try {
        const p = JSON.parse(text);
        assert.equal(p.status, res.status);
        assert.equal(typeof p.type, "string");
        assert.equal(typeof p.title, "string");
        assert.equal(typeof p.detail, "string");
      } catch (e) {
        failures.push(
          `${where}: bad problem document (${(e as Error).message}) ${text.slice(0, 200)}`,
        );
      }
    }

    const summary = [...counts].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(", ");
    console.log(`hostile requests: ${REQUESTS} (${summary})`);
    console.log(`  by kind: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}`);
    if (overflowAccepted.length) {
      console.log(
        `  known issue: ${overflowAccepted.length} finite scalars past the f32 range gave 200 ` +
          `with non-finite (null) results: ${
            [...new Set(overflowAccepted.map((w) => w.replace(/ = .*/, "")))].join("; ")
          }`,
      );
    }
    assert.equal(
      (Object.prototype as Record<string, unknown>).polluted,
      undefined,
      "no prototype pollution",
    );
    // Server errors first: they are what this test is for.
    failures.sort((a, b) => Number(!/status 5\d\d/.test(a)) - Number(!/status 5\d\d/.test(b)));
    assert.deepEqual(failures.slice(0, 40), [], `${failures.length} failures`);

    // The service still serves, with the right numbers.
    const f = loadFixtures().find((e) => e.case === "saelens_standard")!;
    const res = await postJson(app, {
      path: "/v1/dictionaries/saelens_standard/encode",
      body: {
        activations: f.x,
        include: ["reconstruction"],
      },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    for (let r = 0; r < f.x.length; r++) {
      const dense = new Array(f.d_sae).fill(0);
      body.indices[r].forEach((ix: number, j: number) => (dense[ix] = body.values[r][j]));
      assertClose(dense, f.codes[r], { tol: 1e-5, what: `codes row ${r}` });
    }
    assertClose(body.reconstruction.flat(), f.reconstruction.flat(), {
      tol: 1e-5,
      what: "reconstruction",
    });
    console.log(`  runtime ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    registry.close();
  }
});
