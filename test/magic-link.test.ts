// Magic links end to end over real processes (three services, Redis, an SMTP server): the
// email carries the link to the app's own page, the app posts its token back through
// VerifyLogin, and the per-app login methods, the exclusivity of code and link, replays,
// cross-app use, link scanners and bad input behave as auth.proto says. The demo app's page
// for links is driven by Chromium in browser.test.ts.
import { randomUUID } from "node:crypto";
import { LoginMethod } from "@emailauth/proto/persistence";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leakedSecrets } from "./helpers/log-secrets.ts";
import { type Mesh, postJson, reasonOf, startMesh } from "./helpers/mesh.ts";

const LINK_URL = "https://shop.example/login/link?from=email";
const { LOGIN_METHOD_CODE: CODE, LOGIN_METHOD_LINK: LINK } = LoginMethod;

let mesh: Mesh;
type App = { appId: string; apiKey: string };
let both: App;
let linkOnly: App;
let codeOnly: App;
const secrets = new Set<string>();

beforeAll(async () => {
  mesh = await startMesh({
    env: {
      persistence: { LOG_LEVEL: "debug" },
      mailer: { LOG_LEVEL: "debug" },
      gateway: { LOG_LEVEL: "debug" },
    },
  });
  [both, linkOnly, codeOnly] = await Promise.all([
    mesh.createApp({ displayName: "Both", loginMethods: [CODE, LINK], linkUrl: LINK_URL }),
    mesh.createApp({ displayName: "Links", loginMethods: [LINK], linkUrl: LINK_URL }),
    mesh.createApp({ displayName: "Codes" }),
  ]);
  for (const app of [both, linkOnly, codeOnly]) secrets.add(app.apiKey);
});

afterAll(async () => {
  await mesh?.stop();
});

const uniqueEmail = () => `link-${randomUUID().slice(0, 8)}@example.com`;

function call(app: App, method: string, body: unknown, headers: Record<string, string> = {}) {
  return postJson(mesh.gatewayUrl, method, body, { authorization: `Bearer ${app.apiKey}`, ...headers });
}

/** Starts a login and reads its email: the code and the link's values, as a person would see them. */
async function startLogin(app: App, email = uniqueEmail()) {
  const started = await call(app, "StartLogin", { email });
  expect(started.status).toBe(200);
  const challengeId = started.body.challengeId as string;
  const message = await mesh.sink.waitForMessage((m) => m.to.includes(email));
  const text = message.parsed.text ?? "";
  const html = typeof message.parsed.html === "string" ? message.parsed.html : "";
  const code = /\b(\d{6})\b/.exec(text)?.[1];
  const linkText = /https:\/\/shop\.example\/\S+/.exec(text)?.[0];
  const link = linkText ? new URL(linkText) : undefined;
  // The button's href, HTML-decoded, is the same link.
  const href = /href="([^"]+)"/.exec(html)?.[1];
  const decodedHref = href
    ?.replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replaceAll("&amp;", "&");
  const linkToken = link?.searchParams.get("link_token") ?? undefined;
  for (const secret of [code, linkToken]) if (secret) secrets.add(secret);
  return { email, challengeId, code, link, linkToken, decodedHref, text };
}

describe("magic links", () => {
  it("emails a code and a link to the app's page, and the link logs in with amr link", async () => {
    const login = await startLogin(both);
    expect(login.code).toMatch(/^\d{6}$/);
    expect(login.link?.origin + (login.link?.pathname ?? "")).toBe("https://shop.example/login/link");
    expect(login.link?.searchParams.get("from")).toBe("email");
    expect(login.link?.searchParams.get("challenge_id")).toBe(login.challengeId);
    expect(login.linkToken).toMatch(/^lnk_[a-z2-7]{52}$/);
    expect(login.decodedHref).toBe(login.link?.href);

    const verified = await call(both, "VerifyLogin", {
      challengeId: login.challengeId,
      linkToken: login.linkToken,
      userAgent: "Mail link/1.0",
    });
    expect(verified.status).toBe(200);
    const access = decodeJwt(verified.body.accessToken as string);
    expect(access.amr).toEqual(["link", "email"]);
    secrets.add(verified.body.accessToken as string).add(verified.body.refreshToken as string);

    // The code of the same email no longer works: one email, one login.
    const code = await call(both, "VerifyLogin", { challengeId: login.challengeId, code: login.code });
    expect([code.status, reasonOf(code.body)]).toEqual([401, "CODE_INVALID"]);
    const status = await call(both, "GetLoginStatus", { challengeId: login.challengeId });
    expect(status.body.loginState).toBe("LOGIN_STATE_VERIFIED");

    // A refreshed access token still says how the session was opened.
    const refreshed = await call(both, "RefreshSession", { refreshToken: verified.body.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.accessToken as string).amr).toEqual(["link", "email"]);
    secrets.add(refreshed.body.accessToken as string).add(refreshed.body.refreshToken as string);
  });

  it("stops the link once the code is used, and codes keep amr otp", async () => {
    const login = await startLogin(both);
    const verified = await call(both, "VerifyLogin", { challengeId: login.challengeId, code: login.code });
    expect(verified.status).toBe(200);
    expect(decodeJwt(verified.body.accessToken as string).amr).toEqual(["otp", "email"]);
    const link = await call(both, "VerifyLogin", {
      challengeId: login.challengeId,
      linkToken: login.linkToken,
    });
    expect([link.status, reasonOf(link.body)]).toEqual([401, "CODE_INVALID"]);
  });

  it("survives a link scanner: opening links and GETs at the gateway consume nothing", async () => {
    const login = await startLogin(both);
    // The link goes to the app's own page, never to the gateway: a scanner's GET reaches the app.
    expect(login.link?.origin).toBe("https://shop.example");
    expect(login.text).not.toContain(mesh.gatewayUrl);
    // Even a scanner that guessed the API and sent the values by GET gets nothing.
    const message = encodeURIComponent(
      JSON.stringify({ challengeId: login.challengeId, linkToken: login.linkToken }),
    );
    const get = await fetch(
      `${mesh.gatewayUrl}/emailauth.auth.v1.AuthService/VerifyLogin?connect=v1&encoding=json&message=${message}`,
      { headers: { authorization: `Bearer ${both.apiKey}` } },
    );
    expect(get.status).toBeGreaterThanOrEqual(400);
    expect(get.status).toBeLessThan(500);
    const status = await call(both, "GetLoginStatus", { challengeId: login.challengeId });
    expect(status.body.loginState).toBe("LOGIN_STATE_PENDING");
    // The person's click, posted by the app, still works.
    const verified = await call(both, "VerifyLogin", {
      challengeId: login.challengeId,
      linkToken: login.linkToken,
    });
    expect(verified.status).toBe(200);
  });

  it("honours the app's methods: links only, codes only", async () => {
    const links = await startLogin(linkOnly);
    expect(links.code).toBeUndefined();
    expect(links.linkToken).toMatch(/^lnk_/);
    const byCode = await call(linkOnly, "VerifyLogin", { challengeId: links.challengeId, code: "123456" });
    expect([byCode.status, reasonOf(byCode.body)]).toEqual([400, "LOGIN_METHOD_NOT_ALLOWED"]);
    const byLink = await call(linkOnly, "VerifyLogin", {
      challengeId: links.challengeId,
      linkToken: links.linkToken,
    });
    expect(byLink.status).toBe(200);

    const codes = await startLogin(codeOnly);
    expect(codes.code).toMatch(/^\d{6}$/);
    expect(codes.link).toBeUndefined();
    expect(codes.text).not.toContain("http");
    const forged = await call(codeOnly, "VerifyLogin", {
      challengeId: codes.challengeId,
      linkToken: `lnk_${"a".repeat(52)}`,
    });
    expect([forged.status, reasonOf(forged.body)]).toEqual([400, "LOGIN_METHOD_NOT_ALLOWED"]);
    expect(
      (await call(codeOnly, "VerifyLogin", { challengeId: codes.challengeId, code: codes.code })).status,
    ).toBe(200);
  });

  it("keeps a link to its app, and answers a retried verification with the first answer", async () => {
    const login = await startLogin(both);
    const body = { challengeId: login.challengeId, linkToken: login.linkToken };
    // Another app that got hold of the link gets nothing (and takes nothing from it).
    const stolen = await call(linkOnly, "VerifyLogin", body);
    expect([stolen.status, reasonOf(stolen.body)]).toEqual([401, "CODE_INVALID"]);

    const key = { "idempotency-key": `link-${randomUUID()}` };
    const [first, retry] = await Promise.all([
      call(both, "VerifyLogin", body, key),
      call(both, "VerifyLogin", body, key),
    ]);
    expect([first.status, retry.status]).toEqual([200, 200]);
    expect(retry.body.sessionId).toBe(first.body.sessionId);
    secrets.add(first.body.refreshToken as string);
    // Without the key, the same link again is a replay: refused.
    const replay = await call(both, "VerifyLogin", body);
    expect([replay.status, reasonOf(replay.body)]).toEqual([401, "CODE_INVALID"]);
    // The key is bound to the link: the code of the same email under it is another request.
    const other = await call(both, "VerifyLogin", { challengeId: login.challengeId, code: login.code }, key);
    expect([other.status, reasonOf(other.body)]).toEqual([400, "IDEMPOTENCY_KEY_REUSED"]);
  });

  it("refuses malformed proofs with INVALID_ARGUMENT, never a 5xx", async () => {
    const login = await startLogin(both);
    const bad: unknown[] = [
      { challengeId: login.challengeId },
      { challengeId: login.challengeId, code: login.code, linkToken: login.linkToken },
      { email: login.email, linkToken: login.linkToken },
      { challengeId: login.challengeId, linkToken: "lnk_short" },
      { challengeId: login.challengeId, linkToken: `${login.linkToken}\u0000` },
      { challengeId: login.challengeId, linkToken: 42 },
      { challengeId: login.challengeId, linkToken: login.linkToken?.toUpperCase() },
    ];
    for (const body of bad) {
      const r = await call(both, "VerifyLogin", body);
      expect([JSON.stringify(body), r.status, reasonOf(r.body)]).toEqual([
        JSON.stringify(body),
        400,
        "INVALID_ARGUMENT",
      ]);
    }
    // None of them cost the login anything.
    const status = await call(both, "GetLoginStatus", { challengeId: login.challengeId });
    expect(status.body.loginState).toBe("LOGIN_STATE_PENDING");
    expect(
      (await call(both, "VerifyLogin", { challengeId: login.challengeId, linkToken: login.linkToken }))
        .status,
    ).toBe(200);
  });

  it("expires the link with the code, on the real clock", { timeout: 120_000 }, async () => {
    // The shortest lifetime an app may set; waited out for real (this file runs beside others).
    const brief = await mesh.createApp({ loginMethods: [CODE, LINK], linkUrl: LINK_URL, codeTtlSeconds: 60 });
    secrets.add(brief.apiKey);
    const login = await startLogin(brief);
    const started = Date.now();
    const status = await call(brief, "GetLoginStatus", { challengeId: login.challengeId });
    const expiresAt = Date.parse(status.body.expiresAt as string);
    expect(expiresAt - started).toBeLessThanOrEqual(60_000);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 500));
    const late = await call(brief, "VerifyLogin", {
      challengeId: login.challengeId,
      linkToken: login.linkToken,
    });
    expect([late.status, reasonOf(late.body)]).toEqual([401, "CODE_INVALID"]);
    const code = await call(brief, "VerifyLogin", { challengeId: login.challengeId, code: login.code });
    expect([code.status, reasonOf(code.body)]).toEqual([401, "CODE_INVALID"]);
    expect((await call(brief, "GetLoginStatus", { challengeId: login.challengeId })).body.loginState).toBe(
      "LOGIN_STATE_EXPIRED",
    );
  });

  it("never logs a link token, a code or a token", () => {
    const text = mesh.allLogs();
    expect(text).toContain('"loginMethod":"link"');
    expect(leakedSecrets(text, secrets)).toEqual([]);
    expect(text).not.toMatch(/lnk_[a-z2-7]{10}/);
  });
});
