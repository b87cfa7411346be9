/**
 * Timing blocks for bench/encode_vs_torch.ts: medians, one timed block, and rounds that
 * alternate blocks of saeserve with blocks of its torch peer, so that the host's drift reaches
 * both sides of each round's ratio alike.
 * @module
 */

import type { TorchBlocks } from "./torch_peer.ts";

/** The median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median ms of `once` over calls made for `seconds` (at least 5 calls). */
export async function timed(once: () => Promise<void>, seconds: number): Promise<number> {
  const times: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline || times.length < 5) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Median ms of `once` over calls made for `seconds`, after 3 untimed calls (as torch's blocks). */
export async function block(once: () => Promise<void>, seconds: number): Promise<number> {
  for (let i = 0; i < 3; i++) await once();
  return await timed(once, seconds);
}

/** One way of timing saeserve in the interleaved rounds: one block's median in ms. */
export interface Side {
  /** How the requests are sent, as printed. */
  client: string;
  block(seconds: number): Promise<number>;
}

/**
 * `rounds` rounds of one block per saeserve side and a torch block for `rows` rows:
 * even rounds the sides then torch, odd rounds torch then the sides in reverse. One line per
 * side: its and torch's medians over blocks and each round's ratio (saeserve's time over
 * torch's: below 1 is faster).
 */
export async function interleaved(
  rows: number,
  sides: { saeserve: Side[]; torch: TorchBlocks },
  options: { rounds: number; blockSeconds: number; warmupSeconds: number },
): Promise<string[]> {
  const { rounds, blockSeconds } = options;
  await sides.torch.block(rows, options.warmupSeconds); // the torch process's own warm-up for this size
  const ours: number[][] = sides.saeserve.map(() => []);
  const theirs: number[] = [];
  const order = sides.saeserve.map((_, i) => i);
  for (let round = 0; round < rounds; round++) {
    const even = round % 2 === 0;
    if (!even) theirs.push(await sides.torch.block(rows, blockSeconds));
    for (const i of even ? order : [...order].reverse()) {
      ours[i].push(await sides.saeserve[i].block(blockSeconds));
    }
    if (even) theirs.push(await sides.torch.block(rows, blockSeconds));
  }
  return sides.saeserve.map((side, s) => {
    const ratios = ours[s].map((ms, i) => ms / theirs[i]);
    const sorted = [...ratios].sort((a, b) => a - b);
    return `${String(rows).padStart(4)} rows, ${side.client.padEnd(9)}: saeserve ${
      median(ours[s]).toFixed(2)
    } ms, torch ${median(theirs).toFixed(2)} ms; time ratio per round median ${
      median(ratios).toFixed(3)
    } (${sorted[0].toFixed(3)}-${sorted[sorted.length - 1].toFixed(3)}): ${
      ratios.map((r) => r.toFixed(3)).join(" ")
    }`;
  });
}
