/**
 * GET /docs: the interactive API reference, a self-contained page (no CDN) that reads
 * /openapi.json and lets a user send requests from the browser.
 * @module
 */

/** The page's HTML. */
export function docsPage(): string {
  return PAGE;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>saeserve API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{max-width:980px;margin:0 auto;padding:16px 24px}
.op{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:12px 0;padding:12px 16px}
.method{display:inline-block;min-width:52px;font-weight:700;color:#fff;border-radius:4px;padding:1px 6px;margin-right:8px;text-align:center}
.get{background:#1f883d}.post{background:#0969da}
code,pre,textarea{font:13px ui-monospace,monospace}pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:320px}
textarea{width:100%;min-height:110px;box-sizing:border-box}input{font:inherit}
details summary{cursor:pointer;color:#57606a}button{font:inherit;padding:4px 14px;cursor:pointer}
.status{font-weight:700;margin-left:8px}
</style></head><body>
<header><h1>saeserve API reference</h1><div id="info"></div></header>
<main><p>Dictionary ids are folder paths in the store, URL-encoded in the path
(<code>/</code> becomes <code>%2F</code>). Errors are <code>application/problem+json</code>.</p>
<div id="ops">Loading /openapi.json ...</div></main>
<script>
const examples = {
  encode: {activations: [[0.1, -0.2, 0.3]], top: 8, include: ["metrics"]},
  decode: {indices: [[0, 1]], values: [[1.0, 0.5]]},
  steer: {activations: [[0.1, -0.2, 0.3]], interventions: [{feature: 0, mode: "add", value: 2}]},
  "logit-lens": {features: [0, 1], top: 10},
  "input-score": {features: [0], activations: [[0.1, -0.2, 0.3]], token_ids: [5], example_ids: [0]},
  prepare: {features: [0, 1], activations: [0.1, -0.2, 0.3], factor: 10},
  "output-score": {features: [0], logits: [[0.1, 2.5, -1.0]]},
  stats: {activations: [[0.1, -0.2, 0.3]]},
  "steering-vector": {features: [{feature: 0, strength: 4}], unit: "norm", format: "json"},
  train: {activations: [[0.1, 0.2], [0.9, 1.0], [0.2, 0.1], [1.1, 0.8]], labels: [0, 1, 0, 1], methods: ["logistic"]},
  predict: {probe: {}, activations: [[0.1, 0.2]]},
};
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}
async function firstDictionary() {
  try {
    const r = await fetch("/v1/dictionaries");
    const list = (await r.json()).dictionaries || [];
    return list.find((d) => !d.error) || null;
  } catch { return null; }
}
function exampleFor(path, dict) {
  const kind = path.split("/").pop();
  const ex = structuredClone(examples[kind]);
  if (ex && dict && dict.d_in) {
    const row = Array.from({length: dict.d_in}, (_, i) => Math.round(Math.sin(i + 1) * 1000) / 1000);
    if (Array.isArray(ex.activations)) ex.activations = Array.isArray(ex.activations[0]) ? [row] : row;
  }
  return ex;
}
async function render() {
  const doc = await (await fetch("/openapi.json")).json();
  const dict = await firstDictionary();
  document.getElementById("info").textContent = doc.info.title + " " + doc.info.version + " - " + doc.info.description;
  const ops = document.getElementById("ops");
  ops.textContent = "";
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const box = el("section", {class: "op", "data-path": path, "data-method": method});
      box.append(el("div", {}, el("span", {class: "method " + method}, method.toUpperCase()), el("code", {}, path), " ", op.summary || ""));
      const hasId = path.includes("{id}");
      const idInput = el("input", {size: 50, name: "id", value: dict ? dict.id : "demo-topk"});
      if (hasId) box.append(el("div", {}, "id: ", idInput));
      let body = null;
      if (op.requestBody) {
        const schema = op.requestBody.content["application/json"].schema;
        box.append(el("details", {}, el("summary", {}, "request schema"), el("pre", {}, JSON.stringify(schema, null, 2))));
        body = el("textarea", {name: "body"});
        body.value = JSON.stringify(exampleFor(path, dict), null, 1);
        box.append(body);
      }
      const out = el("pre", {class: "response"});
      const status = el("span", {class: "status"});
      const send = el("button", {type: "button"}, "Send");
      send.addEventListener("click", async () => {
        const url = path.replace("{id}", encodeURIComponent(idInput.value));
        const init = {method: method.toUpperCase()};
        if (body) { init.body = body.value; init.headers = {"content-type": "application/json"}; }
        status.textContent = "...";
        const r = await fetch(url, init);
        const text = await r.text();
        status.textContent = r.status + " " + (r.headers.get("x-saeserve-backend") || "");
        try { out.textContent = JSON.stringify(JSON.parse(text), null, 1); } catch { out.textContent = text; }
      });
      box.append(el("div", {}, send, status), out);
      ops.append(box);
    }
  }
}
render().catch((e) => { document.getElementById("ops").textContent = "Could not load /openapi.json: " + e; });
</script></body></html>`;
