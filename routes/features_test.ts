/**
 * Feature scores and steering vectors over HTTP against the numpy oracle
 * (tests/fixtures/make_steering_fixtures.py): logit lens through rmsnorm (Gemma offset) and
 * layernorm heads, input score, both output-score exchanges, statistics, steering vectors in
 * JSON / .npy / GGUF, and the new steer modes.
 * @module
 */

import assert from "node:assert/strict";
import { readGguf } from "../tests/gguf_reader.ts";
import { layerOfHook } from "./steering_vector.ts";
import { decodeNpy } from "../domain/io/npy.ts";
import { assertClose } from "../tests/conformance.ts";
import { postJson, testApp } from "../tests/helpers.ts";
import { fileStore } from "../service/store/file.ts";

const DEMO_STORE = new URL("../dictionaries", import.meta.url).pathname;

const DIR = new URL("../tests/fixtures/expected/steering/", import.meta.url);
const CASES = ["steer_rms", "steer_ln"].map((name) =>
  JSON.parse(Deno.readTextFileSync(new URL(`${name}.json`, DIR)))
);
const TOL = 1e-4;

for (const fx of CASES) {
  const url = `/v1/dictionaries/${fx.dictionary}`;

  Deno.test(`${fx.dictionary}: logit lens matches numpy (ids in order, probabilities)`, async () => {
    const { app, registry } = testApp();
    try {
      const res = await postJson(app, {
        path: `${url}/features/logit-lens`,
        body: {
          features: fx.logit_lens.features,
          top: fx.logit_lens.top,
        },
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = await res.json();
      for (const [n, want] of fx.logit_lens.expected.entries()) {
        const got = body.features[n];
        assert.equal(got.feature, want.feature);
        assert.deepEqual(
          got.tokens.map((t: { id: number }) => t.id),
          want.tokens.map((t: { id: number }) => t.id),
        );
        assert.deepEqual(
          got.tokens.map((t: { token: string }) => t.token),
          want.tokens.map((t: { token: string }) => t.token),
        );
        assertClose(
          got.tokens.map((t: { prob: number }) => t.prob),
          want.tokens.map((t: { prob: number }) => t.prob),
          { tol: TOL, what: "prob" },
        );
      }
    } finally {
      registry.close();
    }
  });

  Deno.test(`${fx.dictionary}: input score matches numpy`, async () => {
    const { app, registry } = testApp();
    try {
      const s = fx.input_score;
      const res = await postJson(app, {
        path: `${url}/features/input-score`,
        body: {
          features: s.features,
          activations: s.activations,
          token_ids: s.token_ids,
          example_ids: s.example_ids,
        },
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = await res.json();
      for (const [n, want] of s.expected.entries()) {
        const got = body.features[n];
        assert.equal(got.feature, want.feature);
        assert.ok(
          Math.abs(got.score - want.score) < 1e-9,
          `feature ${want.feature} score ${got.score} vs ${want.score}`,
        );
        assert.deepEqual(
          got.examples.map((e: { example_id: number }) => e.example_id),
          want.examples.map((e: { example_id: number }) => e.example_id),
        );
        assert.deepEqual(
          got.examples.map((e: { token_id: number }) => e.token_id),
          want.examples.map((e: { token_id: number }) => e.token_id),
        );
      }
    } finally {
      registry.close();
    }
  });

  Deno.test(`${fx.dictionary}: input score refuses a token id outside the head's vocabulary`, async () => {
    const { app, registry } = testApp();
    try {
      const s = fx.input_score;
      const res = await postJson(app, {
        path: `${url}/features/input-score`,
        body: {
          features: s.features,
          activations: s.activations,
          token_ids: s.token_ids.map((t: number, i: number) => i === 1 ? 99_999 : t),
          example_ids: s.example_ids,
        },
      });
      assert.equal(res.status, 422, await res.clone().text());
      const detail = (await res.json()).detail;
      assert.match(
        detail,
        new RegExp(`token_ids\\[1\\] is 99999, outside the head's vocabulary of ${fx.vocab_size} `),
      );
    } finally {
      registry.close();
    }
  });

  Deno.test(`${fx.dictionary}: output score, both steps, matches numpy`, async () => {
    const { app, registry } = testApp();
    try {
      const p = fx.output_score_prepare;
      const prep = await postJson(app, {
        path: `${url}/features/output-score/prepare`,
        body: {
          activations: p.activations,
          features: p.features,
          factor: p.factor,
        },
      });
      assert.equal(prep.status, 200, await prep.clone().text());
      assertClose((await prep.json()).activations.flat(), p.expected.flat(), {
        tol: TOL,
        what: "prepared rows",
      });
      const o = fx.output_score;
      const res = await postJson(app, {
        path: `${url}/features/output-score`,
        body: {
          features: o.features,
          logits: o.logits,
        },
      });
      assert.equal(res.status, 200, await res.clone().text());
      const { scores } = await res.json();
      for (const [n, want] of o.expected.entries()) {
        assert.equal(scores[n].feature, want.feature);
        assert.equal(scores[n].min_rank, want.min_rank);
        assertClose([scores[n].score, scores[n].max_prob], [want.score, want.max_prob], {
          tol: TOL,
          what: `feature ${want.feature}`,
        });
      }
      const wrong = await postJson(app, {
        path: `${url}/features/output-score`,
        body: {
          features: o.features,
          logits: o.logits.slice(1),
        },
      });
      assert.equal(wrong.status, 422);
      await wrong.body?.cancel();
    } finally {
      registry.close();
    }
  });

  Deno.test(`${fx.dictionary}: feature statistics match numpy`, async () => {
    const { app, registry } = testApp();
    try {
      const res = await postJson(app, {
        path: `${url}/features/stats`,
        body: {
          activations: fx.stats.activations,
          token_ids: fx.stats.token_ids,
        },
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = await res.json();
      assert.deepEqual(
        body.features.map((f: { feature: number }) => f.feature),
        fx.stats.expected.map((f: { feature: number }) => f.feature),
      );
      for (const [n, want] of fx.stats.expected.entries()) {
        const got = body.features[n];
        assertClose([got.density, got.mean, got.max], [want.density, want.mean, want.max], {
          tol: TOL,
          what: `feature ${want.feature}`,
        });
        assert.deepEqual(
          got.top_rows.map((t: { row: number }) => t.row),
          want.top_rows.map((t: { row: number }) => t.row),
        );
        assert.deepEqual(
          got.top_rows.map((t: { token_id: number }) => t.token_id),
          want.top_rows.map((t: { token_id: number }) => t.token_id),
        );
      }
    } finally {
      registry.close();
    }
  });

  Deno.test(`${fx.dictionary}: steering vectors (json, npy, gguf) match numpy`, async () => {
    const { app, registry } = testApp();
    try {
      const v = fx.steering_vector;
      for (const c of v.cases) {
        const res = await postJson(app, {
          path: `${url}/steering-vector`,
          body: {
            features: v.features,
            unit: c.unit,
            normalize: c.normalize,
          },
        });
        assert.equal(res.status, 200, await res.clone().text());
        assertClose((await res.json()).vector, c.expected, {
          tol: TOL,
          what: `${c.unit} normalize ${c.normalize}`,
        });
      }
      const c0 = v.cases[0];
      const npy = await postJson(app, {
        path: `${url}/steering-vector`,
        body: {
          features: v.features,
          unit: c0.unit,
          normalize: c0.normalize,
          format: "npy",
        },
      });
      assertClose(decodeNpy(new Uint8Array(await npy.arrayBuffer())).data, c0.expected, {
        tol: TOL,
        what: "npy",
      });
      const gguf = await postJson(app, {
        path: `${url}/steering-vector`,
        body: {
          features: v.features,
          unit: c0.unit,
          normalize: c0.normalize,
          format: "gguf",
          layer: 7,
        },
      });
      assert.equal(gguf.status, 200);
      const file = readGguf(new Uint8Array(await gguf.arrayBuffer()));
      assert.equal(file.tensors.length, 1);
      assert.equal(file.tensors[0].name, "direction.7");
      assertClose(file.tensors[0].data!, c0.expected, { tol: TOL, what: "gguf" });
    } finally {
      registry.close();
    }
  });

  if (fx.steer_modes) {
    Deno.test(`${fx.dictionary}: steer modes (unit norm, orthogonal, cap, relative, when) match their formulas`, async () => {
      const { app, registry } = testApp();
      try {
        for (const m of fx.steer_modes) {
          const res = await postJson(app, {
            path: `${url}/steer`,
            body: {
              activations: m.activations,
              interventions: m.interventions,
            },
          });
          assert.equal(res.status, 200, await res.clone().text());
          assertClose((await res.json()).activations.flat(), m.expected.flat(), {
            tol: TOL,
            what: JSON.stringify(m.interventions),
          });
        }
      } finally {
        registry.close();
      }
    });
  }

  if (fx.output_score_self) {
    Deno.test(`${fx.dictionary}: output score without the caller's model (dictionary before the final norm)`, async () => {
      const { app, registry } = testApp();
      try {
        const o = fx.output_score_self;
        const res = await postJson(app, {
          path: `${url}/features/output-score`,
          body: {
            features: o.features,
            activations: o.activations,
            factor: o.factor,
          },
        });
        assert.equal(res.status, 200, await res.clone().text());
        const { scores } = await res.json();
        for (const [n, want] of o.expected.entries()) {
          assert.equal(scores[n].min_rank, want.min_rank, `feature ${want.feature}`);
          assertClose([scores[n].score, scores[n].max_prob], [want.score, want.max_prob], {
            tol: 1e-3,
            what: `feature ${want.feature}`,
          });
        }
      } finally {
        registry.close();
      }
    });
  }
}

Deno.test("features: a dictionary without a model head gets a clear 422; output score needs logits unless before the norm", async () => {
  const { app, registry } = testApp();
  try {
    const res = await postJson(app, {
      path: "/v1/dictionaries/saelens_standard/features/logit-lens",
      body: {
        features: [0],
      },
    });
    assert.equal(res.status, 422);
    assert.match((await res.json()).detail, /model head/);
    const ln = CASES.find((c) => c.dictionary === "steer_ln")!;
    const self = await postJson(app, {
      path: `/v1/dictionaries/${ln.dictionary}/features/output-score`,
      body: {
        features: [0],
        activations: ln.output_score_prepare.activations,
      },
    });
    assert.equal(self.status, 422);
    assert.match((await self.json()).detail, /send logits/);
  } finally {
    registry.close();
  }
});

Deno.test("features: output score on a row where no latent fires is a 422, not unsteered scores", async () => {
  const { app, registry } = testApp({ store: fileStore(DEMO_STORE) });
  try {
    const row = new Array(64).fill(0.1); // demo-topk: every pre-activation is negative here
    const codes = await (await postJson(app, {
      path: "/v1/dictionaries/demo-topk/encode",
      body: { activations: [row] },
    })).json();
    assert.deepEqual(codes.indices, [[]], "nothing fires on this row");
    for (const path of ["features/output-score/prepare", "features/output-score"]) {
      const res = await postJson(app, {
        path: `/v1/dictionaries/demo-topk/${path}`,
        body: { features: [1, 2], activations: row },
      });
      assert.equal(res.status, 422, path);
      assert.match((await res.json()).detail, /no latent is active on this row/);
    }
  } finally {
    registry.close();
  }
});

Deno.test("layerOfHook maps TransformerLens hooks to llama.cpp control-vector layers", () => {
  assert.equal(layerOfHook("blocks.12.hook_resid_post"), 13);
  assert.equal(layerOfHook("blocks.12.hook_resid_pre"), 12);
  assert.equal(layerOfHook("model.layers.5"), 6);
  assert.equal(layerOfHook("embed"), null);
  // Not the residual stream: no layer (the caller passes one).
  assert.equal(layerOfHook("blocks.1.hook_mlp_out"), null);
  assert.equal(layerOfHook("blocks.3.attn.hook_z"), null);
  assert.equal(layerOfHook("layers.6.mlp"), null);
  assert.equal(layerOfHook("layers.6"), 7);
  assert.equal(layerOfHook(undefined), null);
});

Deno.test("steering vector GGUF: the layer comes from an unmodified SAELens folder's own hook name", async () => {
  const { app, registry } = testApp();
  try {
    // cfg.json hook_name blocks.1.hook_resid_post -> layer 2; legacy hook_point blocks.3.hook_resid_pre -> 3.
    for (
      const [id, tensor] of [["saelens_standard", "direction.2"], ["saelens_legacy", "direction.3"]]
    ) {
      const res = await postJson(app, {
        path: `/v1/dictionaries/${id}/steering-vector`,
        body: { features: [{ feature: 0, strength: 1 }], format: "gguf" },
      });
      assert.equal(res.status, 200, await res.clone().text());
      const file = readGguf(new Uint8Array(await res.arrayBuffer()));
      assert.equal(file.tensors[0].name, tensor, id);
    }
  } finally {
    registry.close();
  }
});
