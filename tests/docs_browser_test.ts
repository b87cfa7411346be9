/**
 * The interactive reference page in a real browser: it renders every operation of the
 * OpenAPI document, and a request sent from it reaches the service and shows the answer.
 * Ignored where no Chromium is installed.
 * @module
 */

import assert from "node:assert/strict";
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
