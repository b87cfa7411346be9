import assert from "node:assert/strict";
import { Sha256 } from "./sha256.ts";
import { randomBytes } from "../../tests/random_bytes.ts";

async function subtleHex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("Sha256 matches the FIPS 180-4 examples", () => {
  const text = new TextEncoder();
  assert.equal(
    new Sha256().digestHex(),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    new Sha256().update(text.encode("abc")).digestHex(),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    new Sha256()
      .update(text.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
      .digestHex(),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assert.equal(
    new Sha256()
      .update(
        text.encode(
          "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq" +
            "klmnopqrlmnopqrsmnopqrstnopqrstu",
        ),
      )
      .digestHex(),
    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
  );
});

Deno.test("Sha256 of one million 'a' (NIST), whole and streamed in uneven chunks", async () => {
  const want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  const million = new Uint8Array(1_000_000).fill(0x61);
  assert.equal(new Sha256().update(million).digestHex(), want);
  assert.equal(await subtleHex(million), want);
  for (const step of [1, 55, 64, 997, 65_537]) {
    const hash = new Sha256();
    for (let at = 0; at < million.byteLength; at += step) {
      hash.update(million.subarray(at, at + step));
    }
    assert.equal(hash.digestHex(), want, `chunks of ${step}`);
  }
});

Deno.test("Sha256 equals crypto.subtle for every length around block and padding edges", async () => {
  for (let length = 0; length <= 200; length++) {
    const bytes = randomBytes(length);
    assert.equal(
      new Sha256().update(bytes).digestHex(),
      await subtleHex(bytes),
      `length ${length}`,
    );
  }
});

Deno.test("Sha256 gives the same digest however the input is split into updates", async () => {
  for (const length of [1, 63, 64, 65, 127, 1000, 4096, 100_003, 1 << 20]) {
    const bytes = randomBytes(length);
    const want = await subtleHex(bytes);
    for (let trial = 0; trial < 5; trial++) {
      const hash = new Sha256();
      let at = 0;
      while (at < length) {
        const step = Math.min(length - at, 1 + Math.floor(Math.random() * (trial * 40 + 3)) * 17);
        hash.update(bytes.subarray(at, at + step));
        at += step;
      }
      assert.equal(hash.digestHex(), want, `length ${length} trial ${trial}`);
    }
  }
});

Deno.test("Sha256.digestHex leaves the running state usable for further updates", async () => {
  const bytes = randomBytes(300);
  const hash = new Sha256().update(bytes.subarray(0, 100));
  assert.equal(hash.digestHex(), await subtleHex(bytes.subarray(0, 100)));
  assert.equal(hash.digestHex(), await subtleHex(bytes.subarray(0, 100)));
  hash.update(bytes.subarray(100));
  assert.equal(hash.digestHex(), await subtleHex(bytes));
});

Deno.test("Sha256 accepts empty updates and views into larger buffers", async () => {
  const backing = randomBytes(1000);
  const view = backing.subarray(37, 937);
  const hash = new Sha256().update(new Uint8Array(0)).update(view).update(new Uint8Array(0));
  assert.equal(hash.digestHex(), await subtleHex(view.slice()));
});
