import assert from "node:assert/strict";
import { encodeNpy, parseNpyHeader } from "../domain/io/npy.ts";
import { jsonMatrix, jsonSparse, npyMatrix } from "./body_matrix.ts";
import { kindOf } from "../tests/sae_errors.ts";

Deno.test("jsonMatrix: 400 for wrong structure, 422 for ragged, empty or non-finite", () => {
  const m = jsonMatrix([[1, 2], [3, 4]], "x");
  assert.deepEqual([m.rows, m.cols, Array.from(m.data)], [2, 2, [1, 2, 3, 4]]);
  assert.equal(kindOf(() => jsonMatrix("no", "x")), "malformed");
  assert.equal(kindOf(() => jsonMatrix([["a"]], "x")), "malformed");
  assert.equal(kindOf(() => jsonMatrix([], "x")), "invalid");
  assert.equal(kindOf(() => jsonMatrix([[1, 2], [3]], "x")), "invalid");
  assert.equal(kindOf(() => jsonMatrix([[1e39]], "x")), "invalid"); // f32 overflow
  // A literal beyond f64 (1e400) parses as infinity: told it overflows, not merely "not finite".
  assert.throws(
    () => jsonMatrix(JSON.parse("[[1, 1e400]]"), "x"),
    /x\[0\]\[1\] is a literal beyond f64's range \(it reads as infinity\), which overflows f32/,
  );
  // One flat row: told to wrap it.
  assert.throws(
    () => jsonMatrix([1, 2, 3], "x"),
    /x must be rows .* send one row as \[\[\.\.\.\]\]/,
  );
});

Deno.test("jsonSparse and npyMatrix check shapes and values", () => {
  const codes = jsonSparse([[0, 3]], [[1, 2]], { width: 0 });
  assert.deepEqual(Array.from(codes.indices[0]), [0, 3]);
  assert.equal(kindOf(() => jsonSparse([[0]], [[1], [2]], { width: 0 })), "invalid");
  assert.equal(kindOf(() => jsonSparse([[-1]], [[1]], { width: 0 })), "invalid");
  assert.throws(
    () => jsonSparse([[0, 1]], JSON.parse("[[1, -1e400]]"), { width: 0 }),
    /values\[0\]\[1\] is a literal beyond f64's range \(it reads as infinity\), which overflows f32/,
  );
  // (-1, 0) is encode's padding: skipped, whatever the row's length.
  const padded = jsonSparse([[4, -1, -1], [-1]], [[2, 0, 0], [0]], { width: 0 });
  assert.deepEqual(padded.indices.map((ix) => Array.from(ix)), [[4], []]);
  assert.deepEqual(padded.values.map((v) => Array.from(v)), [[2], []]);
  assert.equal(kindOf(() => jsonSparse([[2 ** 32]], [[1]], { width: 0 })), "invalid");
  const npy = npyMatrix(encodeNpy(Float32Array.from([1, 2, 3]), [3]), "x");
  assert.deepEqual([npy.rows, npy.cols], [1, 3]);
  assert.equal(
    kindOf(() => npyMatrix(encodeNpy(Float32Array.from([1, NaN]), [1, 2]), "x")),
    "invalid",
  );
});

Deno.test("npyMatrix names a cut-off file, an f64 beyond f32 and a structured dtype plainly", () => {
  const message = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as Error).message;
    }
    return "no error";
  };
  const whole = encodeNpy(Float32Array.from({ length: 192 }, (_, i) => i), [1, 192]);
  assert.match(
    message(() => npyMatrix(whole.subarray(0, 200), "x")),
    /needs 768 data bytes, found/,
  );
  const wide = encodeNpy(Float32Array.from([1, 0, 2]), [1, 3], { dtype: "F64" });
  const at = parseNpyHeader(wide).dataOffset + 8;
  new DataView(wide.buffer, wide.byteOffset).setFloat64(at, 1e300, true);
  assert.match(
    message(() => npyMatrix(wide, "activations")),
    /activations\[0\]\[1\] is 1e\+300, which overflows f32/,
  );
  const header = "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (1,), }";
  const structured = new Uint8Array(128);
  structured.set([0x93, ..."NUMPY"].map((c) => typeof c === "number" ? c : c.charCodeAt(0)));
  structured.set([1, 0, 118, 0], 6);
  structured.set(new TextEncoder().encode(header.padEnd(117) + "\n"), 10);
  assert.equal(kindOf(() => npyMatrix(structured, "x")), "invalid");
  assert.match(message(() => npyMatrix(structured, "x")), /structured \(record\) type; send float/);
});
