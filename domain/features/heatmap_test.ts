import assert from "node:assert/strict";
import { colormap, renderHeatmap, resizeRgb } from "./heatmap.ts";

Deno.test("colormap: the ramp's end stops, clamping, and brightness monotone in t", () => {
  assert.deepEqual(colormap(0), [0, 0, 4]);
  assert.deepEqual(colormap(1), [252, 255, 164]);
  assert.deepEqual(colormap(-3), colormap(0));
  assert.deepEqual(colormap(7), colormap(1));
  assert.deepEqual(colormap(NaN), colormap(0));
  const brightness = (t: number) => colormap(t).reduce((a, b) => a + b, 0);
  for (let t = 0; t < 1; t += 0.05) assert.ok(brightness(t + 0.05) >= brightness(t), `t ${t}`);
});

Deno.test("resizeRgb: nearest-neighbour upscaling repeats each pixel", () => {
  const image = { width: 2, height: 1, data: Uint8Array.of(1, 2, 3, 4, 5, 6) };
  const big = resizeRgb(image, { width: 4, height: 2 });
  assert.deepEqual([...big.data.subarray(0, 12)], [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
  assert.deepEqual(big.data.subarray(12), big.data.subarray(0, 12));
});

Deno.test("renderHeatmap: scaled by the maximum, negatives as zero, alpha over a background", () => {
  const values = Float32Array.of(-1, 2);
  const plain = renderHeatmap(values, { grid: { h: 1, w: 2 }, size: { width: 2, height: 1 } });
  assert.deepEqual([...plain.data], [...colormap(0), ...colormap(1)]);
  const background = { width: 1, height: 1, data: Uint8Array.of(100, 100, 100) };
  const blended = renderHeatmap(values, {
    grid: { h: 1, w: 2 },
    size: { width: 2, height: 1 },
    background,
    alpha: 0.5,
  });
  assert.deepEqual([...blended.data.subarray(0, 3)], [50, 50, 52]);
  const flat = renderHeatmap(new Float32Array(4), {
    grid: { h: 2, w: 2 },
    size: { width: 3, height: 3 },
  });
  assert.ok(flat.data.every((v, i) => v === colormap(0)[i % 3]), "all zero: the darkest colour");
});
