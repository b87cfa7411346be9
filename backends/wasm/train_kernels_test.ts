/**
 * The training kernels against plain TypeScript (f64) references on odd sizes: re-packing into
 * panels, the fused encode's TopK and AuxK selections (ties, padding, rows over several rounds),
 * the sparse decode with its residual, and the per-latent backward pass.
 * @module
 */

import assert from "node:assert/strict";
import { uniformArray } from "../../domain/random.ts";
import { topK } from "../../domain/sae/top_k.ts";
import { KernelCalls } from "./calls.ts";
import { SharedHeap } from "./heap.ts";
import { compileKernels } from "./kernels_module.ts";
import { pad8 } from "./pack.ts";
import { KernelPool } from "./pool.ts";
import {
  allocSelections,
  backwardLatents,
  decodeRows,
  encodeSelect,
  packPanels,
} from "./train_kernels.ts";
import { heapRows } from "./train_codes.ts";

const heap = new SharedHeap(
  new WebAssembly.Memory({ initial: 32, maximum: 4096, shared: true }),
  0,
);
const pool = await KernelPool.start(await compileKernels(), heap, { threads: 2 });
// A small checkpoint budget: the encode's row groups are a few rows.
const calls = new KernelCalls(pool, { heap, checkpointWork: 4096 });

/** Copy `values` into the kernels' memory (freed with the call). */
function put(alloc: (bytes: number) => number, values: Float32Array | Int32Array): number {
  const ptr = alloc(Math.max(1, values.length) * 4);
  if (values instanceof Float32Array) heap.f32(ptr, values.length).set(values);
  else heap.i32(ptr, values.length).set(values);
  return ptr;
}

function close(got: number, want: number, tolerance: number, label: string): void {
  assert.ok(
    Math.abs(got - want) <= tolerance * Math.max(1, Math.abs(want)),
    `${label}: ${got} vs ${want}`,
  );
}

Deno.test("packPanels: a row-major matrix of odd width becomes panels of 8 columns", async () => {
  const [k, n] = [5, 21];
  const ld = pad8(n);
  const src = uniformArray(k * ld, 1);
  const panels = await calls.call(undefined, async (ctx) => {
    const dst = ctx.alloc(k * ld * 4);
    await packPanels(ctx, put(ctx.alloc, src), { k, ld, n, dst });
    return heap.f32(dst, k * ld).slice();
  });
  for (let p = 0; p < ld / 8; p++) {
    for (let kk = 0; kk < k; kk++) {
      for (let j = 0; j < 8; j++) {
        assert.equal(panels[p * k * 8 + kk * 8 + j], src[kk * ld + p * 8 + j], `${p} ${kk} ${j}`);
      }
    }
  }
});

Deno.test("encodeSelect: TopK and AuxK of h = A W_enc + b_enc, ties to the lower index, odd shapes over several rounds", async () => {
  // 530 rows x 64 padded columns x 9: enough work for both workers, two rounds of rows.
  const [rows, k, n] = [530, 9, 61];
  const lda = 16;
  const npad = pad8(n);
  const a = uniformArray(rows * lda, 2);
  // Padding after the k used values must never be read.
  for (let r = 0; r < rows; r++) a.fill(1e30, r * lda + k, (r + 1) * lda);
  const w = uniformArray(k * npad, 3);
  const bias = uniformArray(npad, 4, { scale: 0.3 });
  // Columns 7 and 20 repeat column 3: equal h, so ties.
  for (let kk = 0; kk < k; kk++) w[kk * npad + 7] = w[kk * npad + 20] = w[kk * npad + 3];
  bias[7] = bias[20] = bias[3];
  const dead = Int32Array.from({ length: npad }, (_, j) => (j % 3 === 2 || j === 3 ? -1 : 0));
  const h = (r: number) =>
    Float32Array.from({ length: n }, (_, j) => {
      let s = bias[j];
      for (let kk = 0; kk < k; kk++) s += a[r * lda + kk] * w[kk * npad + j];
      return s;
    });
  for (const [cap, acap] of [[9, 4], [30, 12]]) {
    const got = await calls.call(undefined, async (ctx) => {
      const panels = ctx.alloc(k * npad * 4);
      await packPanels(ctx, put(ctx.alloc, w), { k, ld: npad, n, dst: panels });
      const main = allocSelections(ctx, { rows, stride: cap });
      const sel = allocSelections(ctx, { rows, stride: acap });
      await encodeSelect(ctx, put(ctx.alloc, a), {
        rows,
        lda,
        k,
        panels,
        n,
        bias: put(ctx.alloc, bias),
        main,
        aux: { dead: put(ctx.alloc, dead), sel },
      });
      return { main: heapRows(heap, main, { rows }), aux: heapRows(heap, sel, { rows }) };
    });
    let ties = 0;
    for (let r = 0; r < rows; r++) {
      const hr = h(r);
      const want = topK(hr, cap, { keep: (v) => v > 0 });
      const order = [...want.indices].sort((x, y) => x - y);
      assert.deepEqual([...got.main[r].idx], order, `cap ${cap} row ${r}`);
      got.main[r].vals.forEach((v, j) => close(v, hr[order[j]], 1e-5, `row ${r}`));
      if (order.includes(3) && !(order.includes(7) && order.includes(20))) ties++;
      const aux = topK(hr, acap, { keep: (v, j) => v > 0 && dead[j] !== 0 });
      assert.deepEqual([...got.aux[r].idx], [...aux.indices], `aux cap ${acap} row ${r}`);
    }
    if (cap === 9) assert.ok(ties > 0, "some rows break a tie at the cap");
  }
});

Deno.test("decodeRows: bias + codes @ W + ys y, its squared norm, scaled; padding stays zero", async () => {
  const [rows, d, n, stride] = [11, 13, 20, 6];
  const ld = pad8(d);
  const pad = (v: Float32Array, count: number) => {
    for (let r = 0; r < count; r++) v.fill(0, r * ld + d, (r + 1) * ld);
    return v;
  };
  const w = pad(uniformArray(n * ld, 5), n);
  const y = pad(uniformArray(rows * ld, 6), rows);
  const bias = pad(uniformArray(ld, 7), 1);
  const counts = Int32Array.from({ length: rows }, (_, r) => (r * 7) % (stride + 1));
  const idx = Int32Array.from({ length: rows * stride }, (_, i) => (i * 11) % n);
  const vals = uniformArray(rows * stride, 8);
  const [ys, ao] = [-1.5, 0.25];
  const got = await calls.call(undefined, async (ctx) => {
    const out = ctx.alloc(rows * ld * 4);
    const sq = ctx.alloc(rows * 4);
    const cnt = put(ctx.alloc, counts);
    const codes = { vals: put(ctx.alloc, vals), idx: put(ctx.alloc, idx), cnt, stride };
    await decodeRows(ctx, out, {
      rows,
      ld,
      w: put(ctx.alloc, w),
      codes,
      bias: put(ctx.alloc, bias),
      y: put(ctx.alloc, y),
      ys,
      ao,
      sq,
    });
    return { out: heap.f32(out, rows * ld).slice(), sq: heap.f32(sq, rows).slice() };
  });
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let c = 0; c < ld; c++) {
      let v = bias[c] + ys * y[r * ld + c];
      for (let j = 0; j < counts[r]; j++) {
        v += vals[r * stride + j] * w[idx[r * stride + j] * ld + c];
      }
      sq += v * v;
      if (c >= d) assert.equal(got.out[r * ld + c], 0, `padding ${r} ${c}`);
      else close(got.out[r * ld + c], ao * v, 1e-5, `out ${r} ${c}`);
    }
    close(got.sq[r], sq, 1e-5, `sq ${r}`);
  }
});

Deno.test("backwardLatents: per-latent W_dec, W_enc^T and b_enc gradients from the entries", async () => {
  const [n, rows, d] = [23, 7, 13];
  const ld = pad8(d);
  const w = uniformArray(n * ld, 9);
  const g = uniformArray(2 * rows * ld, 10);
  const s = uniformArray(rows * ld, 11);
  // Entries: latent i active in rows (i * j) % (2 rows) for j < i % 4 (none for some latents).
  const cptr = new Int32Array(n + 1);
  const erow: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i % 4; j++) erow.push((i * 5 + j * 3) % (2 * rows));
    cptr[i + 1] = erow.length;
  }
  const evals = uniformArray(erow.length, 12);
  const got = await calls.call(undefined, async (ctx) => {
    const gw = ctx.alloc(n * ld * 4);
    const ge = ctx.alloc(n * ld * 4);
    const gb = ctx.alloc(n * 4);
    heap.f32(gw, n * ld).fill(NaN);
    heap.f32(ge, n * ld).fill(NaN);
    await backwardLatents(ctx, {
      n,
      ld,
      w: put(ctx.alloc, w),
      g: put(ctx.alloc, g),
      s: put(ctx.alloc, s),
      rows,
      cptr: put(ctx.alloc, cptr),
      erow: put(ctx.alloc, Int32Array.from(erow)),
      eval: put(ctx.alloc, evals),
      gw,
      ge,
      gb,
    });
    return {
      gw: heap.f32(gw, n * ld).slice(),
      ge: heap.f32(ge, n * ld).slice(),
      gb: heap.f32(gb, n).slice(),
    };
  });
  for (let i = 0; i < n; i++) {
    const gw = new Float64Array(ld);
    const ge = new Float64Array(ld);
    let gb = 0;
    for (let e = cptr[i]; e < cptr[i + 1]; e++) {
      const at = erow[e];
      let dh = 0;
      for (let c = 0; c < ld; c++) dh += g[at * ld + c] * w[i * ld + c];
      for (let c = 0; c < ld; c++) {
        gw[c] += evals[e] * g[at * ld + c];
        ge[c] += dh * s[(at % rows) * ld + c];
      }
      gb += dh;
    }
    for (let c = 0; c < ld; c++) {
      close(got.gw[i * ld + c], gw[c], 1e-5, `gw ${i} ${c}`);
      close(got.ge[i * ld + c], ge[c], 1e-5, `ge ${i} ${c}`);
    }
    close(got.gb[i], gb, 1e-5, `gb ${i}`);
  }
});

Deno.test("train kernels: close the pool (last test)", () => pool.close());
