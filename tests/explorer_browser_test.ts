/**
 * /ui, the feature explorer, in a real headless Chromium against the embedded store: pick the
 * dictionary, search "pirate", open the card, upload activations as an .npy, see their top
 * features, steer one and see the change; each step's screenshot is checked for what it should
 * show (link-blue result text, the card's lines). With EXPLORER_SCREENSHOTS=<folder> the
 * screenshots are also written there:
 *
 *     EXPLORER_SCREENSHOTS=/tmp/explorer deno test -A tests/explorer_browser_test.ts
 * @module
 */

import assert from "node:assert/strict";
import { decode as decodePng } from "fast-png";
import { demoRows } from "../routes/examples.ts";
import { fileStore } from "../service/store/file.ts";
import { findChromium, launchChromium } from "./browser.ts";
import { testApp } from "./helpers.ts";
import { apiKeyAuth } from "../routes/auth.ts";

const chromium = findChromium();
const DEMO = new URL("../dictionaries", import.meta.url).pathname;
const SHOTS = Deno.env.get("EXPLORER_SCREENSHOTS");

/** A float32 .npy of `rows`, base64. */
function npyBase64(rows: number[][]): string {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows.length}, ${
    rows[0].length
  }), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += " ";
  header += "\n";
  const head = new Uint8Array(10 + header.length);
  head.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0]);
  new DataView(head.buffer).setUint16(8, header.length, true);
  head.set(new TextEncoder().encode(header), 10);
  const data = new Uint8Array(Float32Array.from(rows.flat()).buffer);
  const all = new Uint8Array(head.length + data.length);
  all.set(head);
  all.set(data, head.length);
  let bin = "";
  for (const b of all) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Pixels of the page's link blue (#0969da) in a screenshot. */
function bluePixels(png: Uint8Array): number {
  const img = decodePng(png);
  let n = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    const r = img.data[i * img.channels] as number;
    const g = img.data[i * img.channels + 1] as number;
    const b = img.data[i * img.channels + 2] as number;
    if (b > 170 && r < 90 && g > 60 && g < 150) n++;
  }
  return n;
}

/** Dark (text) pixels in the right column of a screenshot, where the card shows. */
function cardText(png: Uint8Array): number {
  const img = decodePng(png);
  let n = 0;
  for (let y = 130; y < img.height; y++) {
    for (let x = Math.floor(img.width * 0.45); x < img.width; x++) {
      const i = (y * img.width + x) * img.channels;
      if ((img.data[i] as number) < 80 && (img.data[i + 1] as number) < 80) n++;
    }
  }
  return n;
}

Deno.test({
  name: "ui: search a feature, open its card, upload activations, steer; screenshots show each",
  ignore: chromium === null,
  async fn() {
    const { app, registry } = testApp({ store: fileStore(DEMO) });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const browser = await launchChromium(chromium!);
    const shots: [string, Uint8Array][] = [];
    try {
      const page = await browser.open(`http://127.0.0.1:${server.addr.port}/ui`);
      const info = await page.waitFor<string>(
        `(() => { const s = document.getElementById("dictinfo").textContent; return s && s; })()`,
      );
      assert.equal(info, "128 features explained");
      const options = await page.evaluate<string[]>(
        `[...document.querySelectorAll("#dict option")].map((o) => o.value)`,
      );
      assert.deepEqual(options, ["demo-jumprelu", "demo-sparsify", "demo-topk"]);
      assert.equal(
        await page.evaluate<string>(`document.getElementById("dict").value`),
        "demo-topk",
      );
      const blank = await page.screenshot();
      shots.push(["0-start", blank]);

      // Search from the keyboard: "/" focuses the box, Enter searches.
      await page.evaluate(`(() => {
        document.dispatchEvent(new KeyboardEvent("keydown", { key: "/" }));
        const q = document.activeElement; q.value = "pirate";
        q.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
      })()`);
      const first = await page.waitFor<string>(
        `(() => { const b = document.querySelector("#results button"); return b && b.textContent; })()`,
      );
      assert.equal(first, "#0 pirates, ships and sailing on the open sea");
      const searched = await page.screenshot();
      shots.push(["1-search", searched]);
      assert.ok(bluePixels(searched) > bluePixels(blank) + 100, "the result is not on screen");

      // Open the card.
      await page.evaluate(`document.querySelector("#results button").click()`);
      const card = await page.waitFor<{ expl: string[]; norm: string; lens: string; near: number }>(
        `(() => { const n = document.querySelectorAll("#nearest li").length; return n && {
          expl: [...document.querySelectorAll("#cardexpl li")].map((l) => l.textContent),
          norm: document.getElementById("norm").textContent,
          lens: document.getElementById("lenstop").textContent, near: n }; })()`,
      );
      assert.deepEqual(card.expl, [
        "pirates, ships and sailing on the open sea demo-explainer",
        "promotes tok000 logit-lens",
      ]);
      assert.equal(card.norm, "1.0000");
      assert.match(card.lens, /^tok000 /); // demo-head: feature t's lens peaks on token t
      assert.equal(card.near, 10);
      const opened = await page.screenshot();
      shots.push(["2-card", opened]);
      assert.ok(cardText(opened) > cardText(searched) + 2000, "the card is not on screen");

      // Upload two rows as an .npy and list their top features.
      await page.evaluate(`(() => {
        const bytes = Uint8Array.from(atob("${npyBase64(demoRows(2))}"), (c) => c.charCodeAt(0));
        const dt = new DataTransfer(); dt.items.add(new File([bytes], "rows.npy"));
        const input = document.getElementById("actsfile"); input.files = dt.files;
        input.dispatchEvent(new Event("change"));
      })()`);
      await page.waitFor(`/^loaded 2 rows/.test(document.getElementById("encstatus").textContent)`);
      await page.evaluate(`document.getElementById("encode").click()`);
      const rows = await page.waitFor<number>(
        `document.getElementById("encstatus").textContent === "2 rows" &&
          document.querySelectorAll("#rows p").length`,
      );
      assert.equal(rows, 2);
      const listed = await page.evaluate<number>(
        `document.querySelectorAll("#rows button").length`,
      );
      assert.equal(listed, 10);
      await page.evaluate(`document.getElementById("rows").scrollIntoView()`);
      const encoded = await page.screenshot();
      shots.push(["3-activations", encoded]);
      assert.ok(bluePixels(encoded) > 300, "the rows' features are not on screen");

      // Steer feature 0 (add 5) and see its activation rise in every row.
      await page.evaluate(`(() => {
        document.getElementById("sfeature").value = "0";
        document.getElementById("smode").value = "add";
        document.getElementById("svalue").value = "5";
        document.getElementById("steer").click();
      })()`);
      const steered = await page.waitFor<string[]>(
        `(() => { const p = [...document.querySelectorAll(".steerrow")].map((p) => p.textContent);
          return p.length === 2 && p; })()`,
        { timeoutMs: 20_000 },
      );
      for (const line of steered) {
        const m = line.match(/\|change\| ([\d.]+), feature 0 ([\d.]+) → ([\d.]+)/);
        assert.ok(m, line);
        assert.ok(Number(m[1]) > 1, line);
        assert.ok(Number(m[3]) > Number(m[2]) + 2, line);
      }
      assert.equal(
        await page.evaluate<string>(`document.getElementById("steerstatus").textContent`),
        "add 5 on feature 0",
      );
      await page.evaluate(`document.getElementById("steered").scrollIntoView()`);
      const steeredShot = await page.screenshot();
      shots.push(["4-steer", steeredShot]);
      assert.ok(bluePixels(steeredShot) > 300, "the steered rows are not on screen");

      // The vision page is a tab.
      await page.evaluate(`document.getElementById("tab-vision").click()`);
      const src = await page.waitFor<string>(`document.getElementById("vision").src`);
      assert.match(src, /\/ui\/vision$/);
      assert.equal(
        await page.evaluate<boolean>(`document.getElementById("panel-features").hidden`),
        true,
      );
    } finally {
      if (SHOTS) {
        await Deno.mkdir(SHOTS, { recursive: true });
        for (const [name, png] of shots) await Deno.writeFile(`${SHOTS}/${name}.png`, png);
      }
      await browser.close();
      await server.shutdown();
      registry.close();
    }
  },
});

Deno.test({
  name:
    "ui: with API keys the explorer asks for one, then lists with it; the vision page uses it too",
  ignore: chromium === null,
  async fn() {
    const { app, registry } = testApp({
      store: fileStore(DEMO),
      auth: await apiKeyAuth({ keys: ["ui-secret"] }),
    });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const browser = await launchChromium(chromium!);
    try {
      const page = await browser.open(`http://127.0.0.1:${server.addr.port}/ui`);
      const asked = await page.waitFor<string>(
        `(() => { const s = document.getElementById("dictinfo").textContent; return s && s; })()`,
      );
      assert.equal(asked, "error: this service needs an API key: enter it at the top right");
      await page.evaluate(`(() => {
        const k = document.getElementById("apikey"); k.value = "ui-secret";
        k.dispatchEvent(new Event("change"));
      })()`);
      const info = await page.waitFor<string>(
        `(() => { const s = document.getElementById("dictinfo").textContent; return /explained/.test(s) && s; })()`,
      );
      assert.equal(info, "128 features explained");
      // The vision page, in the same tab, reads the key the explorer kept.
      await page.evaluate(`document.getElementById("tab-vision").click()`);
      const listed = await page.waitFor<string[]>(
        `(() => { const f = document.getElementById("vision").contentDocument;
          const o = f && [...f.querySelectorAll("#dict option")].map((o) => o.value);
          return o && o.length > 1 && o; })()`,
      );
      assert.ok(listed.includes("demo-topk"), JSON.stringify(listed));
    } finally {
      await browser.close();
      await server.shutdown();
      registry.close();
    }
  },
});
