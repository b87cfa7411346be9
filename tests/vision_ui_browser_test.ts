/**
 * /ui/vision in a real headless Chromium: the dictionary list comes from the store, load the
 * bundled example, show the heatmaps, check the screenshot actually shows them (heatmap colours
 * on screen), and check that a failing request clears them.
 * @module
 */

import assert from "node:assert/strict";
import { decode as decodePng } from "fast-png";
import { fileStore } from "../service/store/file.ts";
import { findChromium, launchChromium } from "./browser.ts";
import { testApp } from "./helpers.ts";

const chromium = findChromium();
const DEMO = new URL("../dictionaries", import.meta.url).pathname;

Deno.test({
  name:
    "ui/vision: dictionaries listed from the store; six heatmaps, visible in a screenshot; an error clears them",
  ignore: chromium === null,
  async fn() {
    const { app, registry } = testApp({ store: fileStore(DEMO) });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const browser = await launchChromium(chromium!);
    try {
      const page = await browser.open(`http://127.0.0.1:${server.addr.port}/ui/vision`);
      // The dictionary is picked from the store's dictionaries (aligned ones left out).
      const options = await page.waitFor<string[]>(
        `(() => { const o = [...document.querySelectorAll("#dict option")].map((o) => o.value);
           return o.length > 1 && o; })()`,
      );
      assert.deepEqual(options, ["demo-jumprelu", "demo-sparsify", "demo-topk"]);
      assert.equal(
        await page.evaluate<string>(`document.getElementById("dict").tagName`),
        "SELECT",
      );
      const before = decodePng(await page.screenshot());
      await page.evaluate(`document.getElementById("example").click()`);
      await page.waitFor(`document.getElementById("status").textContent === "example loaded"`);
      await page.evaluate(`document.getElementById("run").click()`);
      const done = await page.waitFor<string>(
        `(() => { const s = document.getElementById("status").textContent; return /heatmaps|error/.test(s) && s; })()`,
        { timeoutMs: 20_000 },
      );
      assert.equal(done, "6 heatmaps");
      const loaded = await page.waitFor<number>(
        `[...document.querySelectorAll("figure.tile img")].filter((i) => i.complete && i.naturalWidth === 192).length === 6 && 6`,
      );
      assert.equal(loaded, 6);
      const captions = await page.evaluate<string[]>(
        `[...document.querySelectorAll("figcaption")].map((f) => f.textContent)`,
      );
      assert.ok(captions.every((c) => /^feature \d+ \(max \d/.test(c)), captions.join("; "));
      // The screenshot shows the tiles: warm heatmap colours that were not on the page before.
      const warm = (img: ReturnType<typeof decodePng>) => {
        let n = 0;
        for (let i = 0; i < img.width * img.height; i++) {
          const r = img.data[i * img.channels] as number;
          const g = img.data[i * img.channels + 1] as number;
          const b = img.data[i * img.channels + 2] as number;
          if (r > 180 && b < 120 && r - b > 100 && g > 40) n++;
        }
        return n;
      };
      const after = decodePng(await page.screenshot());
      assert.ok(warm(after) > 500 + warm(before), `warm pixels ${warm(before)} -> ${warm(after)}`);
      assert.equal(
        await page.evaluate<string>(`document.getElementById("dict").value`),
        "demo-topk",
      );

      // A request that fails (17 tokens are not whole images of 1 + 5 x 5) clears the old tiles.
      await page.evaluate(`(() => {
        document.getElementById("gh").value = "5";
        document.getElementById("gw").value = "5";
        document.getElementById("run").click();
      })()`);
      const failed = await page.waitFor<string>(
        `(() => { const s = document.getElementById("status").textContent; return /^error/.test(s) && s; })()`,
        { timeoutMs: 20_000 },
      );
      assert.match(failed, /not a whole number of images/);
      assert.equal(
        await page.evaluate<number>(`document.querySelectorAll("figure.tile").length`),
        0,
      );
      const cleared = decodePng(await page.screenshot());
      assert.ok(warm(cleared) < warm(after) / 4, `warm pixels after the error: ${warm(cleared)}`);

      // Another dictionary from the list works: its heatmaps replace nothing stale.
      await page.evaluate(`(() => {
        document.getElementById("gh").value = "4";
        document.getElementById("gw").value = "4";
        document.getElementById("dict").value = "demo-sparsify";
        document.getElementById("run").click();
      })()`);
      const again = await page.waitFor<string>(
        `(() => { const s = document.getElementById("status").textContent; return /heatmaps|error/.test(s) && s; })()`,
        { timeoutMs: 20_000 },
      );
      assert.match(again, /^\d+ heatmaps$/);
      const tiles = await page.evaluate<number>(`document.querySelectorAll("figure.tile").length`);
      assert.equal(again, `${tiles} heatmaps`);
    } finally {
      await browser.close();
      await server.shutdown();
      registry.close();
    }
  },
});
