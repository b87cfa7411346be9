import assert from "node:assert/strict";
import { bytesSource } from "./byte_source.ts";
import { SaeError } from "../errors.ts";
import { encodeSafetensors, loadSafetensorsTensor, readSafetensorsHeader } from "./safetensors.ts";

const malformed = (pattern: RegExp) => (e: unknown) =>
  e instanceof SaeError && e.kind === "malformed" && pattern.test(e.message);

function withHeader(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

Deno.test("safetensors: encode then read back F32, F16 and BF16 tensors with metadata", async () => {
  const a = Float32Array.from([1, -2, 0.5, 3, 4, 5]);
  const bytes = encodeSafetensors({
    a: { shape: [2, 3], data: a },
    h: { shape: [6], data: a, dtype: "F16" },
    b: { shape: [3, 2], data: a, dtype: "BF16" },
  }, { metadata: { format: "pt" } });
  const source = bytesSource(bytes);
  const header = await readSafetensorsHeader(source);
  assert.equal(header.dataStart % 8, 0);
  assert.deepEqual(header.metadata, { format: "pt" });
  assert.deepEqual([...header.tensors.keys()], ["a", "h", "b"]);
  assert.equal(header.tensors.get("h")!.dtype, "F16");
  for (const name of ["a", "h", "b"]) {
    assert.deepEqual((await loadSafetensorsTensor(source, { header, name })).data, a);
  }
  assert.deepEqual([...(await loadSafetensorsTensor(source, { header, name: "b" })).shape], [3, 2]);
});

Deno.test("safetensors: a file written by the python format (numpy fixtures) loads", async () => {
  // tests/fixtures/dicts/saelens_standard is written by make_fixtures.py with a hand-rolled writer.
  const path = new URL(
    "../../tests/fixtures/dicts/saelens_standard/sae_weights.safetensors",
    import.meta.url,
  );
  const source = bytesSource(Deno.readFileSync(path));
  const header = await readSafetensorsHeader(source);
  assert.ok(header.tensors.has("W_enc") && header.tensors.has("W_dec"));
  const wEnc = await loadSafetensorsTensor(source, { header, name: "W_enc" });
  assert.equal(wEnc.data.length, wEnc.shape[0] * wEnc.shape[1]);
});

Deno.test("safetensors: hostile headers are rejected before any data is read", async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(4), /too short/],
    [
      "huge length",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 1n << 40n, true);
        return b;
      })(),
      /over the/,
    ],
    [
      "length past end",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 100n, true);
        return b;
      })(),
      /past the end/,
    ],
    ["not JSON", withHeader("x", 0).map((v, i) => (i === 8 ? 0x7b : v)), /JSON/],
    ["array header", withHeader([1], 0), /object/],
    [
      "unknown dtype",
      withHeader({ t: { dtype: "Q7", shape: [1], data_offsets: [0, 4] } }, 4),
      /unknown dtype/,
    ],
    [
      "negative shape",
      withHeader({ t: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 4),
      /shape/,
    ],
    [
      "size mismatch",
      withHeader({ t: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, 4),
      /needs 8 bytes/,
    ],
    [
      "offsets past data",
      withHeader({ t: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, 4),
      /outside/,
    ],
    [
      "reversed offsets",
      withHeader({ t: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, 4),
      /outside/,
    ],
    [
      "overlap",
      withHeader({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      }, 12),
      /overlap/,
    ],
    ["bad metadata", withHeader({ __metadata__: { a: 1 } }, 0), /strings/],
  ];
  for (const [what, bytes, pattern] of cases) {
    await assert.rejects(readSafetensorsHeader(bytesSource(bytes)), malformed(pattern), what);
  }
});

Deno.test("safetensors: a known but non-float dtype parses, and loading it is an invalid error", async () => {
  const source = bytesSource(
    withHeader({ t: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, 8),
  );
  const header = await readSafetensorsHeader(source);
  await assert.rejects(
    loadSafetensorsTensor(source, { header, name: "t" }),
    (e: unknown) => e instanceof SaeError && e.kind === "invalid",
  );
});
