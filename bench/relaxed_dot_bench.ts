/**
 * Where WebAssembly's relaxed 8-bit dot (`i32x4.relaxed_dot_i8x16_i7x16_add_s`, the int8
 * encode's inner instruction) lands on this CPU: the same register-only loop with the relaxed
 * dot and with the plain SIMD equivalent (widen to i16, `i32x4.dot_i16x8_s`, add), 6
 * independent accumulators, each with its own operand updated by one i8x16.add per dot in
 * both loops (so nothing is hoisted or shared). About one relaxed dot per cycle or better means a single
 * instruction (VNNI `vpdpbusd`); about a third of that means `pmaddubsw` + `pmaddwd` + `paddd`.
 * Prints the CPU's flags that matter. Run: deno run -A bench/relaxed_dot_bench.ts
 * @module
 */

const SOURCE = `
@inline function relaxedStep(a: v128, x: v128, c: v128): v128 {
  return i32x4.relaxed_dot_i8x16_i7x16_add_s(a, x, c);
}
@inline function plainStep(a: v128, x: v128, c: v128): v128 {
  const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_s(x));
  const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_s(x));
  return i32x4.add(c, i32x4.add(lo, hi));
}
export function relaxed(n: i32, seed: i32): i32 {
  const x = i8x16.splat(<i8>(seed + 1));
  let a0 = i8x16.splat(<i8>seed), a1 = i8x16.splat(<i8>(seed + 2)), a2 = i8x16.splat(<i8>(seed + 3));
  let a3 = i8x16.splat(<i8>(seed + 4)), a4 = i8x16.splat(<i8>(seed + 5)), a5 = i8x16.splat(<i8>(seed + 6));
  let c0 = i32x4.splat(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  for (let i = 0; i < n; i++) {
    a0 = i8x16.add(a0, x); a1 = i8x16.add(a1, x); a2 = i8x16.add(a2, x);
    a3 = i8x16.add(a3, x); a4 = i8x16.add(a4, x); a5 = i8x16.add(a5, x);
    c0 = relaxedStep(a0, x, c0); c1 = relaxedStep(a1, x, c1); c2 = relaxedStep(a2, x, c2);
    c3 = relaxedStep(a3, x, c3); c4 = relaxedStep(a4, x, c4); c5 = relaxedStep(a5, x, c5);
  }
  const s = i32x4.add(i32x4.add(i32x4.add(c0, c1), i32x4.add(c2, c3)), i32x4.add(c4, c5));
  return i32x4.extract_lane(s, 0);
}
export function plain(n: i32, seed: i32): i32 {
  const x = i8x16.splat(<i8>(seed + 1));
  let a0 = i8x16.splat(<i8>seed), a1 = i8x16.splat(<i8>(seed + 2)), a2 = i8x16.splat(<i8>(seed + 3));
  let a3 = i8x16.splat(<i8>(seed + 4)), a4 = i8x16.splat(<i8>(seed + 5)), a5 = i8x16.splat(<i8>(seed + 6));
  let c0 = i32x4.splat(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  for (let i = 0; i < n; i++) {
    a0 = i8x16.add(a0, x); a1 = i8x16.add(a1, x); a2 = i8x16.add(a2, x);
    a3 = i8x16.add(a3, x); a4 = i8x16.add(a4, x); a5 = i8x16.add(a5, x);
    c0 = plainStep(a0, x, c0); c1 = plainStep(a1, x, c1); c2 = plainStep(a2, x, c2);
    c3 = plainStep(a3, x, c3); c4 = plainStep(a4, x, c4); c5 = plainStep(a5, x, c5);
  }
  const s = i32x4.add(i32x4.add(i32x4.add(c0, c1), i32x4.add(c2, c3)), i32x4.add(c4, c5));
  return i32x4.extract_lane(s, 0);
}
`;

const dir = await Deno.makeTempDir();
try {
  await Deno.writeTextFile(`${dir}/dot.ts`, SOURCE);
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "npm:assemblyscript@0.28.20/asc",
      `${dir}/dot.ts`,
      "-o",
      `${dir}/dot.wasm`,
      "--enable",
      "simd",
      "--enable",
      "relaxed-simd",
      "-O3",
      "--runtime",
      "stub",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
  const { instance } = await WebAssembly.instantiate(await Deno.readFile(`${dir}/dot.wasm`));
  const fns = instance.exports as Record<string, (n: number, seed: number) => number>;
  const flags = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^flags\s*:(.*)$/m)?.[1].trim().split(/\s+/) ?? [];
  const model = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^model name\s*:(.*)$/m)?.[1].trim() ?? "unknown CPU";
  const wanted = ["avx_vnni", "avx512_vnni", "avx512bw", "avx2", "ssse3"];
  console.log(
    `${model}; flags: ${wanted.map((f) => `${f} ${flags.includes(f) ? "yes" : "no"}`).join(", ")}`,
  );
  const n = 20_000_000;
  for (const name of ["relaxed", "plain"]) fns[name](1000, 3); // warm up (tier-up)
  const results: Record<string, number> = {};
  for (const name of ["relaxed", "plain"]) {
    let best = Infinity;
    for (let t = 0; t < 5; t++) {
      const t0 = performance.now();
      fns[name](n, 3);
      best = Math.min(best, performance.now() - t0);
    }
    const dots = 6 * n;
    results[name] = dots / (best / 1000);
    console.log(
      `${name.padEnd(8)} ${(dots / (best / 1000) / 1e9).toFixed(2)} G dots/s = ${
        (16 * dots / (best / 1000) / 1e9).toFixed(1)
      } G int8 multiply-adds/s (one thread)`,
    );
  }
  console.log(`relaxed / plain: ${(results.relaxed / results.plain).toFixed(2)}x`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
