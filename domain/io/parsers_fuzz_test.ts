/**
 * Mutation fuzzing of every parser: valid files with random bytes overwritten, truncated or
 * extended must either load or fail with a SaeError (never a crash, a RangeError, a hang or
 * an unbounded allocation). Seeded, so a failure reproduces.
 * @module
 */

import assert from "node:assert/strict";
import { bytesSource } from "./byte_source.ts";
import { SaeError } from "../errors.ts";
import { decodeNpy } from "./npy.ts";
import { encodeNpz, loadNpzArray, readNpzDirectory } from "./npz.ts";
import { encodeSafetensors, loadSafetensorsTensor, readSafetensorsHeader } from "./safetensors.ts";
import { mutate as mutateWith, rng } from "../../tests/fuzz.ts";

const mutate = (bytes: Uint8Array, random: () => number) =>
  mutateWith(bytes, random, {
    truncate: 0.15,
    extend: 0.2,
    header: { bytes: 200, share: 0.7 },
    specials: [0, 0xff, 0x7f, 0x80],
  });

async function survives(
  what: string,
  run: () => Promise<unknown> | unknown,
): Promise<"ok" | "rejected"> {
  try {
    await run();
    return "ok";
  } catch (e) {
    if (e instanceof SaeError) return "rejected";
    assert.fail(
      `${what}: threw a non-SaeError ${e instanceof Error ? `${e.name}: ${e.message}` : e}`,
    );
  }
}

const N = 1000;
const data = Float32Array.from({ length: 48 }, (_, i) => Math.sin(i));

Deno.test("fuzz: mutated .npy files load or fail with a SaeError", async () => {
  const random = rng(1);
  const valid = (await import("./npy.ts")).encodeNpy(data, [6, 8]);
  const outcomes = { ok: 0, rejected: 0 };
  for (let i = 0; i < N; i++) {
    const bytes = mutate(valid, random);
    outcomes[await survives(`npy mutant ${i}`, () => decodeNpy(bytes, { maxBytes: 1 << 20 }))]++;
  }
  assert.ok(outcomes.rejected > N / 4, `mutations rejected: ${JSON.stringify(outcomes)}`);
});

Deno.test("fuzz: mutated safetensors files load or fail with a SaeError", async () => {
  const random = rng(2);
  const valid = encodeSafetensors({
    a: { shape: [6, 8], data },
    b: { shape: [48], data, dtype: "BF16" },
  });
  const outcomes = { ok: 0, rejected: 0 };
  for (let i = 0; i < N; i++) {
    const source = bytesSource(mutate(valid, random));
    outcomes[
      await survives(`safetensors mutant ${i}`, async () => {
        const header = await readSafetensorsHeader(source);
        for (const name of header.tensors.keys()) {
          await loadSafetensorsTensor(source, { header, name });
        }
      })
    ]++;
  }
  assert.ok(outcomes.rejected > N / 4, `mutations rejected: ${JSON.stringify(outcomes)}`);
});

for (const compress of [false, true]) {
  Deno.test(`fuzz: mutated ${compress ? "compressed" : "stored"} .npz files load or fail with a SaeError`, async () => {
    const random = rng(compress ? 3 : 4);
    const valid = await encodeNpz({ W: { shape: [6, 8], data }, b: { shape: [48], data } }, {
      compress,
    });
    const outcomes = { ok: 0, rejected: 0 };
    for (let i = 0; i < N; i++) {
      const bytes = mutate(valid, random);
      // Mutate the tail too, where the central directory lives.
      if (random() < 0.5) {
        bytes[bytes.length - 1 - Math.floor(random() * Math.min(bytes.length, 120))] ^= 0xff;
      }
      const source = bytesSource(bytes);
      outcomes[
        await survives(`npz mutant ${i}`, async () => {
          const members = await readNpzDirectory(source);
          for (const entry of members.values()) await loadNpzArray(source, entry);
        })
      ]++;
    }
    assert.ok(outcomes.rejected > N / 4, `mutations rejected: ${JSON.stringify(outcomes)}`);
  });
}
