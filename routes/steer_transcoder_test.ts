/**
 * Steering a transcoder is refused with a 422 problem+json that says why (its decoder writes
 * into another site's space), on /steer, /features/output-score/prepare and /steering-vector; encode and
 * decode of the same dictionary still answer.
 * @module
 */

import assert from "node:assert/strict";
import { loadFixtures } from "../tests/conformance.ts";
import { postJson, testApp } from "../tests/helpers.ts";
import { expectProblem } from "../tests/problem.ts";

const ID = "sparsify_transcode";
const f = loadFixtures().find((x) => x.case === ID)!;
const WHY = /sparsify_transcode is a transcoder/;

Deno.test("transcoder: steer is a 422 problem+json saying why", async () => {
  const { app, registry } = testApp();
  try {
    const res = await postJson(app, {
      path: `/v1/dictionaries/${ID}/steer`,
      body: {
        activations: f.x,
        interventions: [{ feature: 1, mode: "add", value: 2 }],
      },
    });
    await expectProblem(res, { status: 422, detail: WHY });
  } finally {
    registry.close();
  }
});

Deno.test("transcoder: output-score/prepare (steered rows) is a 422 problem+json", async () => {
  const { app, registry } = testApp();
  try {
    const res = await postJson(app, {
      path: `/v1/dictionaries/${ID}/features/output-score/prepare`,
      body: {
        features: [0, 1],
        activations: f.x[0],
      },
    });
    await expectProblem(res, { status: 422, detail: WHY });
  } finally {
    registry.close();
  }
});

Deno.test("transcoder: steering-vector (W_dec rows as input-space directions) is a 422", async () => {
  const { app, registry } = testApp();
  try {
    const res = await postJson(app, {
      path: `/v1/dictionaries/${ID}/steering-vector`,
      body: {
        features: [{ feature: 1, strength: 2 }],
        format: "json",
      },
    });
    await expectProblem(res, { status: 422, detail: WHY });
  } finally {
    registry.close();
  }
});

Deno.test("transcoder: encode and decode still answer", async () => {
  const { app, registry } = testApp();
  try {
    const enc = await postJson(app, {
      path: `/v1/dictionaries/${ID}/encode`,
      body: { activations: f.x },
    });
    assert.equal(enc.status, 200, await enc.clone().text());
    const codes = await enc.json();
    assert.equal(codes.indices.length, f.x.length);
    const dec = await postJson(app, {
      path: `/v1/dictionaries/${ID}/decode`,
      body: { codes: f.codes },
    });
    assert.equal(dec.status, 200, await dec.clone().text());
    assert.equal((await dec.json()).activations.length, f.codes.length);
  } finally {
    registry.close();
  }
});
