/**
 * The circuits chart on its own: title, axes, a colour scale with values, the top heads named and
 * outlined, warnings, and a size that fits the grid.
 * @module
 */

import assert from "node:assert/strict";
import { scoreGridSvg } from "./circuit_svg.ts";

Deno.test("scoreGridSvg: places heads by their LxHy names", () => {
  const svg = scoreGridSvg([0.1, 0.9], ["L0H1", "L2H0"]);
  assert.match(svg, /<title>L2H0: 0\.9000<\/title>/);
  assert.match(svg, />L2</);
  assert.equal(svg.match(/<rect class="cell"/g)?.length, 2);
});

Deno.test("scoreGridSvg: title, axes, colour scale values, top heads and warnings", () => {
  const names = ["L0H0", "L0H1", "L1H0", "L1H1"];
  const svg = scoreGridSvg([0.1, 0.2, 0.6, 0.1], names, {
    subtitle: "4 heads",
    top: 2,
    codes: [1, 2, 7, 1],
    warnings: ["labels and data look <unpaired>"],
  });
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assert.match(svg, />Circuit discovery: node score per head</);
  assert.match(svg, />4 heads</);
  assert.match(svg, />head</);
  assert.match(svg, />layer</);
  const scale = [...svg.matchAll(/class="scale-value">([^<]+)</g)].map((m) => m[1]);
  assert.deepEqual(scale, ["0.6", "0.45", "0.3", "0.15", "0"]);
  const top = [...svg.matchAll(/class="top-head">([^<]+)</g)].map((m) => m[1]);
  assert.deepEqual(top, ["#1 L1H0: 0.6, 7 codes", "#2 L0H1: 0.2, 2 codes"]);
  assert.equal(svg.match(/stroke="#000" stroke-width="2"/g)?.length, 2);
  assert.match(svg, /warning: labels and data look &#60;unpaired&#62;/);
  const [, w, h] = /width="(\d+)" height="(\d+)"/.exec(svg)!;
  assert.ok(Number(w) >= 640 && Number(h) >= 300, `${w} x ${h}`);
});

Deno.test("scoreGridSvg: 12 x 12 heads keep readable cells and a bounded size", () => {
  const names = Array.from({ length: 144 }, (_, i) => `L${Math.floor(i / 12)}H${i % 12}`);
  const svg = scoreGridSvg(names.map((_, i) => i / 144), names);
  const [, w, h] = /width="(\d+)" height="(\d+)"/.exec(svg)!;
  assert.ok(Number(w) <= 1200 && Number(h) <= 900, `${w} x ${h}`);
  assert.match(svg, /class="top-head">#1 L11H11: /);
  assert.match(svg, />L11</);
});
