import assert from "node:assert/strict";
import { startService } from "../../tests/service_process.ts";
import {
  ablate,
  add,
  clamp,
  Client,
  ENCODE_INCLUDES,
  type Intervention,
  type Matrix,
  SaeServeError,
  scale,
  STEER_MODES,
} from "./mod.ts";
import { http1Fetch } from "./http1.ts";
import { encodeNpy } from "./npy.ts";

const ID = "demo-topk";

/** `rows` x 64 deterministic activations. */
function rows(n: number, seed = 1): Matrix {
  const data = Float32Array.from(
    { length: n * 64 },
    (_, i) => Math.sin(i * 0.37 + seed) * 2,
  );
  return { data, rows: n, cols: 64 };
}

Deno.test("TypeScript client against the service", async (t) => {
  const service = await startService({
    SAESERVE_STORE: `file://${new URL("../../dictionaries", import.meta.url).pathname}`,
  });
  const client = new Client({ baseUrl: service.url });
  try {
    await t.step("types agree with /openapi.json", async () => {
      const spec = await (await fetch(`${service.url}/openapi.json`)).json();
      const post = (p: string) =>
        spec.paths[`/v1/dictionaries/{id}/${p}`].post.requestBody
          .content["application/json"]
          .schema;
      const steer = post("steer").properties.interventions.items.properties;
      assert.deepEqual([...STEER_MODES].sort(), [...steer.mode.enum].sort());
      for (const key of ["feature", "value", "positions", "unit", "relative"]) {
        assert.ok(key in steer);
      }
      assert.deepEqual(
        [...ENCODE_INCLUDES].sort(),
        [...post("encode").properties.include.items.enum].sort(),
      );
    });

    await t.step(
      "dictionaries and describe; 404 as SaeServeError",
      async () => {
        const ids = (await client.dictionaries()).map((d) => d.id);
        assert.ok(ids.includes(ID) && ids.includes("demo-jumprelu"));
        const meta = await client.describe(ID);
        assert.deepEqual([meta.d_in, meta.d_sae, meta.architecture], [
          64,
          256,
          "topk",
        ]);
        const err = await client.describe("no/such").catch((e) => e);
        assert.ok(err instanceof SaeServeError);
        assert.equal(err.status, 404);
        assert.match(err.detail, /no\/such/);
      },
    );

    await t.step(
      "encode pads codes; extras; decode sparse = dense",
      async () => {
        const x = rows(3);
        const enc = await client.encode(ID, x, {
          top: 4,
          include: ["reconstruction", "error", "metrics"],
        });
        assert.deepEqual([enc.rows, enc.width], [3, 4]);
        assert.ok(
          enc.indices instanceof Int32Array &&
            enc.values instanceof Float32Array,
        );
        for (let i = 1; i < 4; i++) {
          assert.ok(enc.values[i] <= enc.values[i - 1]);
        }
        assert.equal(enc.reconstruction?.cols, 64);
        assert.ok(
          Math.abs(
            enc.reconstruction!.data[5] + enc.error!.data[5] - x.data[5],
          ) < 1e-5,
        );
        assert.equal(typeof enc.metrics?.fvu, "number");
        const sparse = await client.decode(ID, enc);
        const dense = new Float32Array(3 * 256);
        enc.indices.forEach((f, j) => {
          if (f >= 0) {
            dense[Math.floor(j / enc.width) * 256 + f] = enc.values[j];
          }
        });
        const fromDense = await client.decode(ID, {
          codes: { data: dense, rows: 3, cols: 256 },
        });
        assert.deepEqual([sparse.rows, sparse.cols], [3, 64]);
        sparse.data.forEach((v, i) => assert.ok(Math.abs(v - fromDense.data[i]) < 1e-6));
        const ragged = await client.decode(ID, {
          indices: [[0, 17], [80]],
          values: [[1.5, 0.5], [2]],
        });
        assert.equal(ragged.rows, 2);
        // Padding (-1 with value 0) anywhere in a row is left out; nothing else is.
        const padded = await client.decode(ID, {
          indices: Int32Array.of(0, -1, 17, -1, 80, -1),
          values: Float32Array.of(1.5, 0, 0.5, 0, 2, 0),
          width: 3,
        });
        assert.deepEqual(padded, ragged);
        // Rows with no active latent (width 0) still decode to one row each: b_dec.
        const none = await client.encode(ID, {
          data: new Float32Array(2 * 64),
          rows: 2,
          cols: 64,
        });
        const decoded = await client.decode(ID, none);
        assert.deepEqual([none.width, decoded.rows, decoded.cols], [0, 2, 64]);
      },
    );

    await t.step(
      "steer: helpers, nested arrays, long interventions as JSON",
      async () => {
        const x = rows(4, 2);
        const ivs = [clamp(3, 5), add(7, 1, { positions: [1] }), scale(9, 2), ablate(11)];
        const out = await client.steer(ID, x, ivs);
        assert.deepEqual([out.rows, out.cols], [4, 64]);
        assert.notDeepEqual(out.data, x.data);
        const nested = Array.from(
          { length: 4 },
          (_, r) => Array.from(x.data.subarray(r * 64, r * 64 + 64)),
        );
        assert.deepEqual(await client.steer(ID, nested, ivs), out);
        const many = [
          ...Array.from({ length: 256 }, (_, f) => add(f, 0, { positions: [0, 1, 2, 3] })),
          ...ivs,
        ];
        const long = await client.steer(ID, x, many);
        long.data.forEach((v, i) => assert.ok(Math.abs(v - out.data[i]) < 1e-5));
        for (const bad of [NaN, Infinity]) {
          await assert.rejects(client.steer(ID, x, [ablate(1), clamp(3, bad)]), {
            name: "RangeError",
            message: `interventions[1].value must be a finite number, not ${bad}`,
          });
        }
        const when = { ...clamp(3, 1), when: { feature: 2, op: ">" as const, value: -Infinity } };
        await assert.rejects(client.steer(ID, x, [when]), {
          name: "RangeError",
          message: "interventions[0].when.value must be a finite number, not -Infinity",
        });
        when.when.value = 0.5; // a finite threshold is sent and steers
        assert.equal((await client.steer(ID, x, [when])).rows, 4);
        const err = await client.steer(ID, x, [clamp(9999, 1)]).catch((e) => e);
        assert.ok(err instanceof SaeServeError && err.status === 422);
        // One intervention on its own is a list of one.
        assert.deepEqual(
          await client.steer(ID, x, clamp(3, 5)),
          await client.steer(ID, x, [clamp(3, 5)]),
        );
      },
    );

    await t.step(
      "encode reads a batch's .npz answer as the service's JSON answer says",
      async () => {
        const x = rows(6, 4);
        const types: string[] = [];
        const spy = new Client({
          baseUrl: service.url,
          fetch: async (url, init) => {
            const res = await fetch(url, init);
            types.push(res.headers.get("content-type") ?? "");
            return res;
          },
        });
        const cases = [[], ["reconstruction", "error"], [
          "reconstruction",
          "error",
          "metrics",
        ]] as const;
        for (const include of cases) {
          const enc = await spy.encode(ID, x, { top: 5, include });
          const metrics = include.some((i) => i === "metrics");
          // Metrics come as JSON: in an .npz answer they ride in a header that grows with the rows.
          assert.match(types.at(-1)!, metrics ? /^application\/json/ : /^application\/x-npz/);
          const query = `top=5${include.length ? `&include=${include.join(",")}` : ""}`;
          const res = await fetch(`${service.url}/v1/dictionaries/${ID}/encode?${query}`, {
            method: "POST",
            headers: { "content-type": "application/x-npy", accept: "application/json" },
            body: encodeNpy(x),
          });
          const json = await res.json();
          assert.deepEqual([enc.rows, enc.width], [6, 5]);
          for (let r = 0; r < 6; r++) {
            const row = (a: Int32Array | Float32Array) => Array.from(a.subarray(r * 5, r * 5 + 5));
            const n = json.indices[r].length;
            assert.deepEqual(row(enc.indices), [...json.indices[r], ...Array(5 - n).fill(-1)]);
            assert.deepEqual(row(enc.values), [...json.values[r], ...Array(5 - n).fill(0)]);
          }
          if (include.length) {
            assert.deepEqual(Array.from(enc.reconstruction!.data), json.reconstruction.flat());
            assert.deepEqual(Array.from(enc.error!.data), json.error.flat());
            assert.deepEqual(enc.metrics, metrics ? json.metrics : undefined);
          } else {
            assert.equal(enc.reconstruction, undefined);
            assert.equal(enc.metrics, undefined);
          }
        }
      },
    );

    await t.step(
      "on http1Fetch: the same answers and errors as on fetch",
      async () => {
        const transport = http1Fetch();
        const lean = new Client({ baseUrl: service.url, fetch: transport });
        try {
          const x = rows(5, 3);
          const include = ["reconstruction", "metrics"] as const;
          const [a, b] = await Promise.all(
            [client, lean].map((c) => c.encode(ID, x, { top: 8, include })),
          );
          assert.deepEqual(b, a);
          // 4000 rows with metrics: an .npz answer would carry them in a ~120 KB header, past
          // http1Fetch's 64 KiB head limit (and Node fetch's 16 KiB); they come as JSON.
          const big = await lean.encode(ID, rows(4000, 5), { top: 4, include: ["metrics"] });
          assert.deepEqual([big.rows, big.metrics?.per_row.l0.length], [4000, 4000]);
          assert.deepEqual(
            await lean.decode(ID, b),
            await client.decode(ID, a),
          );
          const many = Array.from({ length: 300 }, (_, f) => add(f % 256, 0.1));
          assert.deepEqual(
            await lean.steer(ID, x, many),
            await client.steer(ID, x, many),
          );
          assert.deepEqual(
            await lean.steer(ID, x, [clamp(3, 5)]),
            await client.steer(ID, x, [clamp(3, 5)]),
          );
          assert.deepEqual(
            await lean.dictionaries(),
            await client.dictionaries(),
          );
          const err = await lean.describe("no/such").catch((e) => e);
          assert.ok(
            err instanceof SaeServeError && err.status === 404 &&
              /no\/such/.test(err.detail),
          );
        } finally {
          transport.close();
        }
      },
    );
  } finally {
    await service.stop();
  }
});

/** A client whose fetch records each request and answers one row of zeros, without a service. */
function recordingClient(sent: { url: string; body: unknown }[]): Client {
  return new Client({
    baseUrl: "http://127.0.0.1:1",
    fetch: (url, init) => {
      sent.push({ url, body: init.body });
      const answer = encodeNpy({ data: new Float32Array(64), rows: 1, cols: 64 });
      return Promise.resolve(
        new Response(answer, { headers: { "content-type": "application/x-npy" } }),
      );
    },
  });
}

Deno.test("TypeScript client: decode leaves out padding only, refuses bad codes before sending", async () => {
  const sent: { url: string; body: unknown }[] = [];
  const client = recordingClient(sent);
  const refused: [Parameters<Client["decode"]>[1], string | RegExp][] = [
    [
      { indices: [[-5, 3]], values: [[7, 2]] },
      "row 0: feature index -5 is out of range (-1 is padding only with value 0)",
    ],
    [
      { indices: [[3, -1]], values: [[2, 0.5]] },
      "row 0: feature index -1 is out of range (its value is 0.5; -1 is padding only with value 0)",
    ],
    [
      { indices: Int32Array.of(1, -1, 2, -3), values: Float32Array.of(1, 0, 1, 0), width: 2 },
      /^row 1: feature index -3 is out of range/,
    ],
    [{ indices: [[1.7]], values: [[2]] }, "indices must be integers: row 0 has 1.7 at position 0"],
    [{ indices: [[1, 2]], values: [[2, 1, 3]] }, "row 0: 2 indices but 3 values"],
    [{ indices: [[1], [2]], values: [[1]] }, "indices has 2 rows but values has 1"],
  ];
  for (const [codes, message] of refused) {
    await assert.rejects(client.decode(ID, codes), { name: "RangeError", message });
  }
  assert.equal(sent.length, 0);
  await client.decode(ID, {
    indices: Int32Array.of(3, -1, 80, -1, -1, 17),
    values: Float32Array.of(2, 0, 0.5, 0, 0, 1),
    width: 2,
  });
  assert.deepEqual(JSON.parse(sent[0].body as string), {
    indices: [[3], [80], [17]],
    values: [[2], [0.5], [1]],
  });
});

Deno.test("TypeScript client: steer takes one intervention on its own, refuses others before sending", async () => {
  const sent: { url: string; body: unknown }[] = [];
  const client = recordingClient(sent);
  const x = rows(1);
  const notInterventions = [
    [7, ", got number"],
    [[add(1, 1), 7], ": element 1 is number"],
    [[[add(1, 1)]], ": element 0 is an array"],
    [new Float32Array(2), ", got a typed array"],
    [new Map([[1, 2]]), ": element 0 is an array"],
    [null, ", got null"],
  ] as const;
  for (const [bad, named] of notInterventions) {
    await assert.rejects(client.steer(ID, x, bad as unknown as Intervention[]), {
      name: "TypeError",
      message:
        `interventions must be a list of interventions (objects such as clamp(3, 1) returns)${named}`,
    });
  }
  assert.equal(sent.length, 0);
  await client.steer(ID, x, add(1, 1));
  const query = new URL(sent[0].url).searchParams.get("interventions");
  assert.deepEqual(JSON.parse(query!), [{ feature: 1, mode: "add", value: 1 }]);
  // Any iterable of interventions is taken as a list (a Set, a generator).
  await client.steer(ID, x, new Set([add(2, 1), add(3, 1)]));
  const fromSet = new URL(sent[1].url).searchParams.get("interventions");
  assert.deepEqual(JSON.parse(fromSet!).map((i: { feature: number }) => i.feature), [2, 3]);
});
