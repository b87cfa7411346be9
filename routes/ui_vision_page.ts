/**
 * The vision page (GET /ui/vision, one tab of the explorer at /ui): a self-contained page (no
 * CDN) where a user uploads an image plus its patch activations (JSON [tokens, d] or .npy) or
 * loads the bundled example, picks a dictionary from the store's (GET /v1/dictionaries), and
 * sees the top features' heatmaps side by side; a new request or an error clears the previous
 * heatmaps. {@link visionExample} is its bundled example.
 * @module
 */

import { API_KEY_FIELD, API_KEY_STYLE, apiKeyScript } from "./ui_api_key.ts";

/**
 * The bundled example: a 64 x 64 gradient image and activations whose features vary by patch.
 * The PNG codec is imported on the first call, so an idle service does not hold it.
 */
export async function visionExample(): Promise<{
  dictionary: string;
  grid: number[];
  skip_tokens: number;
  image: string;
  activations: number[][];
}> {
  const { encodeRgbPng } = await import("../domain/io/image_codec.ts");
  const size = 64;
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const at = (y * size + x) * 3;
      data[at] = 40 + x * 3;
      data[at + 1] = 60 + y * 2;
      data[at + 2] = 150;
    }
  }
  const png = encodeRgbPng({ width: size, height: size, data });
  let bin = "";
  for (const b of png) bin += String.fromCharCode(b);
  const rows: number[][] = [Array.from({ length: 64 }, () => 0)]; // CLS token
  for (let p = 0; p < 16; p++) {
    rows.push(
      Array.from(
        { length: 64 },
        (_, c) => Math.round(Math.sin((c + 1) * (1 + (p % 4))) * (0.5 + p / 8) * 1000) / 1000,
      ),
    );
  }
  return {
    dictionary: "demo-topk",
    grid: [4, 4],
    skip_tokens: 1,
    image: `data:image/png;base64,${btoa(bin)}`,
    activations: rows,
  };
}

/** The vision page. */
export const VISION_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>saeserve: vision features</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f8fa;color:#1b1f24}
header{background:#24292f;color:#fff;padding:12px 24px;display:flex;align-items:center}h1{margin:0;font-size:20px}
${API_KEY_STYLE}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
fieldset{border:1px solid #d0d7de;border-radius:8px;background:#fff;margin-bottom:12px}
#tiles{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px}
figure img{display:block;width:192px;height:192px;image-rendering:auto}
figcaption{font-size:13px;color:#57606a;margin-top:4px}
#status{margin-left:8px;color:#57606a}
</style></head><body>
<header><h1>Vision features</h1>
${API_KEY_FIELD}</header>
<main>
<fieldset><legend>Input</legend>
<label>Dictionary <select id="dict"><option value="">loading...</option></select></label>
<label>Grid <input id="gh" value="4" size="3"> x <input id="gw" value="4" size="3"></label>
<label>Skip tokens <input id="skip" value="1" size="3"></label><br>
<label>Image (PNG/JPEG) <input id="image" type="file" accept="image/png,image/jpeg"></label>
<label>Activations (JSON [tokens, d] or .npy) <input id="acts" type="file" accept=".json,.npy"></label>
<label>Top features <input id="top" value="6" size="3"></label><br>
<button id="example" type="button">Load the bundled example</button>
<button id="run" type="button">Show heatmaps</button><span id="status"></span>
</fieldset>
<div id="tiles"></div>
</main>
<script>
let imageData = null, activations = null;
const $ = (id) => document.getElementById(id);
${apiKeyScript({ relist: "listDictionaries" })}
async function failure(r) {
  return keyFailure(r) ?? new Error((await r.json()).detail || r.status);
}
const status = (t) => ($("status").textContent = t);
function b64(buf) { let s = ""; const u = new Uint8Array(buf); for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000)); return btoa(s); }
function parseNpy(buf) {
  const u = new Uint8Array(buf); const dv = new DataView(buf);
  const v = u[6]; const len = v === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true); const off = (v === 1 ? 10 : 12) + len;
  const header = new TextDecoder().decode(u.subarray(v === 1 ? 10 : 12, off));
  const shape = header.match(/shape': \\(([^)]*)\\)/)[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (!/<f4/.test(header)) throw new Error("send float32 little-endian .npy");
  const data = new Float32Array(buf.slice(off)); const rows = [];
  for (let r = 0; r < shape[0]; r++) rows.push(Array.from(data.subarray(r * shape[1], (r + 1) * shape[1])));
  return rows;
}
$("image").addEventListener("change", async (e) => { const f = e.target.files[0]; if (f) imageData = b64(await f.arrayBuffer()); });
$("acts").addEventListener("change", async (e) => {
  const f = e.target.files[0]; if (!f) return;
  activations = f.name.endsWith(".npy") ? parseNpy(await f.arrayBuffer()) : JSON.parse(await f.text());
});
function choose(id) {
  const select = $("dict");
  if (![...select.options].some((o) => o.value === id)) select.append(new Option(id, id));
  select.value = id;
}
async function listDictionaries() {
  const select = $("dict");
  try {
    const r = await fetch("/v1/dictionaries", { headers: withKey({}) });
    if (!r.ok) throw await failure(r);
    const usable = (await r.json()).dictionaries.filter((d) => d.kind !== "aligned" && !d.error);
    const keep = select.value;
    select.textContent = "";
    for (const d of usable) select.append(new Option(d.id + " (" + d.architecture + ", d_in " + d.d_in + ", d_sae " + d.d_sae + ")", d.id));
    if (!usable.length) { select.append(new Option("(the store has no dictionaries)", "")); status("the store has no dictionaries"); }
    else if (keep) choose(keep);
  } catch (e) { select.textContent = ""; select.append(new Option("(cannot list dictionaries)", "")); status("error: cannot list dictionaries: " + e.message); }
}
const listed = listDictionaries();
$("example").addEventListener("click", async () => {
  const ex = await (await fetch("/ui/vision/example.json")).json();
  await listed;
  if (![...$("dict").options].some((o) => o.value === ex.dictionary)) {
    status("the example needs dictionary " + ex.dictionary + " (the embedded store's); this store does not hold it");
    return;
  }
  choose(ex.dictionary); $("gh").value = ex.grid[0]; $("gw").value = ex.grid[1]; $("skip").value = ex.skip_tokens;
  imageData = ex.image; activations = ex.activations; status("example loaded");
});
async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: withKey({ "content-type": "application/json" }), body: JSON.stringify(body) });
  if (!r.ok) throw await failure(r);
  return r;
}
let runs = 0;
function clearTiles() {
  for (const img of document.querySelectorAll("#tiles img")) URL.revokeObjectURL(img.src);
  $("tiles").textContent = "";
}
$("run").addEventListener("click", async () => {
  const run = ++runs; // a later request supersedes this one: its results are not shown
  clearTiles();
  try {
    if (!activations) throw new Error("load activations (or the example) first");
    if (!$("dict").value) throw new Error("pick a dictionary first");
    const id = encodeURIComponent($("dict").value);
    const grid = [Number($("gh").value), Number($("gw").value)];
    const skip = Number($("skip").value);
    status("encoding...");
    const enc = await (await post("/v1/dictionaries/" + id + "/encode", { activations, grid, skip_tokens: skip, maps_top: Number($("top").value) })).json();
    if (run !== runs) return;
    const tiles = $("tiles");
    for (const f of enc.maps[0].features) {
      const r = await post("/v1/dictionaries/" + id + "/heatmap", { activations, grid, skip_tokens: skip, feature: f.feature, image: imageData || undefined, size: [192, 192] });
      const blob = await r.blob();
      if (run !== runs) return;
      const url = URL.createObjectURL(blob);
      const fig = document.createElement("figure"); fig.className = "tile";
      const img = document.createElement("img"); img.src = url; img.alt = "feature " + f.feature;
      const cap = document.createElement("figcaption"); cap.textContent = "feature " + f.feature + " (max " + f.max.toFixed(3) + ")";
      fig.append(img, cap); tiles.append(fig);
    }
    status(enc.maps[0].features.length + " heatmaps");
  } catch (e) {
    if (run !== runs) return;
    clearTiles();
    status("error: " + e.message);
  }
});
</script></body></html>`;
