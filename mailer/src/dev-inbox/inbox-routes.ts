// The development inbox, served by the mailer when no SMTP relay is configured (development
// mode only): every email the mailer sends is caught by an in-process SMTP server, and
//   GET /inbox                      a page listing them (newest first), refreshing by itself
//   GET /inbox/messages             the same as JSON: id, time, from, to, subject, text, html
//   GET /inbox/messages/<id>.html   one email's HTML part, sandboxed
// so a newcomer reads the code in a browser and tests read it programmatically.

import type { CaughtMessage, SmtpCatcher } from "@emailauth/devkit/smtp";
import { type HttpRoute, sendJson } from "@emailauth/platform";

function toJson(m: CaughtMessage) {
  return {
    id: m.seq,
    receivedAt: m.receivedAt.toISOString(),
    from: m.from,
    to: m.to,
    subject: m.parsed.subject ?? "",
    messageId: m.messageId,
    text: m.parsed.text ?? "",
    html: typeof m.parsed.html === "string" ? m.parsed.html : "",
  };
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Development inbox</title>
<style>
  body { margin: 0; font-family: system-ui, sans-serif; background: #f4f4f5; color: #18181b; }
  header { padding: 16px 24px; background: #18181b; color: #fff; }
  header h1 { margin: 0; font-size: 18px; }
  header p { margin: 4px 0 0; font-size: 13px; color: #a1a1aa; }
  main { display: grid; grid-template-columns: minmax(260px, 1fr) 2fr; gap: 16px; padding: 16px 24px; }
  ul { list-style: none; margin: 0; padding: 0; }
  li button { width: 100%; text-align: left; padding: 12px; margin-bottom: 8px; border: 1px solid #e4e4e7;
    border-radius: 8px; background: #fff; cursor: pointer; font: inherit; }
  li button[aria-selected="true"] { border-color: #2563eb; box-shadow: 0 0 0 1px #2563eb; }
  .to { font-size: 13px; color: #52525b; } .time { font-size: 12px; color: #71717a; }
  article { background: #fff; border-radius: 8px; padding: 16px; min-height: 200px; }
  pre { white-space: pre-wrap; font-size: 14px; background: #f4f4f5; padding: 12px; border-radius: 6px; }
  iframe { width: 100%; height: 480px; border: 1px solid #e4e4e7; border-radius: 6px; }
  .empty { color: #71717a; }
</style>
</head>
<body>
<header><h1>Development inbox</h1><p>Emails the mailer sent, caught here instead of delivered. Development only.</p></header>
<main>
  <section aria-label="Messages"><ul id="list"><li class="empty">No email yet.</li></ul></section>
  <article id="message" aria-live="polite"><p class="empty">Pick an email.</p></article>
</main>
<script>
  let selected = null;
  let last = "";
  const el = (tag, props = {}) => Object.assign(document.createElement(tag), props);
  function show(m) {
    selected = m.id;
    const box = document.getElementById("message");
    box.replaceChildren();
    const h = el("h2", { textContent: m.subject });
    const meta = el("p", { className: "to", textContent: "To " + m.to.join(", ") + " · from " + m.from });
    const text = el("pre", { className: "text-part", textContent: m.text });
    const frame = el("iframe", { title: "HTML part", src: "/inbox/messages/" + m.id + ".html" });
    frame.setAttribute("sandbox", "");
    box.append(h, meta, text, frame);
    render(window.__messages || []);
  }
  function render(messages) {
    const list = document.getElementById("list");
    list.replaceChildren();
    if (messages.length === 0) list.append(el("li", { className: "empty", textContent: "No email yet." }));
    for (const m of messages) {
      const b = el("button", { type: "button" });
      b.setAttribute("aria-selected", String(m.id === selected));
      b.dataset.id = m.id;
      b.append(el("div", { textContent: m.subject }), el("div", { className: "to", textContent: m.to.join(", ") }),
        el("div", { className: "time", textContent: new Date(m.receivedAt).toLocaleTimeString() }));
      b.onclick = () => show(m);
      const li = el("li"); li.append(b); list.append(li);
    }
  }
  async function poll() {
    try {
      const res = await fetch("/inbox/messages", { cache: "no-store" });
      const messages = await res.json();
      const key = messages.map((m) => m.id).join(",");
      if (key !== last) { last = key; window.__messages = messages; render(messages); }
    } catch {}
    setTimeout(poll, 1000);
  }
  poll();
</script>
</body>
</html>`;

export function createInboxRoutes(deps: { catcher: SmtpCatcher }): HttpRoute {
  return (req, res) => {
    if (req.method !== "GET") return false;
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/inbox" || path === "/inbox/") {
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy":
          "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-src 'self'",
      });
      res.end(PAGE);
      return true;
    }
    if (path === "/inbox/messages") {
      sendJson(res, 200, [...deps.catcher.messages()].reverse().map(toJson));
      return true;
    }
    const one = /^\/inbox\/messages\/(\d+)\.html$/.exec(path);
    if (one) {
      const m = deps.catcher.messages().find((x) => x.seq === Number(one[1]));
      if (!m) {
        sendJson(res, 404, { error: "no such message" });
        return true;
      }
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        // The email's HTML runs nothing: no scripts, no remote content.
        "content-security-policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
      });
      res.end(typeof m.parsed.html === "string" ? m.parsed.html : "");
      return true;
    }
    return false;
  };
}
