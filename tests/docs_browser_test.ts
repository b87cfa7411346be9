/**
 * The interactive reference page in a real browser: it renders every operation of the
 * OpenAPI document, a request sent from it reaches the service and shows the answer, and
 * every example it pre-fills succeeds against the embedded store. Ignored where no Chromium
 * is installed.
 * @module
 */

import assert from "node:assert/strict";
import { fileStore } from "../service/store/file.ts";
import { findChromium, launchChromium } from "./browser.ts";
import { testApp } from "./helpers.ts";

const chromium = findChromium();

Deno.test({
  name: "docs page lists every operation and sends an encode request from the browser",
  ignore: chromium === null,
  async fn() {
    const { app, registry } = testApp();
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const browser = await launchChromium(chromium!);
    try {
      const page = await browser.open(`http://127.0.0.1:${server.addr.port}/docs`);
      const paths = await page.waitFor<string[]>(
        `document.querySelectorAll("section.op").length > 5 &&
         [...document.querySelectorAll("section.op")].map((s) => s.dataset.method + " " + s.dataset.path)`,
      );
      const doc = await (await app.request("/openapi.json")).json();
      const expected = Object.entries(doc.paths).flatMap(([p, item]) =>
        Object.keys(item as Record<string, unknown>).map((m) => `${m} ${p}`)
      );
      assert.deepEqual(paths.sort(), expected.sort());

      // Fill the encode form for a fixture dictionary and press Send.
      const encode =
        `document.querySelector('section.op[data-path="/v1/dictionaries/{id}/encode"]')`;
      const dIn = await page.evaluate<number>(`(async () => {
        const box = ${encode};
        box.querySelector("input[name=id]").value = "saelens_standard";
        const d = await (await fetch("/v1/dictionaries/saelens_standard")).json();
        box.querySelector("textarea").value = JSON.stringify({activations: [Array(d.d_in).fill(0.25)], top: 3});
        box.querySelector("button").click();
        return d.d_in;
      })()`);
      const status = await page.waitFor<string>(
        `${encode}.querySelector(".status").textContent.match(/^\\d{3}/) && ${encode}.querySelector(".status").textContent`,
      );
      assert.match(status, /^200 reference/);
      const shown = JSON.parse(
        await page.evaluate<string>(`${encode}.querySelector("pre.response").textContent`),
      );
      const direct = await (await app.request("/v1/dictionaries/saelens_standard/encode", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ activations: [new Array(dIn).fill(0.25)], top: 3 }),
      })).json();
      assert.deepEqual(shown, direct);

      // A bad request from the page shows the problem+json status.
      await page.evaluate(
        `(() => { const b = ${encode}; b.querySelector("textarea").value = "{"; b.querySelector("button").click(); })()`,
      );
      assert.match(
        await page.waitFor<string>(
          `${encode}.querySelector(".status").textContent.startsWith("400") && ${encode}.querySelector(".status").textContent`,
        ),
        /^400/,
      );
    } finally {
      await browser.close();
      await server.shutdown();
      registry.close();
    }
  },
});

/** The embedded store (dictionaries/, demo-aligned included) in a temporary folder. */
async function embeddedStore(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "saeserve-docs-" });
  const embedded = new URL("../dictionaries/", import.meta.url);
  for (const entry of Deno.readDirSync(embedded)) {
    if (!entry.isDirectory) continue;
    const from = new URL(entry.name, embedded).pathname;
    const out = await new Deno.Command("cp", { args: ["-r", from, `${dir}/${entry.name}`] })
      .output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  }
  return dir;
}

Deno.test({
  name: "every example pre-filled on /docs succeeds against the embedded store",
  ignore: chromium === null,
  async fn() {
    const dir = await embeddedStore();
    const { app, registry } = testApp({ store: fileStore(dir) });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const browser = await launchChromium(chromium!);
    try {
      const page = await browser.open(`http://127.0.0.1:${server.addr.port}/docs`);
      const ops = await page.waitFor<{ label: string; examples: string[] }[]>(
        `document.querySelectorAll("section.op").length > 5 &&
         [...document.querySelectorAll("section.op")].map((s) => ({
           label: s.dataset.method + " " + s.dataset.path,
           examples: [...s.querySelectorAll("select[name=example] option")].map((o) => o.value),
         }))`,
      );
      const doc = await (await app.request("/openapi.json")).json();
      assert.equal(ops.length, Object.values(doc.paths).flatMap((i) => Object.keys(i!)).length);
      const answers: string[] = [];
      let sent = 0;
      for (const [n, op] of ops.entries()) {
        const box = `document.querySelectorAll("section.op")[${n}]`;
        for (const example of op.examples.length ? op.examples : [null]) {
          await page.evaluate(`(() => {
            const box = ${box};
            const select = box.querySelector("select[name=example]");
            if (select) {
              select.value = ${JSON.stringify(example)};
              select.dispatchEvent(new Event("change"));
            }
            box.querySelector("button").click();
          })()`);
          const status = await page.waitFor<string>(
            `(${box}.querySelector(".status").textContent.match(/^(\\d{3}|failed)/) || [])[0]`,
            { timeoutMs: 30_000 },
          );
          sent++;
          answers.push(`${status} ${op.label}${example === null ? "" : ` (${example})`}`);
        }
      }
      const failed = answers.filter((a) => !/^2\d\d /.test(a));
      assert.deepEqual(failed, [], answers.join("\n"));
      // Every operation was sent, those with several examples once per example.
      assert.ok(sent >= ops.length + 8, `only ${sent} requests for ${ops.length} operations`);
      assert.ok(answers.some((a) => a.includes("/v1/aligned/{id}/translate")));
      assert.ok(answers.some((a) => a.startsWith("200 get /v1/aligned/{id}")));
    } finally {
      await browser.close();
      await server.shutdown();
      registry.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
