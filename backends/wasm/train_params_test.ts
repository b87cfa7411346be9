/**
 * The training kernels' parameter layouts (train_params.ts) against their own
 * (assembly/train_params.ts), and their operation codes within the range kept for training.
 * @module
 */

import assert from "node:assert/strict";
import { COMMON, OP, P, PARAM_WORDS } from "./params.ts";
import { TRAIN_BACKWARD, TRAIN_DECODE, TRAIN_ENCODE, TRAIN_PANELS } from "./train_params.ts";

/** The kernels' `const NAME = value` declarations. */
const KERNEL = new Map(
  [
    ...(await Deno.readTextFile(new URL("./assembly/train_params.ts", import.meta.url)))
      .matchAll(/^export const (\w+)(?:: i32)? = (-?\d+);/gm),
  ].map((m) => [m[1], Number(m[2])]),
);

const LAYOUTS = [
  [TRAIN_PANELS, "TPN_"],
  [TRAIN_ENCODE, "TEN_"],
  [TRAIN_DECODE, "TDE_"],
  [TRAIN_BACKWARD, "TBW_"],
] as const;

Deno.test("every training parameter word matches the kernels, clear of the common words", () => {
  const common = new Set<number>(Object.values(COMMON));
  for (const [layout, prefix] of LAYOUTS) {
    for (const [name, word] of Object.entries(layout)) {
      assert.equal(KERNEL.get(prefix + name), word, prefix + name);
      assert.ok(word >= 0 && word < PARAM_WORDS && !common.has(word), prefix + name);
    }
  }
  let declared = 0;
  for (const name of KERNEL.keys()) if (LAYOUTS.some(([, p]) => name.startsWith(p))) declared++;
  assert.equal(declared, LAYOUTS.reduce((n, [layout]) => n + Object.keys(layout).length, 0));
});

Deno.test("the fused training encode keeps the GEMM's words where gemmTile reads them", () => {
  for (const name of ["A", "LDA", "B", "K", "LDB", "PSTRIDE"] as const) {
    assert.equal(TRAIN_ENCODE[name], P[name], name);
  }
});

Deno.test("training operation codes are 40-59", () => {
  for (const code of [OP.trainPanels, OP.trainEncode, OP.trainDecode, OP.trainBackward]) {
    assert.ok(code >= 40 && code < 60);
  }
});
