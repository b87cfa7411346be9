/**
 * The host's parameter layouts (params.ts) against the kernels' own (assembly/params.ts): a
 * word out of step would make a kernel read the wrong parameter.
 * @module
 */

import assert from "node:assert/strict";
import {
  ACT,
  AXPY,
  COMMON,
  COMPACT,
  I8,
  I8_FINISH,
  MERGE,
  OP,
  P,
  PARAM_WORDS,
  PREC,
  QUANT_I8,
  TN,
  TRANSPOSE_BLOCKS,
  TRANSPOSE_F32,
} from "./params.ts";

/** The kernels' `const NAME = value` declarations. */
const KERNEL = new Map(
  [
    ...(await Deno.readTextFile(new URL("./assembly/params.ts", import.meta.url))).matchAll(
      /^export const (\w+)(?:: i32)? = (-?\d+);/gm,
    ),
  ].map((m) => [m[1], Number(m[2])]),
);

/** Each `host` entry against the kernel constant `prefix + NAME` (NAME: upper snake case). */
function assertMirrors(host: Readonly<Record<string, number>>, prefix: string): void {
  for (const [name, value] of Object.entries(host)) {
    const kernelName = prefix + name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
    assert.equal(KERNEL.get(kernelName), value, kernelName);
  }
}

Deno.test("precisions, activations, operations and the tile width match the kernels", () => {
  assertMirrors(PREC, "PREC_");
  assertMirrors(ACT, "ACT_");
  assertMirrors(OP, "OP_");
  assert.equal(KERNEL.get("TN"), TN);
});

Deno.test("every parameter-block word matches the kernels, within PARAM_WORDS", () => {
  assertMirrors(COMMON, "P_");
  assertMirrors(P, "P_");
  assertMirrors(AXPY, "AX_");
  assertMirrors(TRANSPOSE_BLOCKS, "TB_");
  assertMirrors(COMPACT, "CP_");
  assertMirrors(TRANSPOSE_F32, "TF_");
  assertMirrors(MERGE, "MG_");
  assertMirrors(I8, "I8_");
  assertMirrors(QUANT_I8, "QI_");
  assertMirrors(I8_FINISH, "FN_");
  const layouts = [
    COMMON,
    P,
    AXPY,
    TRANSPOSE_BLOCKS,
    COMPACT,
    TRANSPOSE_F32,
    MERGE,
    QUANT_I8,
    I8_FINISH,
  ];
  for (const layout of layouts) {
    for (const word of Object.values(layout)) assert.ok(word >= 0 && word < PARAM_WORDS);
  }
});

Deno.test("operation words stay clear of the common words", () => {
  const common = new Set<number>(Object.values(COMMON));
  const layouts = [P, AXPY, TRANSPOSE_BLOCKS, COMPACT, TRANSPOSE_F32, MERGE, QUANT_I8, I8_FINISH];
  for (const layout of layouts) {
    for (const word of Object.values(layout)) assert.ok(!common.has(word));
  }
});
