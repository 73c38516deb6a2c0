// The product end to end, as client apps and people use it: the three services as separate
// processes, a real Redis, a real SMTP server. Logging in over plain JSON (what curl does), with
// the typed client, and over gRPC; bad input; CORS; no account enumeration by timing; and, at
// the end, no secret in any service's logs.
import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService, createAuthClient, errorReason } from "@emailauth/client/source";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bufCurl } from "./helpers/buf-curl.ts";
import { leakedSecrets } from "./helpers/log-secrets.ts";
import { type Mesh, postJson, reasonOf, startMesh } from "./helpers/mesh.ts";

let mesh: Mesh;
let app: { appId: string; apiKey: string };
const secrets = new Set<string>();
const emails = new Set<string>();

beforeAll(async () => {
  // A short cooldown, so that the timing test can send known addresses a new code.
  // Debug logs: every call and delivery is logged, which the request-id and secret checks read.
  mesh = await startMesh({
    env: {
      persistence: { LIMIT_EMAIL_COOLDOWN: "2s", LOG_LEVEL: "debug" },
      mailer: { LOG_LEVEL: "debug" },
      gateway: { LOG_LEVEL: "debug" },
    },
  });
  app = await mesh.createApp({ displayName: "Test Shop", allowedOrigins: ["https://shop.example"] });
  secrets.add(app.apiKey);
});

afterAll(async () => {
  await mesh?.stop();
});

const uniqueEmail = (label = "person") => {
  const email = `${label}-${randomUUID().slice(0, 8)}@example.com`;
  emails.add(email);
  return email;
};

function call(method: string, body: unknown, headers: Record<string, string> = {}) {
  return postJson(mesh.gatewayUrl, method, body, { authorization: `Bearer ${app.apiKey}`, ...headers });
}

describe("logging in over JSON/HTTP (curl)", () => {
  it("starts, emails the code, verifies, refreshes, detects reuse and revokes", async () => {
    const email = uniqueEmail("jane");
    const started = await call("StartLogin", { email: `  ${email.toUpperCase()} `, locale: "es-MX" });
    expect(started.status).toBe(200);
    const challengeId = started.body.challengeId as string;
    expect(challengeId).toMatch(/^chl_[a-z2-7]{38}$/);
    expect(Date.parse(started.body.expiresAt as string)).toBeGreaterThan(Date.now() + 9 * 60_000);
    expect(Date.parse(started.body.resendAvailableAt as string)).toBeGreaterThan(Date.now() + 1_000);

    const code = await mesh.codeFor(email);
    secrets.add(code);
    const status = await call("GetLoginStatus", { challengeId });
    expect(status.body).toMatchObject({
      loginState: "LOGIN_STATE_PENDING",
      deliveryState: "DELIVERY_STATE_SENT",
    });

    const verified = await call("VerifyLogin", { challengeId, code, userAgent: "Firefox/130" });
    expect(verified.status).toBe(200);
    const v = verified.body as {
      user: { id: string; email: string };
      newUser: boolean;
      sessionId: string;
      accessToken: string;
      refreshToken: string;
    };
    secrets.add(v.accessToken).add(v.refreshToken);
    expect(v.user.email).toBe(email);
    expect(v.newUser).toBe(true);

    // The access token verifies offline against the published keys.
    const jwks = createRemoteJWKSet(new URL(`${mesh.gatewayUrl}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(v.accessToken, jwks, {
      issuer: mesh.issuer,
      audience: app.appId,
      algorithms: ["EdDSA"],
    });
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", kid: "test-key-1", typ: "at+jwt" });
    expect(payload).toMatchObject({ sub: v.user.id, sid: v.sessionId, amr: ["otp", "email"] });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(15 * 60);

    expect((await call("GetLoginStatus", { challengeId })).body.loginState).toBe("LOGIN_STATE_VERIFIED");
    const reusedCode = await call("VerifyLogin", { challengeId, code });
    expect([reusedCode.status, reasonOf(reusedCode.body)]).toEqual([401, "CODE_INVALID"]);

    const refreshed = await call("RefreshSession", { refreshToken: v.refreshToken });
    expect(refreshed.status).toBe(200);
    const next = refreshed.body.refreshToken as string;
    secrets.add(next).add(refreshed.body.accessToken as string);
    expect(refreshed.body).toMatchObject({ userId: v.user.id, sessionId: v.sessionId });
    await jwtVerify(refreshed.body.accessToken as string, jwks, { issuer: mesh.issuer, audience: app.appId });

    // The old refresh token again: reuse, and the whole session is revoked.
    const reuse = await call("RefreshSession", { refreshToken: v.refreshToken });
    expect([reuse.status, reasonOf(reuse.body)]).toEqual([401, "REFRESH_TOKEN_REUSED"]);
    const after = await call("RefreshSession", { refreshToken: next });
    expect([after.status, reasonOf(after.body)]).toEqual([401, "SESSION_INVALID"]);

    // Another code right away: the cooldown, with the time a retry is allowed.
    const again = await call("StartLogin", { email });
    expect([again.status, reasonOf(again.body)]).toEqual([429, "RATE_LIMITED"]);
    expect(Number(again.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("verifies by email, revokes one session and then all of a user's", async () => {
    const email = uniqueEmail("sam");
    let resendAt = 0;
    const login = async () => {
      await new Promise((r) => setTimeout(r, Math.max(0, resendAt - Date.now())));
      const before = mesh.sink.messages().at(-1)?.seq ?? 0;
      const started = await call("StartLogin", { email });
      resendAt = Date.parse(started.body.resendAvailableAt as string);
      const code = await mesh.codeFor(email, before);
      secrets.add(code);
      const r = await call("VerifyLogin", { email, code });
      expect(r.status).toBe(200);
      secrets.add(r.body.refreshToken as string).add(r.body.accessToken as string);
      return r.body as { sessionId: string; refreshToken: string; user: { id: string } };
    };
    const first = await login();
    const second = await login();
    const third = await login();
    expect(new Set([first.user.id, second.user.id, third.user.id]).size).toBe(1);
    expect((await call("RevokeSession", { sessionId: first.sessionId })).body).toEqual({ revoked: true });
    expect(reasonOf((await call("RefreshSession", { refreshToken: first.refreshToken })).body)).toBe(
      "SESSION_INVALID",
    );
    expect((await call("RevokeSession", { refreshToken: second.refreshToken })).body).toEqual({
      revoked: true,
    });
    expect((await call("RevokeUserSessions", { userId: first.user.id })).body).toEqual({ revokedCount: 1 });
    expect(reasonOf((await call("RefreshSession", { refreshToken: third.refreshToken })).body)).toBe(
      "SESSION_INVALID",
    );
  });
});

describe("the typed client and gRPC", () => {
  it("logs in with the typed TypeScript client (Connect protocol)", async () => {
    const auth = createAuthClient({ baseUrl: mesh.gatewayUrl, apiKey: app.apiKey });
    const email = uniqueEmail("typed");
    const { challengeId } = await auth.startLogin({ email, locale: "en" });
    const code = await mesh.codeFor(email);
    secrets.add(code);
    const wrong = await auth
      .verifyLogin({
        target: { case: "challengeId", value: challengeId },
        code: code === "000000" ? "111111" : "000000",
      })
      .catch((err: unknown) => err);
    expect(errorReason(wrong)).toBe("CODE_INVALID");
    const session = await auth.verifyLogin({ target: { case: "challengeId", value: challengeId }, code });
    secrets.add(session.accessToken).add(session.refreshToken);
    expect(session.user?.email).toBe(email);
    expect(decodeProtectedHeader(session.accessToken).alg).toBe("EdDSA");
  });

  it("logs in over gRPC on the same port", async () => {
    const transport = createGrpcTransport({
      baseUrl: mesh.gatewayUrl,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${app.apiKey}`);
          return next(req);
        },
      ],
    });
    const auth = createClient(AuthService, transport);
    const email = uniqueEmail("grpc");
    const { challengeId } = await auth.startLogin({ email });
    const code = await mesh.codeFor(email);
    secrets.add(code);
    const session = await auth.verifyLogin({ target: { case: "challengeId", value: challengeId }, code });
    secrets.add(session.accessToken).add(session.refreshToken);
    const refreshed = await auth.refreshSession({ refreshToken: session.refreshToken });
    secrets.add(refreshed.accessToken).add(refreshed.refreshToken);
    expect(refreshed.sessionId).toBe(session.sessionId);
    const status = await auth.getLoginStatus({ challengeId });
    expect(status.deliveryAttempts).toBe(1);
  });

  it("is listed and callable with buf curl through reflection", async () => {
    const base = mesh.gatewayUrl;
    const listed = await bufCurl(["--list-methods", base]);
    expect(listed.stdout).toContain("emailauth.auth.v1.AuthService/StartLogin");
    const email = uniqueEmail("bufcurl");
    const started = await bufCurl([
      "-H",
      `Authorization: Bearer ${app.apiKey}`,
      "-d",
      JSON.stringify({ email }),
      `${base}/emailauth.auth.v1.AuthService/StartLogin`,
    ]);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout).challengeId).toMatch(/^chl_/);
    secrets.add(await mesh.codeFor(email));
  });
});

describe("bad input", () => {
  it("answers every malformed request with a clear error, writes nothing and keeps serving", async () => {
    const keysBefore = await mesh.redis.dbsize();
    const sentBefore = mesh.sink.messages().length;
    const cases: [string, string, unknown, Record<string, string>, number, string | undefined][] = [
      // Refused while decoding, before any interceptor: our reason all the same.
      ["malformed JSON", "StartLogin", '{"email": "a@b.co"', {}, 400, "INVALID_ARGUMENT"],
      ["wrong type", "StartLogin", { email: 42 }, {}, 400, "INVALID_ARGUMENT"],
      ["invalid email", "StartLogin", { email: "not an email" }, {}, 400, "EMAIL_INVALID"],
      [
        "email with CR/LF",
        "StartLogin",
        { email: "a@b.co\r\nBcc: all@example.com" },
        {},
        400,
        "INVALID_ARGUMENT",
      ],
      ["IDN-less garbage domain", "StartLogin", { email: "a@-bad-.com" }, {}, 400, "EMAIL_INVALID"],
      ["oversize body", "StartLogin", { email: `${"a".repeat(20_000)}@b.co` }, {}, 429, "REQUEST_TOO_LARGE"],
      ["bad locale", "StartLogin", { email: "a@b.co", locale: "en\r\nX: y" }, {}, 400, "INVALID_ARGUMENT"],
      ["bad IP", "StartLogin", { email: "a@b.co", endUserIp: "999.0.0.1" }, {}, 400, "INVALID_ARGUMENT"],
      ["no target", "VerifyLogin", { code: "123456" }, {}, 400, "INVALID_ARGUMENT"],
      [
        "code with CR/LF",
        "VerifyLogin",
        { challengeId: `chl_${"a".repeat(38)}`, code: "12\r\n34" },
        {},
        400,
        "INVALID_ARGUMENT",
      ],
      ["bad refresh token", "RefreshSession", { refreshToken: "ert_x" }, {}, 400, "INVALID_ARGUMENT"],
      ["missing API key", "StartLogin", { email: "a@b.co" }, { authorization: "" }, 401, "API_KEY_INVALID"],
      [
        "forged API key",
        "StartLogin",
        { email: "a@b.co" },
        { authorization: `Bearer eak_${"a".repeat(52)}` },
        401,
        "API_KEY_INVALID",
      ],
      [
        "not a bearer",
        "StartLogin",
        { email: "a@b.co" },
        { authorization: `Basic ${app.apiKey}` },
        401,
        "API_KEY_INVALID",
      ],
    ];
    for (const [what, method, body, headers, status, reason] of cases) {
      const r = await call(method, body, headers);
      expect([what, r.status]).toEqual([what, status]);
      expect(typeof r.body.message).toBe("string");
      if (reason) expect([what, reasonOf(r.body)]).toEqual([what, reason]);
      expect(JSON.stringify(r.body)).not.toMatch(/stack|at \w+ \(|ioredis|grpc/i);
    }
    expect(await mesh.redis.dbsize()).toBe(keysBefore);
    expect(mesh.sink.messages().length).toBe(sentBefore);
    const ready = await fetch(`${mesh.gatewayUrl}/readyz`);
    expect(ready.status).toBe(200);
    for (const p of [...mesh.persistence, mesh.mailer, mesh.gateway]) expect(p.child.exitCode).toBeNull();
  });
});

describe("CORS", () => {
  it("answers preflights, and serves only the app's allowed origins", async () => {
    const url = `${mesh.gatewayUrl}/emailauth.auth.v1.AuthService/StartLogin`;
    const preflight = await fetch(url, {
      method: "OPTIONS",
      headers: {
        origin: "https://shop.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");

    const email = uniqueEmail("cors");
    const allowed = await call("StartLogin", { email }, { origin: "https://shop.example" });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    secrets.add(await mesh.codeFor(email));

    const refused = await call(
      "StartLogin",
      { email: uniqueEmail("cors") },
      { origin: "https://evil.example" },
    );
    expect([refused.status, reasonOf(refused.body)]).toEqual([403, "ORIGIN_NOT_ALLOWED"]);
  });
});

describe("no account enumeration", () => {
  it("answers a known and an unknown email alike, in content and in time", async () => {
    // A known person: logged in once.
    const known = uniqueEmail("known");
    await call("StartLogin", { email: known });
    const code = await mesh.codeFor(known);
    secrets.add(code);
    await call("VerifyLogin", { email: known, code });

    // Then, interleaved so that noise hits both alike: new codes for known people and for
    // addresses never seen. Each request uses a fresh address (the per-email cooldown).
    const rounds = 25;
    const times: Record<"known" | "unknown", number[]> = { known: [], unknown: [] };
    const shapes = new Set<string>();
    const knownPeople: string[] = [];
    let resendAt = 0;
    for (let i = 0; i < rounds; i++) {
      const email = uniqueEmail("kn");
      const started = await call("StartLogin", { email });
      resendAt = Date.parse(started.body.resendAvailableAt as string);
      const c = await mesh.codeFor(email);
      secrets.add(c);
      await call("VerifyLogin", { email, code: c });
      knownPeople.push(email);
    }
    // Until the cooldown of the last known person is over (the time the API gave).
    await new Promise((r) => setTimeout(r, Math.max(0, resendAt - Date.now())));
    for (let i = 0; i < rounds; i++) {
      for (const kind of ["known", "unknown"] as const) {
        const email = kind === "known" ? (knownPeople[i] as string) : uniqueEmail("unk");
        const t0 = performance.now();
        const r = await call("StartLogin", { email });
        times[kind].push(performance.now() - t0);
        expect(r.status).toBe(200);
        shapes.add(Object.keys(r.body).sort().join(","));
      }
    }
    expect(shapes.size).toBe(1);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const [k, u] = [median(times.known), median(times.unknown)];
    // The same code path runs for both; allow for noise only.
    expect(Math.abs(k - u)).toBeLessThan(Math.max(3, 0.5 * Math.min(k, u)));
  });
});

describe("metrics", () => {
  it("count requests by method and code on every service, with no personal data in labels", async () => {
    const scrape = async (url: string) => (await fetch(url)).text();
    const gateway = await scrape(`${mesh.gatewayUrl}/metrics`);
    expect(gateway).toMatch(/emailauth_requests_total\{[^}]*method="StartLogin"[^}]*code="ok"[^}]*\} \d+/);
    expect(gateway).toMatch(/emailauth_request_duration_seconds_bucket\{[^}]*method="VerifyLogin"/);
    expect(gateway).toMatch(
      /emailauth_upstream_duration_seconds_bucket\{[^}]*service="persistence"[^}]*method="issueLoginCode"/,
    );
    const persistence = await scrape(`http://127.0.0.1:${mesh.persistence[0]?.ports.opsPort}/metrics`);
    expect(persistence).toMatch(/emailauth_requests_total\{[^}]*method="ConsumeLoginCode"/);
    const mailer = await scrape(`http://127.0.0.1:${mesh.mailer.ports.httpPort}/metrics`);
    expect(mailer).toMatch(/emailauth_emails_sent_total\{[^}]*\} [1-9]/);
    for (const text of [gateway, persistence, mailer]) {
      expect(text).toContain("process_cpu_seconds_total");
      expect(text).not.toMatch(/@example\.com|eak_|ert_|usr_|chl_|ses_/);
    }
  });
});

describe("logs", () => {
  it("carry the request id from the gateway through persistence and the mailer", async () => {
    const requestId = `trace-${randomUUID()}`;
    const email = uniqueEmail("traced");
    const r = await call("StartLogin", { email }, { "x-request-id": requestId });
    expect(r.headers.get("x-request-id")).toBe(requestId);
    secrets.add(await mesh.codeFor(email));
    for (const service of [mesh.gateway, mesh.persistence[0], mesh.mailer]) {
      const line = await service?.logs.waitForLine(
        (l) => l.requestId === requestId && l.msg !== "call refused",
      );
      expect(line?.requestId).toBe(requestId);
    }
    // Including the mailer's delivery, which happens after the request has been answered.
    await mesh.mailer.logs.waitForLine((l) => l.requestId === requestId && l.msg === "email sent");
  });

  it("never contain a code, a token, an API key or a full email address, in any service", async () => {
    const text = mesh.allLogs();
    expect(text.length).toBeGreaterThan(1000);
    // Every request was logged, with its request id.
    expect(text).toContain('"msg":"request"');
    expect(leakedSecrets(text, secrets)).toEqual([]);
    expect(leakedSecrets(text, emails)).toEqual([]);
    expect(text).not.toMatch(/eak_[a-z2-7]{10}|ert_[a-z2-7]{10}|eyJ[\w-]{10,}\.eyJ/);
    // Not even sealed (encrypted) payloads belong in logs.
    expect(text).not.toMatch(/v1\.[\w-]{8}\.[\w-]{16}\./);
  });
});
