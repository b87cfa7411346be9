import assert from "node:assert/strict";
import { decodeNpy, encodeNpy } from "./npy.ts";

/** An .npy file with the given descr, shape and raw data. */
function npyOf(descr: string, shape: string, data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([
    0x93,
    0x4e,
    0x55,
    0x4d,
    0x50,
    0x59,
    1,
    0,
    header.length & 0xff,
    header.length >> 8,
  ]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

Deno.test("npy: float32 round trip with a 64-byte aligned header", () => {
  const m = {
    data: new Float32Array([1, -2.5, 3e-8, 4, 5, 6]),
    rows: 2,
    cols: 3,
  };
  const bytes = encodeNpy(m);
  assert.equal((bytes.length - m.data.length * 4) % 64, 0);
  assert.deepEqual(decodeNpy(bytes), m);
  assert.throws(
    () => encodeNpy({ data: new Float32Array(5), rows: 2, cols: 3 }),
    RangeError,
  );
});

Deno.test("npy: decodes f8, big-endian f4, f2, i4 and 1-D arrays", () => {
  const f8 = new Uint8Array(new Float64Array([0.5, -1]).buffer);
  assert.deepEqual(
    decodeNpy(npyOf("<f8", "(1, 2)", f8)).data,
    new Float32Array([0.5, -1]),
  );
  const be = new Uint8Array(8);
  new DataView(be.buffer).setFloat32(0, 1.25, false);
  new DataView(be.buffer).setFloat32(4, -3, false);
  assert.deepEqual(decodeNpy(npyOf(">f4", "(2,)", be)), {
    data: new Float32Array([1.25, -3]),
    rows: 1,
    cols: 2,
  });
  const f2 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x0001]).buffer);
  assert.deepEqual(
    decodeNpy(npyOf("<f2", "(3,)", f2)).data,
    new Float32Array([1, -2, 2 ** -24]),
  );
  const i4 = new Uint8Array(new Int32Array([-1, 7]).buffer);
  assert.deepEqual(
    decodeNpy(npyOf("<i4", "(2, 1)", i4)).data,
    new Float32Array([-1, 7]),
  );
  assert.throws(() => decodeNpy(new Uint8Array(12)), /not an .npy/);
  assert.throws(
    () => decodeNpy(npyOf("<f4", "(1, 1, 1)", new Uint8Array(4))),
    /1-D or 2-D/,
  );
});
