/**
 * Backend conformance: every fixture family's encode, decode and steer, checked against the
 * numbers written by tests/fixtures/make_fixtures.py (numpy). Run for each backend by its test
 * module (reference here; wasm and webgpu with their own tolerance).
 * @module
 */

import assert from "node:assert/strict";
import type { Backend } from "../backends/backend.ts";
import { matrix, type SparseRows } from "../domain/sae/matrix.ts";
import type { Activation, SaeWeights } from "../domain/sae/dictionary.ts";
import { Registry } from "../service/registry.ts";
import { decodeRows, encodeRows } from "../domain/sae/sae.ts";
import { type Intervention, steerRows } from "../domain/sae/steer.ts";
import { fileStore } from "../service/store/file.ts";
import { uniformArray } from "../domain/random.ts";

/** One fixture file's contents. */
export interface Fixture {
  case: string;
  family: string;
  d_in: number;
  d_sae: number;
  x: number[][];
  codes: number[][];
  reconstruction: number[][];
  decode: { indices: number[][]; values: number[][]; expected: number[][] };
  steer: { interventions: Intervention[]; expected: number[][] }[];
}

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** `n` seeded numbers uniform in [-scale, scale) (the backend tests' inputs; domain/random.ts). */
export function random(n: number, seed: number, options?: { scale?: number }): Float32Array {
  return uniformArray(n, seed, { scale: options?.scale ?? 1 });
}

/** A seeded random dictionary of `dIn` x `dSae` with `activation` (the backend tests' shapes). */
export function randomWeights(
  dIn: number,
  dSae: number,
  options: { activation: Activation; seed: number },
): SaeWeights {
  const { activation, seed } = options;
  return {
    dIn,
    dSae,
    wEnc: matrix([dIn, dSae], random(dIn * dSae, seed, { scale: 0.3 })),
    wDec: matrix([dSae, dIn], random(dSae * dIn, seed + 1, { scale: 0.3 })),
    bDec: random(dIn, seed + 2, { scale: 0.1 }),
    preBias: null,
    activation,
    normalization: "none",
    wSkip: null,
  };
}

/** One seeded parameter set of every activation kind for `dSae` latents, by name. */
export function everyActivation(dSae: number, seed: number): Record<string, Activation> {
  return {
    relu: { kind: "relu", bEnc: random(dSae, seed, { scale: 0.2 }) },
    jumprelu: {
      kind: "jumprelu",
      bEnc: random(dSae, seed, { scale: 0.2 }),
      threshold: random(dSae, seed + 7, { scale: 0.3 }).map(Math.abs),
    },
    gated: {
      kind: "gated",
      bGate: random(dSae, seed, { scale: 0.2 }),
      magScale: random(dSae, seed + 3, { scale: 0.5 }).map((v) => Math.exp(v)),
      bMag: random(dSae, seed + 4, { scale: 0.2 }),
    },
    topk: { kind: "topk", bEnc: random(dSae, seed, { scale: 0.2 }), k: 7 },
    groupmax: { kind: "groupmax", bEnc: random(dSae, seed, { scale: 0.2 }), k: 4 },
    tanh_relu: { kind: "tanh_relu", bEnc: random(dSae, seed, { scale: 0.2 }) },
    // Shifted down so that rows keep negative codes.
    topk_signed: {
      kind: "topk_signed",
      bEnc: random(dSae, seed, { scale: 0.2 }).map((v) => v - 2),
      k: 7,
    },
  };
}

/** Every fixture, sorted by case name. */
export function loadFixtures(): Fixture[] {
  const dir = new URL("expected/", FIXTURES);
  return [...Deno.readDirSync(dir)]
    .filter((e) => e.name.endsWith(".json"))
    .map((e) => JSON.parse(Deno.readTextFileSync(new URL(e.name, dir))) as Fixture)
    .sort((a, b) => a.case.localeCompare(b.case));
}

/** A registry over the fixture dictionaries. */
export function fixtureRegistry(backend: Backend): Registry {
  return new Registry(fileStore(new URL("dicts", FIXTURES).pathname), {
    backend,
    memoryBudget: 1 << 30,
  });
}

/** Assert |a - b| <= tol * max(1, |b|) elementwise (relative, absolute near zero). */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  options: { tol: number; what: string },
): void {
  const { tol, what } = options;
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const err = Math.abs(actual[i] - e);
    if (!(err <= tol * Math.max(1, Math.abs(e)))) {
      assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${e} (tolerance ${tol})`);
    }
  }
}

function dense(codes: SparseRows, r: number): Float32Array {
  const out = new Float32Array(codes.width);
  codes.indices[r].forEach((ix, j) => (out[ix] = codes.values[r][j]));
  return out;
}

/** Register one Deno test per fixture case and operation for `backend`. */
export function conformanceTests(
  name: string,
  makeBackend: () => Promise<Backend> | Backend,
  options: { tol: number },
): void {
  const { tol } = options;
  for (const f of loadFixtures()) {
    Deno.test(`${name}: ${f.case} encode, decode and steer match numpy`, async () => {
      const backend = await makeBackend();
      const registry = fixtureRegistry(backend);
      const lease = await registry.acquire(f.case);
      try {
        const x = matrix([f.x.length, f.d_in], Float32Array.from(f.x.flat()));
        const enc = await encodeRows({ backend, prepared: lease.prepared }, x, {
          include: new Set(["reconstruction"]),
        });
        for (let r = 0; r < x.rows; r++) {
          assertClose(dense(enc.codes, r), f.codes[r], {
            tol: tol,
            what: `${f.case} codes row ${r}`,
          });
          // Sorted descending, ties by lower index, zeros never listed.
          const v = enc.codes.values[r];
          for (let j = 1; j < v.length; j++) {
            assert.ok(v[j - 1] >= v[j], `${f.case} row ${r} order`);
          }
          assert.ok(v.every((e) => e !== 0));
        }
        assertClose(enc.reconstruction!.data, f.reconstruction.flat(), {
          tol: tol,
          what: `${f.case} reconstruction`,
        });

        const codes: SparseRows = {
          width: f.d_sae,
          indices: f.decode.indices.map((ix) => Int32Array.from(ix)),
          values: f.decode.values.map((v) => Float32Array.from(v)),
        };
        const y = await decodeRows({ backend, prepared: lease.prepared }, codes);
        assertClose(y.data, f.decode.expected.flat(), { tol: tol, what: `${f.case} decode` });

        for (const [n, s] of f.steer.entries()) {
          const out = await steerRows({ backend, prepared: lease.prepared }, x, {
            interventions: s.interventions,
          });
          assertClose(out.data, s.expected.flat(), {
            tol: tol,
            what: `${f.case} steer #${n} ${JSON.stringify(s.interventions)}`,
          });
        }
      } finally {
        lease.release();
        registry.close();
      }
    });
  }
}
