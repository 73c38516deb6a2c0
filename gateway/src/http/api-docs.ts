// The public API described for people and tools: GET /openapi.json (the generated OpenAPI 3.1
// document, always), and GET /docs, a reference page drawn from it (development mode only:
// production serves the API, not pages).
import type { HttpRoute } from "@emailauth/platform";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emailauth API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{margin-top:2.5rem;border-top:1px solid #ddd;padding-top:1rem}code,pre{font:13px ui-monospace,monospace}
pre{background:#f6f6f6;padding:.75rem;overflow:auto;white-space:pre-wrap}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}.muted{color:#666}
</style></head><body>
<h1>emailauth API reference</h1>
<p class="muted">Drawn from <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1, generated from auth.proto).</p>
<div id="root">Loading…</div>
<script type="module">
const doc = await (await fetch("/openapi.json")).json();
const root = document.getElementById("root");
root.textContent = "";
const el = (tag, text, parent = root) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; parent.append(e); return e; };
const schemaOf = (ref) => doc.components.schemas[ref.replace("#/components/schemas/", "")];
el("pre", doc.info.description);
for (const [path, item] of Object.entries(doc.paths)) {
  const op = item.post;
  el("h2", op.operationId);
  el("p", op.description);
  el("p").append("POST ", Object.assign(document.createElement("code"), { textContent: path }), item.get ? " (also GET)" : "");
  const input = schemaOf(op.requestBody.content["application/json"].schema.$ref);
  const table = el("table");
  const head = el("tr", undefined, table);
  for (const h of ["Field", "Type", "Rules", "Description"]) el("th", h, head);
  for (const [name, p] of Object.entries(input.properties)) {
    const row = el("tr", undefined, table);
    el("td", name + ((input.required ?? []).includes(name) ? " *" : ""), row);
    el("td", p.$ref ? p.$ref.split("/").pop() : p.type + (p.format ? " (" + p.format + ")" : ""), row);
    el("td", [p.minLength !== undefined && "min " + p.minLength, p.maxLength !== undefined && "max " + p.maxLength, p.pattern && "pattern " + p.pattern].filter(Boolean).join(", "), row);
    el("td", p.description ?? "", row);
  }
  const errors = Object.entries(op.responses).filter(([status]) => status !== "200");
  if (errors.length) {
    el("h3", "Errors");
    const list = el("table");
    for (const [status, r] of errors) { const row = el("tr", undefined, list); el("td", status, row); el("td", r.description, row).style.whiteSpace = "pre-wrap"; }
  }
}
</script></body></html>`;

export function createApiDocsRoutes(deps: { document: string; referencePage: boolean }): HttpRoute {
  const json = Buffer.from(deps.document);
  const page = Buffer.from(PAGE);
  return (req, res) => {
    if (req.method !== "GET") return false;
    const path = (req.url ?? "").split("?")[0];
    if (path === "/openapi.json") {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": json.byteLength,
        "cache-control": "public, max-age=300",
        "access-control-allow-origin": "*",
      });
      res.end(json);
      return true;
    }
    if (path === "/docs" && deps.referencePage) {
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "content-length": page.byteLength,
        "content-security-policy":
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        "x-content-type-options": "nosniff",
      });
      res.end(page);
      return true;
    }
    return false;
  };
}
