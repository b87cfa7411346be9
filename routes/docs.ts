/**
 * GET /docs, the interactive API reference: a self-contained page (no CDN) that reads
 * /openapi.json, pre-fills each operation's examples (from the route table) and lets a user
 * send requests from the browser. GET /openapi.json serves the generated document; GET / links
 * to both and to the rest a newcomer looks for.
 * @module
 */

import type { Operation } from "./operation.ts";

/** The /, /openapi.json and /docs operations; `document` is the generated document. */
export function docsOperations(
  document: () => Record<string, unknown>,
  options: { version: string },
): Operation[] {
  return [{
    method: "get",
    path: "/",
    tag: "process",
    summary: "Where to start: the API reference, the explorer, the dictionaries, health",
    responses: {
      200: {
        description: "links",
        content: { "application/json": "{service, version, links: {name: path}}" },
      },
    },
    handler: (c) =>
      c.json({
        service: "saeserve",
        version: options.version,
        links: {
          docs: "/docs",
          openapi: "/openapi.json",
          explorer: "/ui",
          vision: "/ui/vision",
          dictionaries: "/v1/dictionaries",
          health: "/healthz",
          ready: "/readyz",
          metrics: "/metrics",
        },
      }),
  }, {
    method: "get",
    path: "/openapi.json",
    tag: "process",
    summary: "This OpenAPI 3.1 document, generated from the route table",
    responses: {
      200: { description: "the document", content: { "application/json": "OpenAPI 3.1 JSON" } },
    },
    handler: (c) => c.json(document()),
  }, {
    method: "get",
    path: "/docs",
    tag: "process",
    summary: "Interactive API reference: every operation, with examples to send",
    responses: {
      200: { description: "the page", content: { "text/html": "a self-contained page" } },
    },
    handler: (c) => c.html(PAGE),
  }];
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
.status{font-weight:700;margin-left:8px}.desc{color:#57606a;margin:4px 0}pre img{max-width:256px}
</style></head><body>
<header><h1>saeserve API reference</h1><div id="info"></div></header>
<main><p>Dictionary ids are folder paths in the store, URL-encoded in the path
(<code>/</code> becomes <code>%2F</code>). Errors are <code>application/problem+json</code>.</p>
<div id="ops">Loading /openapi.json ...</div></main>
<script>
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}
/** Example names of an operation: its JSON body examples, else its path parameter examples. */
function examplesOf(op) {
  const body = op.requestBody?.content?.["application/json"]?.examples || {};
  const names = Object.keys(body);
  for (const p of op.parameters || []) {
    for (const name of Object.keys(p.examples || {})) if (!names.includes(name)) names.push(name);
  }
  return names.map((name) => ({
    name,
    summary: body[name]?.summary,
    body: body[name]?.value,
    params: Object.fromEntries((op.parameters || []).filter((p) => p.in === "path" && p.examples?.[name]).map((p) => [p.name, p.examples[name].value])),
  }));
}
async function show(r, out) {
  const type = r.headers.get("content-type") || "";
  if (/json/.test(type)) {
    const text = await r.text();
    try { out.textContent = JSON.stringify(JSON.parse(text), null, 1); } catch { out.textContent = text; }
  } else if (type.startsWith("text/")) {
    out.textContent = await r.text();
  } else {
    const blob = await r.blob();
    out.textContent = blob.size + " bytes of " + (type || "unknown type");
    if (type.startsWith("image/")) out.append(el("br"), el("img", {src: URL.createObjectURL(blob), alt: "answer"}));
  }
}
function operation(path, method, op) {
  const box = el("section", {class: "op", "data-path": path, "data-method": method, id: op.operationId || ""});
  box.append(el("div", {}, el("span", {class: "method " + method}, method.toUpperCase()), el("code", {}, path), " ", op.summary || ""));
  if (op.description) box.append(el("p", {class: "desc"}, op.description));
  const inputs = {};
  for (const p of (op.parameters || []).filter((p) => p.in === "path")) {
    inputs[p.name] = el("input", {size: 50, name: p.name, title: p.description || ""});
    box.append(el("div", {}, p.name + ": ", inputs[p.name]));
  }
  const json = op.requestBody?.content?.["application/json"];
  let body = null;
  if (json) {
    box.append(el("details", {}, el("summary", {}, "request schema"), el("pre", {}, JSON.stringify(json.schema, null, 2))));
    body = el("textarea", {name: "body"});
    body.value = "{}";
  }
  const examples = examplesOf(op);
  const fill = (ex) => {
    for (const [name, input] of Object.entries(inputs)) input.value = ex?.params?.[name] ?? "";
    if (body) body.value = ex?.body === undefined ? "{}" : JSON.stringify(ex.body, null, 1);
  };
  if (examples.length) {
    const select = el("select", {name: "example"}, ...examples.map((ex) => el("option", {value: ex.name}, ex.name + (ex.summary ? ": " + ex.summary : ""))));
    select.addEventListener("change", () => fill(examples.find((ex) => ex.name === select.value)));
    box.append(el("div", {}, "example: ", select));
  }
  fill(examples[0]);
  if (body) box.append(body);
  const out = el("pre", {class: "response"});
  const status = el("span", {class: "status"});
  const send = el("button", {type: "button"}, "Send");
  send.addEventListener("click", async () => {
    let url = path;
    for (const [name, input] of Object.entries(inputs)) url = url.replace("{" + name + "}", encodeURIComponent(input.value));
    const init = {method: method.toUpperCase()};
    if (body) { init.body = body.value; init.headers = {"content-type": "application/json"}; }
    status.textContent = "...";
    out.textContent = "";
    try {
      const r = await fetch(url, init);
      await show(r, out);
      status.textContent = r.status + " " + (r.headers.get("x-saeserve-backend") || "");
    } catch (e) {
      status.textContent = "failed: " + e;
    }
  });
  box.append(el("div", {}, send, status), out);
  return box;
}
async function render() {
  const doc = await (await fetch("/openapi.json")).json();
  document.getElementById("info").textContent = doc.info.title + " " + doc.info.version + " - " + doc.info.description;
  const ops = document.getElementById("ops");
  ops.textContent = "";
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) ops.append(operation(path, method, op));
  }
}
render().catch((e) => { document.getElementById("ops").textContent = "Could not load /openapi.json: " + e; });
</script></body></html>`;
