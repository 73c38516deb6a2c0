// The demo client app: the "external server" of the architecture, as small as a real one can
// be. It keeps its API key on the server, calls the gateway with the typed client, keeps each
// visitor's tokens in a server-side session (the browser holds only an opaque cookie), and
// verifies access tokens offline with the gateway's JWKS.
//
//   GET  /         the login page: email form, code form, or "signed in as <user id>"
//   POST /start    {email}  -> StartLogin
//   POST /verify   {code}   -> VerifyLogin, then a session
//   GET  /magic    the page magic links open (the app's registered link_url): it only shows a
//                  button, because mail scanners open links too and must not log anyone in
//   POST /magic    {challenge_id, link_token} -> VerifyLogin, then a session, but only in the
//                  browser that asked for that login (see below)
//
// Login CSRF: a link is a credential anyone can hand to anyone. An attacker who asks for a
// link to their own address and makes a victim's browser post it (a form on another site, or
// just an email saying "click here") would sign the victim into the attacker's account. So a
// link signs in only the browser whose session started that login (its challenge id is kept
// server-side at /start), and every POST must come from this site's own pages (Origin).
//   POST /logout            -> RevokeSession
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type AuthClient, createAuthClient, errorReason } from "@emailauth/client/source";
import { createRemoteJWKSet, jwtVerify } from "jose";

interface Visitor {
  email?: string;
  challengeId?: string;
  userId?: string;
  sessionId?: string;
  accessToken?: string;
  message?: string;
}

export interface DemoAppOptions {
  gatewayUrl: string;
  apiKey: string;
  appId: string;
  issuer: string;
  inboxUrl: string;
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** The magic link's landing page: the values go back in a POST, nothing happens on the GET. */
function confirmPage(challengeId: string, linkToken: string): string {
  return layout(`<h2>Sign in</h2>
      <p>Continue to sign in to the demo app on this device.</p>
      <form method="post" action="/magic">
        <input type="hidden" name="challenge_id" value="${escapeHtml(challengeId)}">
        <input type="hidden" name="link_token" value="${escapeHtml(linkToken)}">
        <button id="magic-continue">Sign in</button>
      </form>`);
}

function page(v: Visitor, inboxUrl: string): string {
  const note = v.message ? `<p class="note" role="status">${escapeHtml(v.message)}</p>` : "";
  let body: string;
  if (v.userId) {
    body = `<h2>Signed in</h2>
      <p>Signed in as <code id="user-id">${escapeHtml(v.userId)}</code></p>
      <p class="small">Your access token was verified offline with the gateway's JWKS.</p>
      <form method="post" action="/logout"><button id="logout">Log out</button></form>`;
  } else if (v.challengeId) {
    body = `<h2>Check your email</h2>
      <p>We sent a code and a sign-in link to <strong>${escapeHtml(v.email ?? "")}</strong>.
      Type the code here, or open the link.
      In this demo every email lands in the <a href="${escapeHtml(inboxUrl)}" target="_blank" rel="noopener">development inbox</a>.</p>
      <form method="post" action="/verify">
        <label for="code">Code</label>
        <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="32" autofocus>
        <button id="verify">Sign in</button>
      </form>
      <form method="post" action="/logout"><button class="link">Use another email</button></form>`;
  } else {
    body = `<h2>Sign in</h2>
      <form method="post" action="/start">
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="email" required maxlength="254" autofocus>
        <button id="start">Email me a code</button>
      </form>`;
  }
  return layout(`${note}${body}`);
}

function layout(content: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo client app</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f4f4f5; color: #18181b; margin: 0; }
  main { max-width: 420px; margin: 48px auto; background: #fff; border-radius: 12px; padding: 32px; }
  h1 { font-size: 14px; text-transform: uppercase; letter-spacing: 1px; color: #71717a; margin: 0 0 8px; }
  label { display: block; font-size: 14px; margin: 16px 0 6px; }
  input { width: 100%; box-sizing: border-box; font-size: 18px; padding: 10px; border: 1px solid #d4d4d8; border-radius: 8px; }
  button { margin-top: 16px; font-size: 16px; padding: 10px 16px; border: 0; border-radius: 8px; background: #2563eb; color: #fff; cursor: pointer; }
  button.link { background: none; color: #2563eb; padding: 0; }
  .note { background: #fef3c7; padding: 8px 12px; border-radius: 8px; }
  .small { font-size: 13px; color: #52525b; }
</style></head>
<body><main><h1>Demo client app</h1>${content}</main></body></html>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 4096) break;
  }
  return new URLSearchParams(body);
}

const friendly: Record<string, string> = {
  CODE_INVALID: "That code or link is wrong or no longer valid.",
  RATE_LIMITED: "Please wait a little before asking for another code.",
  EMAIL_LOCKED: "Too many failed attempts for this email. Try again later.",
  EMAIL_INVALID: "That email address does not look right.",
  INVALID_ARGUMENT: "Please check what you typed.",
};

export interface DemoApp {
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

export function createDemoApp(options: DemoAppOptions): DemoApp {
  const auth: AuthClient = createAuthClient({ baseUrl: options.gatewayUrl, apiKey: options.apiKey });
  const jwks = createRemoteJWKSet(new URL(`${options.gatewayUrl}/.well-known/jwks.json`));
  const visitors = new Map<string, Visitor>();

  const visitorOf = (req: IncomingMessage, res: ServerResponse): Visitor => {
    const sid = /(?:^|;\s*)demo_session=([A-Za-z0-9_-]{20,})/.exec(req.headers.cookie ?? "")?.[1];
    const found = sid ? visitors.get(sid) : undefined;
    if (found) return found;
    const id = randomBytes(24).toString("base64url");
    const v: Visitor = {};
    visitors.set(id, v);
    res.setHeader("set-cookie", `demo_session=${id}; HttpOnly; SameSite=Lax; Path=/`);
    return v;
  };
  const back = (res: ServerResponse) => {
    res.writeHead(303, { location: "/" });
    res.end();
  };
  const failed = (v: Visitor, err: unknown) => {
    v.message = friendly[errorReason(err) ?? ""] ?? "Something went wrong; please try again.";
  };
  /** VerifyLogin with a code or a link token, then what every client app should do with the
   * access token: verify it offline. */
  const signIn = async (
    v: Visitor,
    req: IncomingMessage,
    proof: { challengeId: string; code?: string; linkToken?: string },
  ) => {
    try {
      const session = await auth.verifyLogin({
        target: { case: "challengeId", value: proof.challengeId },
        code: proof.code ?? "",
        linkToken: proof.linkToken ?? "",
        userAgent: String(req.headers["user-agent"] ?? "").slice(0, 256),
      });
      const { payload } = await jwtVerify(session.accessToken, jwks, {
        issuer: options.issuer,
        audience: options.appId,
      });
      Object.assign(v, {
        userId: payload.sub,
        sessionId: session.sessionId,
        accessToken: session.accessToken,
        challengeId: undefined,
      });
    } catch (err) {
      failed(v, err);
    }
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const v = visitorOf(req, res);
      const url = new URL(req.url ?? "/", "http://demo");
      const path = url.pathname;
      if (req.method === "GET" && path === "/magic") {
        // The token stays out of other sites' Referer headers and out of caches. Not
        // no-referrer: with it, the page's own form would be posted with "Origin: null".
        res.writeHead(200, {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          "referrer-policy": "same-origin",
        });
        res.end(
          confirmPage(url.searchParams.get("challenge_id") ?? "", url.searchParams.get("link_token") ?? ""),
        );
        return;
      }
      if (req.method === "GET" && path === "/") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
        res.end(page(v, options.inboxUrl));
        delete v.message;
        return;
      }
      if (req.method !== "POST") {
        res.writeHead(404).end();
        return;
      }
      // A form posted from another site is refused (browsers send Origin with every POST).
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`) {
        res.writeHead(403, { "content-type": "text/plain" }).end("cross-site request refused");
        return;
      }
      const form = await readForm(req);
      if (path === "/start") {
        try {
          const email = form.get("email") ?? "";
          const started = await auth.startLogin({ email, locale: "en" });
          Object.assign(v, { email, challengeId: started.challengeId });
        } catch (err) {
          failed(v, err);
        }
      } else if (path === "/verify" && v.challengeId) {
        await signIn(v, req, { challengeId: v.challengeId, code: form.get("code") ?? "" });
      } else if (path === "/magic") {
        const challengeId = form.get("challenge_id") ?? "";
        if (!v.challengeId || v.challengeId !== challengeId) {
          v.message =
            "This sign-in link was asked for in another browser, or was already used. Open it in the browser where you asked for it, or type the code there.";
        } else {
          await signIn(v, req, { challengeId, linkToken: form.get("link_token") ?? "" });
        }
      } else if (path === "/logout") {
        if (v.sessionId)
          await auth.revokeSession({ target: { case: "sessionId", value: v.sessionId } }).catch(() => {});
        for (const k of Object.keys(v)) delete v[k as keyof Visitor];
      }
      back(res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end("demo app error");
    });
  });

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
