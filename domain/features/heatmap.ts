/**
 * Feature heatmaps: grid values colour-mapped (black -> purple -> orange -> yellow, an
 * "inferno"-like ramp), bilinearly upsampled to the output size and optionally blended over an
 * RGB image. Pixel brightness is monotone in the activation.
 * @module
 */

import type { RgbImage } from "../io/image_header.ts";

export type { RgbImage };

const STOPS: [number, [number, number, number]][] = [
  [0, [0, 0, 4]],
  [0.25, [87, 16, 110]],
  [0.5, [188, 55, 84]],
  [0.75, [249, 142, 9]],
  [1, [252, 255, 164]],
];

/** Colour of t in [0, 1]. */
export function colormap(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  for (let i = 1; i < STOPS.length; i++) {
    const [t1, c1] = STOPS[i];
    if (x <= t1) {
      const [t0, c0] = STOPS[i - 1];
      const u = (x - t0) / (t1 - t0);
      return [0, 1, 2].map((k) => Math.round(c0[k] + u * (c1[k] - c0[k]))) as [
        number,
        number,
        number,
      ];
    }
  }
  return STOPS[STOPS.length - 1][1];
}

/** Bilinear sample of a grid [h * w] at continuous coordinates (pixel centres). */
function sample(
  values: Float32Array,
  grid: { h: number; w: number },
  y: number,
  x: number,
): number {
  const gy = Math.min(grid.h - 1, Math.max(0, y - 0.5));
  const gx = Math.min(grid.w - 1, Math.max(0, x - 0.5));
  const y0 = Math.floor(gy);
  const x0 = Math.floor(gx);
  const y1 = Math.min(grid.h - 1, y0 + 1);
  const x1 = Math.min(grid.w - 1, x0 + 1);
  const fy = gy - y0;
  const fx = gx - x0;
  const v = (yy: number, xx: number) => values[yy * grid.w + xx];
  return (v(y0, x0) * (1 - fx) + v(y0, x1) * fx) * (1 - fy) +
    (v(y1, x0) * (1 - fx) + v(y1, x1) * fx) * fy;
}

/** Nearest-neighbour resize of an RGB image. */
export function resizeRgb(image: RgbImage, size: { width: number; height: number }): RgbImage {
  const out = new Uint8Array(size.width * size.height * 3);
  for (let y = 0; y < size.height; y++) {
    const sy = Math.min(image.height - 1, Math.floor(((y + 0.5) * image.height) / size.height));
    for (let x = 0; x < size.width; x++) {
      const sx = Math.min(image.width - 1, Math.floor(((x + 0.5) * image.width) / size.width));
      out.set(
        image.data.subarray((sy * image.width + sx) * 3, (sy * image.width + sx) * 3 + 3),
        (y * size.width + x) * 3,
      );
    }
  }
  return { width: size.width, height: size.height, data: out };
}

/**
 * Render `values` on `grid` as an RGB heatmap of `size`, scaled by `max` (default: the largest
 * value; negatives count as 0), blended with `alpha` over `background` when given.
 */
export function renderHeatmap(
  values: Float32Array,
  options: {
    grid: { h: number; w: number };
    size: { width: number; height: number };
    max?: number;
    background?: RgbImage;
    alpha?: number;
  },
): RgbImage {
  const { grid, size } = options;
  const max = options.max ?? values.reduce((m, v) => Math.max(m, v), 0);
  const bg = options.background ? resizeRgb(options.background, size) : null;
  const alpha = bg ? options.alpha ?? 0.6 : 1;
  const out = new Uint8Array(size.width * size.height * 3);
  for (let y = 0; y < size.height; y++) {
    for (let x = 0; x < size.width; x++) {
      const v = sample(
        values,
        grid,
        ((y + 0.5) * grid.h) / size.height,
        ((x + 0.5) * grid.w) / size.width,
      );
      const c = colormap(max > 0 ? Math.max(0, v) / max : 0);
      const at = (y * size.width + x) * 3;
      for (let k = 0; k < 3; k++) {
        out[at + k] = Math.round(alpha * c[k] + (1 - alpha) * (bg ? bg.data[at + k] : 0));
      }
    }
  }
  return { width: size.width, height: size.height, data: out };
}
