// When a part of the mesh is down or slow, client apps get a clear, quick answer, and nothing
// is left half done.
import { randomUUID } from "node:crypto";
import { waitFor } from "@emailauth/devkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, postJson, reasonOf, startMesh, whenInFlight } from "./helpers/mesh.ts";

let mesh: Mesh;
let app: { appId: string; apiKey: string };

beforeAll(async () => {
  // A ceiling of 3 in flight: StartLogin is admitted up to 2 (80%), VerifyLogin up to 3.
  mesh = await startMesh({ env: { gateway: { UPSTREAM_TIMEOUT: "1s", MAX_IN_FLIGHT: "3" } } });
  app = await mesh.createApp();
});
afterAll(async () => {
  await mesh?.stop();
});

const call = (method: string, body: unknown) =>
  postJson(mesh.gatewayUrl, method, body, { authorization: `Bearer ${app.apiKey}` });
const uniqueEmail = () => `down-${randomUUID().slice(0, 8)}@example.com`;

describe("a service down", () => {
  it("gives unavailable within the deadline when the mailer is down, retires the unsent code, and works again when it is back", async () => {
    mesh.mailer.kill("SIGKILL");
    await mesh.mailer.exited;
    const email = uniqueEmail();
    const t0 = performance.now();
    const r = await call("StartLogin", { email });
    // The 1s deadline, then the cancellation of the unsent code.
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect([r.status, reasonOf(r.body)]).toEqual([503, "UPSTREAM_UNAVAILABLE"]);
    expect(JSON.stringify(r.body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|mailer/i);

    await mesh.startMailer();
    // The refused attempt cost the person no cooldown: a new code goes out as soon as the
    // gateway has reconnected (its reconnect backoff may outlast this test's 1s deadline, so
    // a 503 in between is allowed; a 429 cooldown never is).
    const again = await waitFor("an answer other than unavailable", async () => {
      const r = await call("StartLogin", { email });
      return reasonOf(r.body) !== "UPSTREAM_UNAVAILABLE" && r;
    });
    expect(again.status).toBe(200);
    expect(await mesh.codeFor(email)).toMatch(/^\d{6}$/);
    expect(mesh.sink.messages().filter((m) => m.to.includes(email))).toHaveLength(1);
  });

  it("answers unavailable within the deadline when a service hangs, then recovers", async () => {
    const email = uniqueEmail();
    mesh.mailer.kill("SIGSTOP");
    try {
      const t0 = performance.now();
      const r = await call("StartLogin", { email });
      const elapsed = performance.now() - t0;
      expect([r.status, reasonOf(r.body)]).toEqual([503, "UPSTREAM_UNAVAILABLE"]);
      // UPSTREAM_TIMEOUT is 1s; a retry budget of at most the same deadline again.
      expect(elapsed).toBeGreaterThan(900);
      expect(elapsed).toBeLessThan(3_500);
    } finally {
      mesh.mailer.kill("SIGCONT");
    }
    const ok = await call("StartLogin", { email: uniqueEmail() });
    expect(ok.status).toBe(200);
  });
});

describe("a client app that goes away", () => {
  it("still gets the started login finished: the email goes out with a code that works", async () => {
    const email = uniqueEmail();
    const metrics = `${mesh.gatewayUrl}/metrics`;
    const issued = async () =>
      Number(
        /^emailauth_upstream_duration_seconds_count\{[^}]*service="persistence"[^}]*method="issueLoginCode"[^}]*code="ok"[^}]*\} (\d+)/m.exec(
          await (await fetch(metrics)).text(),
        )?.[1] ?? 0,
      );
    const before = await issued();
    // The mailer stalls, so the request is certainly between issuing the code and queueing the
    // email when the client app disconnects.
    mesh.mailer.kill("SIGSTOP");
    try {
      const client = new AbortController();
      const request = fetch(`${mesh.gatewayUrl}/emailauth.auth.v1.AuthService/StartLogin`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${app.apiKey}` },
        body: JSON.stringify({ email }),
        signal: client.signal,
      }).catch(() => undefined);
      await waitFor("the code issued", async () => (await issued()) > before);
      client.abort();
      await request;
      // A request to the gateway after the disconnect: it has seen the connection close.
      await fetch(`${mesh.gatewayUrl}/healthz`);
    } finally {
      mesh.mailer.kill("SIGCONT");
    }
    const code = await mesh.codeFor(email);
    const verified = await call("VerifyLogin", { email, code });
    expect([verified.status, reasonOf(verified.body)]).toEqual([200, undefined]);
  });
});

describe("overload", () => {
  it("sheds StartLogin before VerifyLogin, at once and with Retry-After, instead of queueing", async () => {
    // A person who already has a code, for the VerifyLogin below.
    const email = uniqueEmail();
    const started = await call("StartLogin", { email });
    const code = await mesh.codeFor(email);
    mesh.mailer.kill("SIGSTOP");
    try {
      // Two StartLogins hang on the stopped mailer: StartLogin's share of the limit is reached.
      let settled = false;
      const hanging = Promise.all([
        call("StartLogin", { email: uniqueEmail() }),
        call("StartLogin", { email: uniqueEmail() }),
      ]).finally(() => {
        settled = true;
      });
      await whenInFlight(`${mesh.gatewayUrl}/metrics`, 2);
      const shed = await call("StartLogin", { email: uniqueEmail() });
      expect([shed.status, reasonOf(shed.body)]).toEqual([429, "OVERLOADED"]);
      expect(Number(shed.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(shed.headers.get("x-request-id")).toBeTruthy();
      // A browser can read its refusal (and when to come back); gRPC-Web gets one in its protocol.
      const fromBrowser = await fetch(`${mesh.gatewayUrl}/emailauth.auth.v1.AuthService/StartLogin`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${app.apiKey}`,
          origin: "https://app.example",
        },
        body: JSON.stringify({ email: uniqueEmail() }),
      });
      expect(fromBrowser.status).toBe(429);
      expect(fromBrowser.headers.get("access-control-allow-origin")).toBe("https://app.example");
      expect(fromBrowser.headers.get("access-control-expose-headers")).toMatch(/Retry-After/);
      expect(fromBrowser.headers.get("x-request-id")).toBeTruthy();
      const grpcWeb = await fetch(`${mesh.gatewayUrl}/emailauth.auth.v1.AuthService/StartLogin`, {
        method: "POST",
        headers: { "content-type": "application/grpc-web+proto", authorization: `Bearer ${app.apiKey}` },
        body: new Uint8Array([0, 0, 0, 0, 0]),
      });
      expect(grpcWeb.status).toBe(200);
      expect(Buffer.from(await grpcWeb.arrayBuffer()).toString("latin1")).toMatch(/grpc-status: ?8/);
      // Refused while the two admitted still wait: it was not queued behind them.
      expect(settled).toBe(false);
      // The person typing a code is still served.
      const verified = await call("VerifyLogin", { challengeId: started.body.challengeId, code });
      expect(verified.status).toBe(200);
      await hanging;
    } finally {
      mesh.mailer.kill("SIGCONT");
    }
  });
});
