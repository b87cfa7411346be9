/**
 * The feature explorer (GET /ui): a self-contained page (no CDN, no build step) with two tabs.
 * Features: pick a dictionary from the store's list, search its features by explanation, open
 * a feature card (explanations, decoder norm, logit lens, nearest features), paste or upload
 * activations (JSON [rows, d] or float32 .npy) to see each row's top features with their
 * explanations, and try a steer (feature, mode, value) with the change it makes shown. Vision:
 * the vision page (/ui/vision). Keyboard: "/" focuses the search box, Enter searches, results
 * and neighbours are buttons.
 * @module
 */

import { API_KEY_FIELD, API_KEY_STYLE, apiKeyScript } from "./ui_api_key.ts";

/** The explorer page. */
export const EXPLORER_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>saeserve: feature explorer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f8fa;color:#1b1f24}
header{background:#24292f;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
h1{margin:0;font-size:20px}nav button{background:none;border:0;color:#c9d1d9;font:inherit;padding:6px 10px;cursor:pointer;border-radius:6px}
nav button[aria-selected=true]{background:#57606a;color:#fff}
${API_KEY_STYLE}
main{max-width:1200px;margin:0 auto;padding:16px 24px}
.cols{display:grid;grid-template-columns:minmax(280px,1fr) minmax(320px,1.3fr);gap:16px}
section{border:1px solid #d0d7de;border-radius:8px;background:#fff;padding:10px 14px;margin-bottom:12px}
h2{font-size:16px;margin:0 0 8px}ol,ul{padding-left:20px;margin:4px 0}
li button,.feat{background:none;border:0;padding:0;color:#0969da;cursor:pointer;font:inherit;text-align:left}
.score{color:#57606a;font-size:12px}.warn{color:#9a6700}.err{color:#cf222e}
table{border-collapse:collapse}td{padding:1px 8px 1px 0;font-size:13px}
textarea{width:100%;height:70px;font:12px monospace}
#vision{width:100%;height:80vh;border:0}
</style></head><body>
<header><h1>Feature explorer</h1><nav role="tablist">
<button id="tab-features" role="tab" aria-selected="true">Features</button>
<button id="tab-vision" role="tab" aria-selected="false">Vision</button></nav>
${API_KEY_FIELD}</header>
<main>
<div id="panel-features">
<section><label>Dictionary <select id="dict"><option value="">loading...</option></select></label>
<span id="dictinfo" class="score"></span></section>
<div class="cols"><div>
<section><h2>Search by explanation</h2>
<input id="q" size="32" placeholder="e.g. pirate (press / to focus)" aria-label="search">
<button id="search">Search</button> <span id="searchstatus" class="score"></span>
<ol id="results"></ol></section>
<section><h2>Activations</h2>
<textarea id="acts" placeholder="[[0.1, -0.2, ...], ...] rows of d_in numbers" aria-label="activations"></textarea>
<label>or upload (JSON or .npy) <input id="actsfile" type="file" accept=".json,.npy"></label>
<button id="encode">Top features</button> <span id="encstatus" class="score"></span>
<div id="rows"></div></section>
<section><h2>Steer</h2>
<label>Feature <input id="sfeature" size="5" value="0"></label>
<label>Mode <select id="smode"><option>add</option><option>clamp</option><option>scale</option><option>ablate</option></select></label>
<label>Value <input id="svalue" size="5" value="5"></label>
<button id="steer">Steer</button> <span id="steerstatus" class="score"></span>
<div id="steered"></div></section>
</div><div><section id="card"><h2>Feature card</h2><p class="score">Search, then open a feature.</p></section></div></div>
</div>
<div id="panel-vision" hidden><iframe id="vision" title="vision features"></iframe></div>
</main>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const dict = () => $("dict").value;
const base = () => "/v1/dictionaries/" + encodeURIComponent(dict());
${apiKeyScript({ relist: "loadDictionaries" })}
async function call(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, { ...init, headers: withKey(init.headers || {}) });
  const refused = keyFailure(r);
  if (refused) throw refused;
  const j = await r.json();
  if (!r.ok) throw new Error(j.detail || r.status);
  return j;
}
function tab(name) {
  for (const t of ["features", "vision"]) {
    $("tab-" + t).setAttribute("aria-selected", String(t === name));
    $("panel-" + t).hidden = t !== name;
  }
  if (name === "vision" && !$("vision").src) $("vision").src = "/ui/vision";
}
$("tab-features").onclick = () => tab("features");
$("tab-vision").onclick = () => tab("vision");
const explained = new Map();
const firstText = (f) => (explained.get(dict() + "/" + f) || [])[0] || "";
async function loadDictionaries() {
  try {
    const list = (await call("/v1/dictionaries")).dictionaries.filter((d) => d.kind !== "aligned" && !d.error);
    $("dict").textContent = "";
    for (const d of list) $("dict").append(new Option(d.id + " (d_in " + d.d_in + ", d_sae " + d.d_sae + ")", d.id));
    if (!list.length) $("dict").append(new Option("(the store has no dictionaries)", ""));
    const withText = list.find((d) => d.id === "demo-topk");
    if (withText) $("dict").value = withText.id;
    await browse();
  } catch (e) { $("dictinfo").textContent = "error: " + e.message; }
}
function featureButton(f, text) {
  const b = document.createElement("button"); b.className = "feat"; b.dataset.feature = f;
  b.textContent = "#" + f + (text ? " " + text : ""); b.onclick = () => openCard(f); return b;
}
function showHits(hits) {
  const ol = $("results"); ol.textContent = "";
  for (const h of hits) {
    const texts = h.explanations.map((e) => e.text);
    explained.set(dict() + "/" + h.feature, texts);
    const li = document.createElement("li");
    li.append(featureButton(h.feature, texts[0] || "(no explanation)"));
    if (h.score) { const s = document.createElement("span"); s.className = "score"; s.textContent = " " + h.score.toFixed(2); li.append(s); }
    ol.append(li);
  }
}
async function browse() {
  if (!dict()) return;
  const r = await call(base() + "/features/search?top=1000");
  for (const h of r.features) explained.set(dict() + "/" + h.feature, h.explanations.map((e) => e.text));
  $("dictinfo").textContent = r.explained_features + " features explained" + (r.warnings.length ? "; " + r.warnings.length + " warnings: " + r.warnings.join("; ") : "");
}
async function search() {
  try {
    $("searchstatus").textContent = "searching...";
    const r = await call(base() + "/features/search?top=20&q=" + encodeURIComponent($("q").value));
    showHits(r.features);
    $("searchstatus").textContent = r.features.length + " features";
  } catch (e) { $("searchstatus").textContent = "error: " + e.message; }
}
$("search").onclick = search;
$("q").addEventListener("keydown", (e) => { if (e.key === "Enter") search(); });
document.addEventListener("keydown", (e) => { if (e.key === "/" && document.activeElement.tagName !== "INPUT" && document.activeElement.tagName !== "TEXTAREA") { e.preventDefault(); $("q").focus(); } });
$("dict").onchange = () => { $("results").textContent = ""; browse().catch((e) => ($("dictinfo").textContent = "error: " + e.message)); };
function lensList(tokens) { return tokens.map((t) => esc(t.token) + " <span class=score>" + t.logit.toFixed(2) + "</span>").join(", "); }
async function openCard(f) {
  const card = $("card");
  try {
    const c = await call(base() + "/features/" + f);
    $("sfeature").value = f;
    let html = "<h2>Feature " + c.feature + (c.link ? ' <a href="' + esc(c.link) + '">Neuronpedia</a>' : "") + "</h2>";
    html += c.explanations.length ? "<ul id=cardexpl>" + c.explanations.map((e) => "<li>" + esc(e.text) + (e.metadata && e.metadata.explanationModelName ? " <span class=score>" + esc(e.metadata.explanationModelName) + "</span>" : "") + "</li>").join("") + "</ul>" : "<p class=score>No explanations.</p>";
    html += "<table><tr><td>decoder norm</td><td id=norm>" + c.decoder_norm.toFixed(4) + "</td></tr>";
    for (const [k, v] of Object.entries(c.statistics || {})) html += "<tr><td>" + esc(k) + "</td><td>" + v + "</td></tr>";
    html += "</table>";
    if (c.logit_lens) html += "<p>Promotes: <span id=lenstop>" + lensList(c.logit_lens.top) + "</span></p><p>Suppresses: " + lensList(c.logit_lens.bottom) + "</p>";
    html += "<h2>Nearest features (decoder cosine)</h2><ol id=nearest></ol>";
    card.innerHTML = html;
    for (const n of c.nearest) {
      const li = document.createElement("li");
      li.append(featureButton(n.feature, (n.explanations[0] || {}).text || ""));
      const s = document.createElement("span"); s.className = "score"; s.textContent = " cos " + n.cosine.toFixed(3); li.append(s);
      $("nearest").append(li);
    }
  } catch (e) { card.innerHTML = "<h2>Feature card</h2><p class=err>error: " + esc(e.message) + "</p>"; }
}
function parseNpy(buf) {
  const u = new Uint8Array(buf); const dv = new DataView(buf);
  const v = u[6]; const len = v === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true); const off = (v === 1 ? 10 : 12) + len;
  const header = new TextDecoder().decode(u.subarray(v === 1 ? 10 : 12, off));
  if (header.indexOf("<f4") < 0) throw new Error("send float32 little-endian .npy");
  const inner = header.slice(header.indexOf("shape") + 5); const shape = inner.slice(inner.indexOf("(") + 1, inner.indexOf(")")).split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const cols = shape.length > 1 ? shape[1] : shape[0]; const rows = shape.length > 1 ? shape[0] : 1;
  const data = new Float32Array(buf.slice(off)); const out = [];
  for (let r = 0; r < rows; r++) out.push(Array.from(data.subarray(r * cols, (r + 1) * cols)));
  return out;
}
$("actsfile").addEventListener("change", async (e) => {
  const f = e.target.files[0]; if (!f) return;
  try {
    const rows = f.name.endsWith(".npy") ? parseNpy(await f.arrayBuffer()) : JSON.parse(await f.text());
    $("acts").value = JSON.stringify(rows); $("encstatus").textContent = "loaded " + rows.length + " rows from " + f.name;
  } catch (err) { $("encstatus").textContent = "error: " + err.message; }
});
function activations() {
  const rows = JSON.parse($("acts").value);
  return Array.isArray(rows[0]) ? rows : [rows];
}
function topList(indices, values) {
  return indices.map((f, i) => "<button class=feat data-feature=" + f + ">#" + f + "</button> " + values[i].toFixed(2) + (firstText(f) ? " <span class=score>" + esc(firstText(f)) + "</span>" : "")).join("<br>");
}
function wire(el) { for (const b of el.querySelectorAll("button.feat")) b.onclick = () => openCard(Number(b.dataset.feature)); }
$("encode").onclick = async () => {
  try {
    const enc = await call(base() + "/encode", { activations: activations(), top: 5 });
    $("rows").innerHTML = enc.indices.map((ix, r) => "<p><b>row " + r + "</b><br>" + topList(ix, enc.values[r]) + "</p>").join("");
    wire($("rows")); $("encstatus").textContent = enc.indices.length + " rows";
  } catch (e) { $("rows").textContent = ""; $("encstatus").textContent = "error: " + e.message; }
};
$("steer").onclick = async () => {
  try {
    const x = activations();
    const feature = Number($("sfeature").value);
    const iv = { feature, mode: $("smode").value, value: Number($("svalue").value) };
    const steered = (await call(base() + "/steer", { activations: x, interventions: [iv] })).activations;
    const before = await call(base() + "/encode", { activations: x, top: 5 });
    const after = await call(base() + "/encode", { activations: steered, top: 5 });
    let html = "";
    steered.forEach((row, r) => {
      const delta = Math.sqrt(row.reduce((s, v, c) => s + (v - x[r][c]) ** 2, 0));
      const at = (e) => { const i = e.indices[r].indexOf(feature); return i < 0 ? 0 : e.values[r][i]; };
      html += "<p class=steerrow><b>row " + r + "</b>: |change| " + delta.toFixed(3) + ", feature " + feature + " " + at(before).toFixed(2) + " &rarr; " + at(after).toFixed(2) + "<br>after: " + topList(after.indices[r], after.values[r]) + "</p>";
    });
    $("steered").innerHTML = html; wire($("steered"));
    $("steerstatus").textContent = iv.mode + " " + iv.value + " on feature " + feature;
  } catch (e) { $("steered").textContent = ""; $("steerstatus").textContent = "error: " + e.message; }
};
loadDictionaries();
</script></body></html>`;
