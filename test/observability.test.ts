// What an operator gets: the audit trail of a whole login (in order, with the documented
// fields, never a secret), /metrics of every service valid for Prometheus (`promtool check
// metrics`), carrying the metrics operators alert on, and the dashboard and alert rules in
// ops/ naming only metrics that exist (and the rules valid for `promtool check rules`).
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { audit } from "@emailauth/persistence/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, postJson, reasonOf, startMesh } from "./helpers/mesh.ts";

const root = join(import.meta.dirname, "..");
let mesh: Mesh;
let app: { appId: string; apiKey: string };
const secrets: string[] = [];
const requestIds: Record<string, string> = {};

beforeAll(async () => {
  mesh = await startMesh();
  app = await mesh.createApp();
  secrets.push(app.apiKey);
});
afterAll(async () => {
  await mesh?.stop();
});

/** A call with our own request id, remembered under `label`. */
async function call(label: string, method: string, body: Record<string, unknown>) {
  const requestId = `obs-${label}-${randomUUID().slice(0, 8)}`;
  requestIds[label] = requestId;
  return postJson(mesh.gatewayUrl, method, body, {
    authorization: `Bearer ${app.apiKey}`,
    "x-request-id": requestId,
  });
}

describe("the audit trail", () => {
  it("records a whole flow in order, with the documented fields and no secret", async () => {
    const email = `audit-${randomUUID().slice(0, 8)}@example.com`;
    secrets.push(email);
    const before = mesh.sink.messages().at(-1)?.seq ?? 0;
    const started = await call("start", "StartLogin", { email });
    expect(started.status).toBe(200);
    const challengeId = started.body.challengeId as string;
    const wrong = await call("wrong", "VerifyLogin", { challengeId, code: "000000" });
    expect(reasonOf(wrong.body)).toBe("CODE_INVALID");
    const code = await mesh.codeFor(email, before);
    secrets.push(code);
    const verified = await call("verify", "VerifyLogin", { challengeId, code });
    const userId = (verified.body.user as { id: string }).id;
    const first = verified.body.refreshToken as string;
    secrets.push(first, verified.body.accessToken as string);
    const refreshed = await call("refresh", "RefreshSession", { refreshToken: first });
    secrets.push(refreshed.body.refreshToken as string, refreshed.body.accessToken as string);
    const reused = await call("reuse", "RefreshSession", { refreshToken: first });
    expect(reasonOf(reused.body)).toBe("REFRESH_TOKEN_REUSED");
    await call("revoke", "RevokeUserSessions", { userId });

    const lines = mesh.allLogs().split("\n");
    const events = lines
      .filter((l) => l.includes('"msg":"audit"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.clientAppId === app.appId);
    expect(events.map((e) => e.audit)).toEqual([
      "client_app.created",
      "login_code.issued",
      "login.verification_failed",
      "user.created",
      "session.opened",
      "session.refreshed",
      "session.reuse_detected",
    ]);
    for (const e of events) {
      expect(audit.events).toContain(e.audit);
      expect(e).toMatchObject({ level: "info", service: "persistence", requestId: expect.any(String) });
    }
    const byEvent = Object.fromEntries(events.map((e) => [e.audit, e]));
    expect(byEvent["login_code.issued"]).toMatchObject({ challengeId, requestId: requestIds.start });
    expect(byEvent["login.verification_failed"]).toMatchObject({ challengeId, requestId: requestIds.wrong });
    expect(byEvent["user.created"]).toMatchObject({ userId, requestId: requestIds.verify });
    expect(byEvent["session.opened"]).toMatchObject({
      userId,
      sessionId: verified.body.sessionId,
      newUser: true,
      requestId: requestIds.verify,
    });
    expect(byEvent["session.refreshed"]).toMatchObject({ userId, requestId: requestIds.refresh });
    // Whose session the reuse revoked.
    expect(byEvent["session.reuse_detected"]).toMatchObject({
      requestId: requestIds.reuse,
      userId,
      sessionId: verified.body.sessionId,
    });
    // The reuse had revoked the only session already: nothing left to revoke, no event.
    expect(byEvent["user.sessions_revoked"]).toBeUndefined();
    const trail = JSON.stringify(events);
    for (const secret of secrets) expect(trail).not.toContain(secret);

    const gatewayEvents = mesh.gateway.logs.lines().filter((l) => l.msg === "audit");
    expect(gatewayEvents).toContainEqual(
      expect.objectContaining({
        audit: "signing_keys.loaded",
        activeKid: expect.any(String),
        kids: expect.any(Array),
      }),
    );
  });
});

describe("the audit trail of retries", () => {
  it("records a fact once when a call is retried with its Idempotency-Key", async () => {
    const email = `retried-${randomUUID().slice(0, 8)}@example.com`;
    const before = mesh.sink.messages().at(-1)?.seq ?? 0;
    const twice = async (method: string, body: Record<string, unknown>) => {
      const headers = { authorization: `Bearer ${app.apiKey}`, "idempotency-key": randomUUID() };
      const first = await postJson(mesh.gatewayUrl, method, body, headers);
      const again = await postJson(mesh.gatewayUrl, method, body, headers);
      // The same answer (the access token is signed afresh; its session is the same).
      expect([again.status, again.body.challengeId, again.body.sessionId]).toEqual([
        first.status,
        first.body.challengeId,
        first.body.sessionId,
      ]);
      return first;
    };
    const started = await twice("StartLogin", { email });
    const challengeId = started.body.challengeId as string;
    const code = await mesh.codeFor(email, before);
    const verified = await twice("VerifyLogin", { challengeId, code });
    const userId = (verified.body.user as { id: string }).id;
    const refreshed = await twice("RefreshSession", { refreshToken: verified.body.refreshToken });
    const revoke = await postJson(
      mesh.gatewayUrl,
      "RevokeSession",
      { sessionId: refreshed.body.sessionId },
      { authorization: `Bearer ${app.apiKey}` },
    );
    expect(revoke.body).toEqual({ revoked: true });
    const events = mesh
      .allLogs()
      .split("\n")
      .filter(
        (l) =>
          l.includes('"msg":"audit"') &&
          [challengeId, userId, refreshed.body.sessionId as string].some((id) => l.includes(id)),
      )
      .map((l) => (JSON.parse(l) as { audit: string }).audit);
    expect(events).toEqual([
      "login_code.issued",
      "user.created",
      "session.opened",
      "session.refreshed",
      "session.revoked",
    ]);
  });
});

describe("metrics", () => {
  const scrape = async () => {
    const urls = {
      gateway: `${mesh.gatewayUrl}/metrics`,
      persistence: `http://127.0.0.1:${mesh.persistence[0]?.ports.opsPort}/metrics`,
      mailer: `http://127.0.0.1:${mesh.mailer.ports.httpPort}/metrics`,
    };
    return Object.fromEntries(
      await Promise.all(
        Object.entries(urls).map(async ([name, url]) => [name, await (await fetch(url)).text()]),
      ),
    ) as Record<keyof typeof urls, string>;
  };
  const familiesOf = (text: string) =>
    new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));

  it("are valid Prometheus text for promtool, carry no personal data, and have what operators alert on", async () => {
    const texts = await scrape();
    for (const [service, text] of Object.entries(texts)) {
      const lint = execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      expect({ service, lint }).toEqual({ service, lint: "" });
      expect({ service, emails: text.match(/[\w.+-]+@[\w-]+\.[\w.]+/g) ?? [] }).toEqual({
        service,
        emails: [],
      });
    }
    const all = new Set(Object.values(texts).flatMap((t) => [...familiesOf(t)]));
    for (const name of [
      "emailauth_gateway_errors_total",
      "emailauth_verification_failures_total",
      "emailauth_upstream_duration_seconds",
      "emailauth_upstream_batch_size",
      "emailauth_mail_queue_jobs",
      "emailauth_mail_queue_oldest_waiting_seconds",
      "emailauth_email_deliveries_total",
    ]) {
      expect([name, all.has(name)]).toEqual([name, true]);
    }
    // The flow above: a wrong code for this app, counted under its id.
    expect(texts.gateway).toMatch(
      new RegExp(
        `^emailauth_verification_failures_total\\{[^}]*client_app="${app.appId}"[^}]*\\} [1-9]`,
        "m",
      ),
    );
    expect(texts.gateway).toMatch(
      /^emailauth_gateway_errors_total\{[^}]*reason="CODE_INVALID"[^}]*\} [1-9]/m,
    );
    expect(texts.mailer).toMatch(/^emailauth_email_deliveries_total\{[^}]*outcome="sent"[^}]*\} [1-9]/m);
  });

  it("the dashboard and the alert rules name only metrics that exist, and the rules are valid", async () => {
    const texts = await scrape();
    const all = new Set(Object.values(texts).flatMap((t) => [...familiesOf(t)]));
    const files = ["ops/grafana/emailauth-dashboard.json", "ops/prometheus/alerts.yml"];
    for (const file of files) {
      const named = new Set(
        [
          ...readFileSync(join(root, file), "utf8").matchAll(
            /\b(emailauth_[a-z_]+|nodejs_[a-z_]+|process_[a-z_]+)/g,
          ),
        ].map((m) => (m[1] as string).replace(/_(bucket|sum|count)$/, "")),
      );
      expect(named.size).toBeGreaterThan(5);
      for (const name of named) expect([file, name, all.has(name)]).toEqual([file, name, true]);
    }
    const check = execFileSync("promtool", ["check", "rules", join(root, "ops/prometheus/alerts.yml")], {
      encoding: "utf8",
    });
    expect(check).toContain("SUCCESS");
  });
});
