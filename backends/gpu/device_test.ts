import assert from "node:assert/strict";
import { SaeError } from "../../domain/errors.ts";
import { guardDevice, hasHardwareAdapter, openDevice } from "./device.ts";

const opened = await openDevice().catch(() => null);
const ignore = !opened;
const unavailable = (e: unknown) => e instanceof SaeError && e.kind === "unavailable";

Deno.test("hasHardwareAdapter answers without throwing", async () => {
  assert.equal(typeof await hasHardwareAdapter(), "boolean");
});

Deno.test({
  name: "guarded: a GPU validation error becomes SaeError unavailable; a result passes",
  ignore,
  async fn() {
    const device = opened!.device;
    const guard = guardDevice(device);
    assert.equal(await guard.guarded(() => 7), 7);
    await assert.rejects(
      guard.guarded(() => {
        // Invalid: a mappable buffer may not also be a storage buffer.
        device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
      }),
      (e) => unavailable(e) && /GPU error/.test((e as Error).message),
    );
    assert.equal(await guard.guarded(() => Promise.resolve("after")), "after");
  },
});

Deno.test({
  name: "safely: other failures become unavailable; RangeError passes; an aborted signal rejects",
  ignore,
  async fn() {
    const guard = guardDevice(opened!.device);
    await assert.rejects(guard.safely(() => Promise.reject(new Error("boom"))), unavailable);
    await assert.rejects(guard.safely(() => Promise.reject(new RangeError("shape"))), RangeError);
    const aborted = AbortSignal.abort(new Error("gone"));
    await assert.rejects(guard.safely(() => Promise.resolve(1), aborted), /gone/);
  },
});

Deno.test({
  name: "a lost device makes every guarded call unavailable (last test)",
  ignore,
  async fn() {
    const device = opened!.device;
    const guard = guardDevice(device);
    device.destroy();
    assert.match(await guard.lost, /./);
    await assert.rejects(guard.safely(() => Promise.resolve(1)), unavailable);
    assert.throws(() => guard.alive(), unavailable);
  },
});
