// The public API tried as an attacker would, over real processes: the three services, a real
// SMTP server, and the embedded memory store or Redis. Each defect found in v1 is a test here:
// replayed Idempotency-Keys that handed out sessions, replays that outlived revocation or raced,
// the request id acting as a key, 5xx answers to garbage, unthrottled guessing of API keys,
// IPv4 counted apart when written as IPv6, and guessing spread over many emails.
import { randomUUID } from "node:crypto";
import { connect } from "node:http2";
import { connect as connectTcp } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, postJson, reasonOf, startMesh } from "./helpers/mesh.ts";

const SERVICE = "emailauth.auth.v1.AuthService";

describe.each(["memory", "redis"] as const)("the public API under attack (%s store)", (store) => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({
      store,
      env: {
        // Small budgets and limits, so that the tests meet them; each test uses apps of its own.
        // An app's budget holds every verification in flight as a possible failure: 100 lets
        // the concurrency tests' 40 at once through.
        persistence: { LIMIT_IP_SENDS_PER_HOUR: "3", GUESS_BUDGET_APP_PER_HOUR: "100" },
        // The tests speak from 127.0.0.1 as a proxy would, naming the client in X-Forwarded-For.
        gateway: { API_KEY_FAILURES_PER_MINUTE: "10", TRUSTED_PROXIES: "127.0.0.1,::1" },
      },
    });
  });
  afterAll(async () => {
    await mesh?.stop();
  });

  const uniqueEmail = (label = "p") => `${label}-${randomUUID().slice(0, 8)}@example.com`;

  async function appCaller() {
    const app = await mesh.createApp();
    const call = (method: string, body: unknown, headers: Record<string, string> = {}) =>
      postJson(mesh.gatewayUrl, method, body, { authorization: `Bearer ${app.apiKey}`, ...headers });
    /** StartLogin, and the code from the email. */
    const started = async (email = uniqueEmail()) => {
      const before = mesh.sink.messages().at(-1)?.seq ?? 0;
      const r = await call("StartLogin", { email });
      expect(r.status).toBe(200);
      return { email, challengeId: r.body.challengeId as string, code: await mesh.codeFor(email, before) };
    };
    const loggedIn = async (key?: string) => {
      const s = await started();
      const r = await call(
        "VerifyLogin",
        { challengeId: s.challengeId, code: s.code },
        key ? { "idempotency-key": key } : {},
      );
      expect(r.status).toBe(200);
      return { ...s, body: r.body as { refreshToken: string; sessionId: string; user: { id: string } } };
    };
    return { app, call, started, loggedIn };
  }

  const wrong = (code: string) => (code === "000000" ? "111111" : "000000");

  describe("Idempotency-Key", () => {
    it("never answers a VerifyLogin key replayed with a wrong code, by email, or with a made-up challenge", async () => {
      const { call, started } = await appCaller();
      const s = await started();
      const key = { "idempotency-key": `k-${randomUUID()}` };
      const first = await call("VerifyLogin", { challengeId: s.challengeId, code: s.code }, key);
      expect(first.status).toBe(200);
      const sameTag = `chl_${s.challengeId.slice(4, 16)}${"a".repeat(26)}`;
      for (const body of [
        { challengeId: s.challengeId, code: wrong(s.code) },
        { email: s.email, code: s.code },
        { challengeId: sameTag, code: s.code },
      ]) {
        const replay = await call("VerifyLogin", body, key);
        expect([replay.status, reasonOf(replay.body)]).toEqual([400, "IDEMPOTENCY_KEY_REUSED"]);
        expect(replay.body.refreshToken).toBeUndefined();
      }
      // The same request again is answered, with the same session.
      const again = await call("VerifyLogin", { challengeId: s.challengeId, code: s.code }, key);
      expect([again.status, again.body.refreshToken]).toEqual([200, first.body.refreshToken]);
    });

    it("never answers a RefreshSession key replayed with a made-up token of the same person", async () => {
      const { call, loggedIn } = await appCaller();
      const { body } = await loggedIn();
      const key = { "idempotency-key": `k-${randomUUID()}` };
      expect((await call("RefreshSession", { refreshToken: body.refreshToken }, key)).status).toBe(200);
      const forged = `ert_${body.refreshToken.slice(4, 16)}${"b".repeat(52)}`;
      const replay = await call("RefreshSession", { refreshToken: forged }, key);
      expect([replay.status, reasonOf(replay.body)]).toEqual([400, "IDEMPOTENCY_KEY_REUSED"]);
    });

    it("refuses a StartLogin key reused for another email, and sends nothing for it", async () => {
      const { call } = await appCaller();
      const key = { "idempotency-key": `k-${randomUUID()}` };
      expect((await call("StartLogin", { email: uniqueEmail() }, key)).status).toBe(200);
      const sent = mesh.sink.messages().length;
      const other = uniqueEmail();
      const reused = await call("StartLogin", { email: other }, key);
      expect([reused.status, reasonOf(reused.body)]).toEqual([400, "IDEMPOTENCY_KEY_REUSED"]);
      const retried = await call("StartLogin", { email: other, locale: "es" }, key);
      expect(reasonOf(retried.body)).toBe("IDEMPOTENCY_KEY_REUSED");
      expect(
        mesh.sink
          .messages()
          .slice(sent)
          .some((m) => m.to.includes(other)),
      ).toBe(false);
    });

    it("answers replays only while the session stands: after RevokeSession, SESSION_INVALID and no token", async () => {
      const { call, started } = await appCaller();
      const s = await started();
      const verifyKey = { "idempotency-key": `v-${randomUUID()}` };
      const verified = await call("VerifyLogin", { challengeId: s.challengeId, code: s.code }, verifyKey);
      const refreshKey = { "idempotency-key": `r-${randomUUID()}` };
      const refreshBody = { refreshToken: verified.body.refreshToken };
      expect((await call("RefreshSession", refreshBody, refreshKey)).status).toBe(200);
      const revoked = await call("RevokeSession", { sessionId: verified.body.sessionId });
      expect(revoked.body).toEqual({ revoked: true });
      for (const [method, body, key] of [
        ["VerifyLogin", { challengeId: s.challengeId, code: s.code }, verifyKey],
        ["RefreshSession", refreshBody, refreshKey],
      ] as const) {
        const replay = await call(method, body, key);
        expect([method, replay.status, reasonOf(replay.body)]).toEqual([method, 401, "SESSION_INVALID"]);
        expect(replay.body.accessToken).toBeUndefined();
      }
    });

    it("gives both requests of 20 concurrent VerifyLogin pairs with one key the same 200 answer", async () => {
      const { call, started } = await appCaller();
      const logins = await Promise.all(Array.from({ length: 20 }, () => started()));
      const pairs = await Promise.all(
        logins.map((s) => {
          const key = { "idempotency-key": `pair-${randomUUID()}` };
          const body = { challengeId: s.challengeId, code: s.code };
          return Promise.all([call("VerifyLogin", body, key), call("VerifyLogin", body, key)]);
        }),
      );
      for (const [a, b] of pairs) {
        expect([a.status, b.status]).toEqual([200, 200]);
        expect(b.body.refreshToken).toBe(a.body.refreshToken);
        expect(b.body.sessionId).toBe(a.body.sessionId);
      }
    });

    it("gives both requests of 20 concurrent RefreshSession pairs with one key the same 200 answer, revoking nothing", async () => {
      const { call, loggedIn } = await appCaller();
      const sessions = await Promise.all(Array.from({ length: 20 }, () => loggedIn()));
      const pairs = await Promise.all(
        sessions.map(({ body }) => {
          const key = { "idempotency-key": `pair-${randomUUID()}` };
          const request = { refreshToken: body.refreshToken };
          return Promise.all([call("RefreshSession", request, key), call("RefreshSession", request, key)]);
        }),
      );
      for (const [a, b] of pairs) {
        expect([a.status, b.status, reasonOf(b.body)]).toEqual([200, 200, undefined]);
        expect(b.body.refreshToken).toBe(a.body.refreshToken);
        // The session is alive: its new token works.
        expect((await call("RefreshSession", { refreshToken: a.body.refreshToken })).status).toBe(200);
      }
    });

    it("treats X-Request-Id as a trace id only: it replays nothing", async () => {
      const { call, started } = await appCaller();
      const s = await started();
      const traced = { "x-request-id": `trace-${randomUUID()}` };
      const first = await call("VerifyLogin", { challengeId: s.challengeId, code: s.code }, traced);
      expect([first.status, first.headers.get("x-request-id")]).toEqual([200, traced["x-request-id"]]);
      const replay = await call("VerifyLogin", { challengeId: s.challengeId, code: wrong(s.code) }, traced);
      expect([replay.status, reasonOf(replay.body)]).toEqual([401, "CODE_INVALID"]);
      const again = await call("VerifyLogin", { challengeId: s.challengeId, code: s.code }, traced);
      expect([again.status, reasonOf(again.body)]).toEqual([401, "CODE_INVALID"]);
    });
  });

  describe("no 5xx for any input", () => {
    it("answers HTTP/1.x requests without a Host, or with one that is no authority, with 400, and lives on", async () => {
      const { port } = new URL(mesh.gatewayUrl);
      const raw = (request: string) =>
        new Promise<string>((resolve) => {
          const socket = connectTcp({ host: "127.0.0.1", port: Number(port) });
          let received = "";
          socket.on("data", (c: Buffer) => {
            received += c.toString("latin1");
          });
          socket.on("error", () => undefined);
          socket.on("close", () => resolve(received));
          socket.write(request);
        });
      for (const [path, host] of [
        [`/grpc.health.v1.Health/Check`, undefined],
        [`/${SERVICE}/StartLogin`, "a b"],
        [`/${SERVICE}/StartLogin`, "[::1"],
        [`/${SERVICE}/StartLogin`, "a:99999"],
        [`/${SERVICE}/StartLogin`, ""],
      ] as const) {
        const head = host === undefined ? "HTTP/1.0" : `HTTP/1.1\r\nHost: ${host}`;
        const answer = await raw(
          `POST ${path} ${head}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
        );
        expect([host, answer.split("\r\n")[0]]).toEqual([host, expect.stringMatching(/^HTTP\/1\.[01] 400 /)]);
      }
      expect(mesh.gateway.child.exitCode).toBeNull();
      expect((await fetch(`${mesh.gatewayUrl}/readyz`)).status).toBe(200);
    });

    it("puts a request id on every answer, the ones outside the API included", async () => {
      const preflight = await fetch(`${mesh.gatewayUrl}/${SERVICE}/StartLogin`, {
        method: "OPTIONS",
        headers: { origin: "https://x.example", "access-control-request-method": "POST" },
      });
      for (const res of [
        preflight,
        await fetch(`${mesh.gatewayUrl}/.well-known/jwks.json`),
        await fetch(`${mesh.gatewayUrl}/healthz`),
        await fetch(`${mesh.gatewayUrl}/no-such-path`),
      ]) {
        expect([res.url, res.headers.get("x-request-id")]).toEqual([
          res.url,
          expect.stringMatching(/^[\w.:-]+$/),
        ]);
      }
      const traced = await fetch(`${mesh.gatewayUrl}/healthz`, { headers: { "x-request-id": "trace-7" } });
      expect(traced.headers.get("x-request-id")).toBe("trace-7");
    });

    it("answers a reflection stream whose message does not decode with invalid_argument, and logs no error", async () => {
      const errorsBefore = errorLines(mesh).length;
      const answer = await grpcCall(
        mesh.gatewayUrl,
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "",
        [0, 0, 0, 0, 2, 0x0a, 0xff],
      );
      expect(answer.status).toBe("3");
      expect(errorLines(mesh).slice(errorsBefore)).toEqual([]);
    });

    const raw = (method: string, init: RequestInit & { query?: string }) =>
      fetch(`${mesh.gatewayUrl}/${SERVICE}/${method}${init.query ?? ""}`, init);

    it("answers API keys of every length and shape with 401 API_KEY_INVALID, and logs no error", async () => {
      const errorsBefore = errorLines(mesh).length;
      for (const key of [`eak_${"a".repeat(150)}`, `eak_${"a".repeat(5000)}`, "eak_", "x".repeat(300), "é"]) {
        const r = await postJson(
          mesh.gatewayUrl,
          "StartLogin",
          { email: uniqueEmail() },
          {
            authorization: `Bearer ${key}`,
            "x-forwarded-for": "198.51.100.1",
          },
        );
        expect([key.slice(0, 10), r.status, reasonOf(r.body)]).toEqual([
          key.slice(0, 10),
          401,
          "API_KEY_INVALID",
        ]);
      }
      expect(errorLines(mesh).slice(errorsBefore)).toEqual([]);
    });

    it("answers bodies that do not decode with 400 and our reason, on Connect, gRPC and gRPC-Web", async () => {
      const { app } = await appCaller();
      const auth = { authorization: `Bearer ${app.apiKey}` };
      const errorsBefore = errorLines(mesh).length;
      const cases: [string, Promise<Response>, number, string][] = [
        [
          "truncated protobuf",
          raw("StartLogin", {
            method: "POST",
            headers: { ...auth, "content-type": "application/proto" },
            body: Buffer.from("0a0568656c6c6f363636", "hex"),
          }),
          400,
          "INVALID_ARGUMENT",
        ],
        [
          "0xff 0xff",
          raw("GetLoginStatus", {
            method: "POST",
            headers: { ...auth, "content-type": "application/proto" },
            body: Buffer.from([0xff, 0xff]),
          }),
          400,
          "INVALID_ARGUMENT",
        ],
        [
          "GET with base64 of nothing",
          raw("GetLoginStatus", {
            method: "GET",
            headers: auth,
            query: "?connect=v1&encoding=json&base64=1&message=%7B%7D",
          }),
          400,
          "INVALID_ARGUMENT",
        ],
        [
          "gzip that is not gzip",
          raw("StartLogin", {
            method: "POST",
            headers: { ...auth, "content-type": "application/json", "content-encoding": "gzip" },
            body: '{"email":"a@example.com"}',
          }),
          400,
          "INVALID_ARGUMENT",
        ],
        [
          "gzip bomb",
          raw("StartLogin", {
            method: "POST",
            headers: { ...auth, "content-type": "application/json", "content-encoding": "gzip" },
            body: gzipSync(Buffer.alloc(50_000_000, 32)),
          }),
          429,
          "REQUEST_TOO_LARGE",
        ],
      ];
      for (const [what, pending, status, reason] of cases) {
        const res = await pending;
        const body = (await res.json()) as Record<string, unknown>;
        expect([what, res.status, reasonOf(body)]).toEqual([what, status, reason]);
        expect(res.headers.get("x-request-id")).toMatch(/^[\w.:-]+$/);
      }

      // gRPC-Web: an envelope that says 100 bytes and holds 3.
      const web = await raw("StartLogin", {
        method: "POST",
        headers: { ...auth, "content-type": "application/grpc-web+proto" },
        body: Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]),
      });
      const trailer = Buffer.from(await web.arrayBuffer()).toString("latin1");
      expect(trailer).toMatch(/grpc-status: ?3\b/);
      expect(trailer).toContain("grpc-status-details-bin");
      expect(web.headers.get("x-request-id")).toBeTruthy();

      // gRPC over HTTP/2: a message that is not protobuf.
      const grpc = await grpcCall(
        mesh.gatewayUrl,
        `/${SERVICE}/StartLogin`,
        auth.authorization,
        [0, 0, 0, 0, 3, 0xff, 0xff, 0xff],
      );
      expect(grpc.status).toBe("3");
      expect(grpc.details).toBe(true);
      expect(grpc.requestId).toBeTruthy();

      expect(errorLines(mesh).slice(errorsBefore)).toEqual([]);
      expect((await fetch(`${mesh.gatewayUrl}/readyz`)).status).toBe(200);
    });
  });

  describe("guessing", () => {
    it("throttles failed API keys per source address, before asking persistence", async () => {
      const lookups = async () => authLookups(await (await fetch(`${mesh.gatewayUrl}/metrics`)).text());
      const { call } = await appCaller();
      const attacker = { "x-forwarded-for": "203.0.113.66" };
      expect((await call("StartLogin", { email: uniqueEmail() }, attacker)).status).toBe(200);
      const before = await lookups();
      const answers: [number, string | undefined, string | null][] = [];
      for (let i = 0; i < 15; i++) {
        const r = await postJson(
          mesh.gatewayUrl,
          "StartLogin",
          { email: uniqueEmail() },
          {
            authorization: `Bearer eak_${randomUUID()
              .replace(/[^a-z2-7]/g, "a")
              .padEnd(52, "b")
              .slice(0, 52)}`,
            ...attacker,
          },
        );
        answers.push([r.status, reasonOf(r.body), r.headers.get("retry-after")]);
      }
      // API_KEY_FAILURES_PER_MINUTE is 10: the first 10 are looked up and refused, then none.
      expect(
        answers.slice(0, 10).every(([status, reason]) => status === 401 && reason === "API_KEY_INVALID"),
      ).toBe(true);
      const refused = answers.slice(10);
      expect(refused.map(([status]) => status)).toEqual([429, 429, 429, 429, 429]);
      for (const [, reason, retryAfter] of refused) {
        expect(reason).toBe("RATE_LIMITED");
        expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      }
      expect((await lookups()) - before).toBeLessThanOrEqual(10);
      // A burst from another address, all at once: held to the limit too.
      const burstBefore = await lookups();
      await Promise.all(
        Array.from({ length: 40 }, () =>
          postJson(
            mesh.gatewayUrl,
            "StartLogin",
            { email: uniqueEmail() },
            { authorization: `Bearer ${madeUpKey()}`, "x-forwarded-for": "203.0.113.99" },
          ),
        ),
      );
      const burstLookups = (await lookups()) - burstBefore;
      expect(burstLookups).toBeLessThanOrEqual(10);
      // An app whose key worked before keeps working from the same address...
      const known = await call("StartLogin", { email: uniqueEmail() }, attacker);
      expect(known.status).toBe(200);
      // ...and other addresses are not affected.
      const elsewhere = await postJson(
        mesh.gatewayUrl,
        "StartLogin",
        { email: uniqueEmail() },
        {
          authorization: `Bearer eak_${"c".repeat(52)}`,
          "x-forwarded-for": "203.0.113.67",
        },
      );
      expect([elsewhere.status, reasonOf(elsewhere.body)]).toEqual([401, "API_KEY_INVALID"]);
    });

    it("counts an IPv4 address as one however it is written as IPv6", async () => {
      const { call } = await appCaller();
      // An IPv6 zone id is accepted (it names the link, not another address).
      expect((await call("StartLogin", { email: uniqueEmail(), endUserIp: "fe80::1%eth0" })).status).toBe(
        200,
      );
      const forms = ["198.51.100.23", "::ffff:198.51.100.23", "::198.51.100.23", "64:ff9b::198.51.100.23"];
      const statuses: number[] = [];
      for (const endUserIp of forms) {
        statuses.push((await call("StartLogin", { email: uniqueEmail(), endUserIp })).status);
      }
      // LIMIT_IP_SENDS_PER_HOUR is 3 here.
      expect(statuses).toEqual([200, 200, 200, 429]);
    });

    it("bounds guesses spread over many emails: the app's weak codes stop being checked, new codes harden", async () => {
      const { call, started } = await appCaller();
      // GUESS_BUDGET_APP_PER_HOUR is 100: from 25 wrong 6-digit guesses codes are hardened,
      // past 50 weak codes are no longer checked. 10 people's codes, guessed 5 times each.
      const targets = await Promise.all(Array.from({ length: 11 }, () => started()));
      const victim = targets.pop() as { challengeId: string; code: string };
      for (const t of targets) {
        for (let i = 0; i < 5; i++) {
          const r = await call("VerifyLogin", { challengeId: t.challengeId, code: String(100_000 + i) });
          expect(reasonOf(r.body)).toBe("CODE_INVALID");
        }
      }
      const refused = await call("VerifyLogin", { challengeId: victim.challengeId, code: victim.code });
      expect([refused.status, reasonOf(refused.body)]).toEqual([429, "RATE_LIMITED"]);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      // A new login gets a 10-digit code, which is still checked: the person gets in.
      const email = uniqueEmail();
      const before = mesh.sink.messages().at(-1)?.seq ?? 0;
      const start = await call("StartLogin", { email });
      const message = await mesh.sink.waitForMessage((m) => m.seq > before && m.to.includes(email));
      const code = /\b(\d{10})\b/.exec(message.parsed.text ?? "")?.[1] ?? "";
      expect(code).toMatch(/^\d{10}$/);
      const ok = await call("VerifyLogin", { challengeId: start.body.challengeId, code });
      expect(ok.status).toBe(200);
      // Operators see it.
      const metrics = await (
        await fetch(`http://127.0.0.1:${mesh.persistence[0]?.ports.opsPort}/metrics`)
      ).text();
      expect(metrics).toMatch(/emailauth_guess_budget_refusals_total\{[^}]*budget="app"[^}]*\} [1-9]/);
      const event = mesh.persistence[0]?.logs.lines().find((l) => l.event === "guess_budget.spent");
      expect(event).toMatchObject({ level: "warn", budget: "app" });
    });
  });
});

/** A key of the right shape that no app has. */
const madeUpKey = () =>
  `eak_${randomUUID()
    .replace(/[^a-z2-7]/g, "a")
    .padEnd(52, "b")
    .slice(0, 52)}`;

/** Error-level log lines (pino level 50 and above) of every service. */
function errorLines(mesh: Mesh): string[] {
  return mesh
    .allLogs()
    .split("\n")
    .filter((l) => /"level":"(error|fatal)"/.test(l));
}

function authLookups(metricsText: string): number {
  let total = 0;
  for (const m of metricsText.matchAll(
    /^emailauth_upstream_duration_seconds_count\{[^}]*method="authenticateClientApp"[^}]*\} (\d+)/gm,
  )) {
    total += Number(m[1]);
  }
  return total;
}

/** One raw gRPC call over HTTP/2 cleartext: the status and whether it carries rich details. */
function grpcCall(
  baseUrl: string,
  path: string,
  authorization: string,
  frame: number[],
): Promise<{ status: string | undefined; details: boolean; requestId: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      te: "trailers",
      authorization,
    });
    let requestId: string | undefined;
    stream.on("response", (headers) => {
      requestId = headers["x-request-id"] as string | undefined;
    });
    stream.on("trailers", (trailers) => {
      resolve({
        status: trailers["grpc-status"] as string | undefined,
        details: Boolean(trailers["grpc-status-details-bin"]),
        requestId,
      });
      session.close();
    });
    stream.on("error", reject);
    stream.resume();
    stream.end(Buffer.from(frame));
  });
}
