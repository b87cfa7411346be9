/**
 * Requests as the HTTP stores send them, with scripted senders: 5xx and network errors retried
 * up to the limit, 4xx answered at once, timeouts, SaeErrors passed through; answers mapped to
 * SaeErrors by status; and credentials and signed queries cut from every quoted URL.
 * @module
 */

import assert from "node:assert/strict";
import { fetchWithRetry, responseError, scrubbed, type Sender } from "./http_fetch.ts";
import { SaeError } from "../../domain/errors.ts";

/** A sender answering each attempt from `script` (a status, or an error to throw). */
function scripted(script: (number | Error)[]): { send: Sender; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    send: () => {
      const step = script[Math.min(calls++, script.length - 1)];
      return step instanceof Error
        ? Promise.reject(step)
        : Promise.resolve(new Response(`status ${step}`, { status: step }));
    },
  };
}

const fast = { label: "s3://bucket/dict", retryDelayMs: 1 };

Deno.test("http fetch: 5xx answers are retried until one is below 500", async () => {
  const s = scripted([503, 500, 200]);
  const response = await fetchWithRetry(s.send, fast);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "status 200");
  assert.equal(s.calls(), 3);
});

Deno.test("http fetch: after the last retry the last answer is returned, whatever it is", async () => {
  const s = scripted([502]);
  const response = await fetchWithRetry(s.send, { ...fast, retries: 1 });
  assert.equal(response.status, 502);
  assert.equal(s.calls(), 2, "one attempt and one retry");
  await response.body?.cancel();
  const none = scripted([503]);
  await (await fetchWithRetry(none.send, { ...fast, retries: 0 })).body?.cancel();
  assert.equal(none.calls(), 1);
});

Deno.test("http fetch: 4xx answers are not retried", async () => {
  const s = scripted([404, 200]);
  const response = await fetchWithRetry(s.send, fast);
  assert.equal(response.status, 404);
  assert.equal(s.calls(), 1);
  await response.body?.cancel();
});

Deno.test("http fetch: network errors are retried, then unavailable with a scrubbed cause", async () => {
  const recovered = scripted([new TypeError("connection reset"), 200]);
  assert.equal((await fetchWithRetry(recovered.send, fast)).status, 200);
  const down = scripted([new TypeError("error sending request for url (https://u:p@h/x?sig=1)")]);
  await assert.rejects(fetchWithRetry(down.send, fast), (e) => {
    assert.ok(e instanceof SaeError && e.kind === "unavailable");
    assert.equal(e.message, "s3://bucket/dict: cannot reach the store");
    assert.equal(
      (e.cause as Error).message,
      "TypeError: error sending request for url (https://h/x)",
    );
    return true;
  });
  assert.equal(down.calls(), 3, "two retries by default");
});

Deno.test("http fetch: a SaeError from the sender passes through untouched", async () => {
  const refusal = new SaeError("invalid", "bad path");
  const s = scripted([refusal]);
  await assert.rejects(fetchWithRetry(s.send, fast), (e) => e === refusal);
  assert.equal(s.calls(), 1);
});

Deno.test("http fetch: an attempt with no answer in timeoutMs is aborted and retried", async () => {
  let calls = 0;
  const hang: Sender = (signal) => {
    calls++;
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  };
  await assert.rejects(
    fetchWithRetry(hang, { ...fast, retries: 1, timeoutMs: 10 }),
    (e) =>
      e instanceof SaeError && e.message === "s3://bucket/dict: the store did not answer in time",
  );
  assert.equal(calls, 2);
});

Deno.test("http fetch: responseError maps statuses to kinds and adds the detail", async () => {
  const error = (status: number, detail?: string) =>
    responseError(new Response("secret body", { status }), "hf://org/repo", { detail });
  const cases: [number, string, string, string?][] = [
    [404, "not_found", "hf://org/repo not found (404)"],
    [410, "not_found", "hf://org/repo not found (410)"],
    [401, "unavailable", "hf://org/repo: access denied (401)"],
    [
      403,
      "unavailable",
      "hf://org/repo: access denied (403 SignatureDoesNotMatch)",
      "SignatureDoesNotMatch",
    ],
    [500, "unavailable", "hf://org/repo: the store answered 500"],
    [429, "unavailable", "hf://org/repo: the store answered 429 SlowDown", "SlowDown"],
  ];
  for (const [status, kind, message, detail] of cases) {
    const e = await error(status, detail);
    assert.deepEqual([e.kind, e.message], [kind, message]);
  }
});

Deno.test("http fetch: scrubbed cuts user info, queries and fragments from every URL", () => {
  const e = scrubbed(
    new Error(
      "GET https://AKIA:secret@bucket.s3.test/a/b?X-Amz-Signature=abc&X-Amz-Credential=k#f failed, then http://h/c?token=t",
    ),
  );
  assert.equal(e.message, "Error: GET https://bucket.s3.test/a/b failed, then http://h/c");
  assert.equal(scrubbed("plain words").message, "plain words");
  assert.equal(scrubbed(new RangeError("no url")).message, "RangeError: no url");
});
