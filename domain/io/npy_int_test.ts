import assert from "node:assert/strict";
import { decodeNpy, decodeNpyInt, decodeNpyIntegers, decodeNpyLabels, encodeNpy } from "./npy.ts";
import { FormatError } from "../errors.ts";

// Written by numpy: tests/fixtures/make_label_fixtures.py.
const DIR = new URL("../../tests/fixtures/formats/labels/", import.meta.url);
const read = (name: string) => Deno.readFileSync(new URL(name, DIR));
const LABELS = [0, 1, 1, 0, 1, 0];

function rejects(decode: () => unknown, kind: string, pattern: RegExp): void {
  assert.throws(decode, (e: unknown) => {
    assert.ok(e instanceof FormatError, String(e));
    assert.equal(e.kind, kind);
    assert.match(e.message, pattern);
    return true;
  });
}

for (const name of ["i8.npy", "i4.npy", "i4_be.npy", "u1.npy", "b1.npy"]) {
  Deno.test(`npy labels: ${name} as numpy writes it decodes to 0/1 labels, as floats and as integers`, () => {
    const labels = decodeNpyLabels(read(name));
    assert.deepEqual([...labels.shape], [6]);
    assert.deepEqual([...labels.data], LABELS);
    assert.deepEqual([...decodeNpy(read(name)).data], LABELS);
    assert.deepEqual([...decodeNpyIntegers(read(name)).data], LABELS);
  });
}

Deno.test("npy labels: float labels holding whole numbers decode; others name the element", () => {
  const f32 = encodeNpy(Float32Array.from(LABELS), [6]);
  assert.deepEqual([...decodeNpyLabels(f32).data], LABELS);
  rejects(
    () => decodeNpyLabels(encodeNpy(Float32Array.from([0, 0.5]), [2])),
    "invalid",
    /label 0\.5 at element 1 is not a whole number in 0\.\.1/,
  );
  assert.deepEqual([...decodeNpyLabels(read("i8_label_2.npy"), { classes: 3 }).data], [0, 1, 2, 1]);
});

Deno.test("npy labels: a label outside the range is an invalid FormatError naming the file", () => {
  rejects(
    () => decodeNpyLabels(read("i8_label_2.npy"), { name: "train_y.npy" }),
    "invalid",
    /^train_y\.npy: npy: label 2 at element 2 is outside 0\.\.1$/,
  );
});

Deno.test("npy labels: a wrong dtype names the file and the dtype found", () => {
  for (const decode of [decodeNpyLabels, decodeNpy, decodeNpyIntegers]) {
    rejects(
      () => decode(read("c8.npy"), { name: "/data/y.npy" }),
      "invalid",
      /^\/data\/y\.npy: npy: dtype <c8 is not supported/,
    );
  }
  rejects(
    () => decodeNpyIntegers(encodeNpy(Float32Array.from([1]), [1]), { name: "ids.npy" }),
    "invalid",
    /^ids\.npy: npy: dtype <f4 is not an integer or bool type$/,
  );
  // Without a name, the message stays as it was.
  rejects(() => decodeNpy(read("c8.npy")), "invalid", /^npy: dtype <c8 is not supported/);
});

Deno.test("npy integers: big-endian u8 up to 2^53 - 1 is exact; past 2^53 is refused", () => {
  assert.deepEqual([...decodeNpyIntegers(read("u8_be.npy")).data], [0, 2 ** 40, 2 ** 53 - 1]);
  rejects(
    () => decodeNpyIntegers(read("i8_past_2_53.npy")),
    "invalid",
    /9007199254740993 at element 1 is beyond 2\^53/,
  );
  rejects(() => decodeNpy(read("i8_past_2_53.npy")), "invalid", /beyond 2\^53/);
  rejects(
    () => decodeNpyInt(read("u8_be.npy")),
    "invalid",
    /1099511627776 at element 1 is outside/,
  );
});

Deno.test("npy integers: a Fortran-order i2 array comes back in C order", () => {
  const t = decodeNpyIntegers(read("i2_fortran.npy"), { min: 0, max: 5, what: "token id" });
  assert.deepEqual([...t.shape], [2, 3]);
  assert.deepEqual([...t.data], [0, 1, 2, 3, 4, 5]);
  rejects(
    () => decodeNpyIntegers(read("i2_fortran.npy"), { max: 4, what: "token id" }),
    "invalid",
    /token id 5 at element 5 is outside/,
  );
});

Deno.test("npy integers: maxBytes bounds the data before decoding", () => {
  rejects(() => decodeNpyLabels(read("i8.npy"), { maxBytes: 8 }), "malformed", /over the 8-byte/);
});
