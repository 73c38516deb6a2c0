// Graceful shutdown under load: SIGTERM to a service while requests are in flight fails none
// of them. Redis is made to stall (DEBUG SLEEP) so that requests are certainly in flight, and
// each service's in-flight gauge says when they have arrived; then SIGTERM. The service stops
// accepting, finishes what it has, and exits 0.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import type { ServiceProcess } from "@emailauth/devkit";
import { createGrpcClient, createMetrics, createUpstream } from "@emailauth/platform";
import { MailerServiceClient } from "@emailauth/proto/mailer";
import { mailerReasons } from "@emailauth/proto/reasons";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, postJson, startMesh, whenInFlight } from "./helpers/mesh.ts";

const run = promisify(execFile);
let mesh: Mesh;
let apiKey: string;

beforeAll(async () => {
  mesh = await startMesh({ env: { persistence: { LIMIT_EMAIL_COOLDOWN: "1s" } } });
  ({ apiKey } = await mesh.createApp());
});
afterAll(async () => {
  await mesh?.stop();
});

const N = 8;
const email = () => `shutdown-${randomUUID().slice(0, 8)}@example.com`;
const startLogin = () =>
  postJson(mesh.gatewayUrl, "StartLogin", { email: email() }, { authorization: `Bearer ${apiKey}` });

/** Stalls Redis for `seconds`; resolves when Redis answers again (and checks it did stall). */
async function stallRedis(seconds: number): Promise<void> {
  const { stdout } = await run("redis-cli", [
    "-p",
    String(mesh.redis.port),
    "DEBUG",
    "SLEEP",
    String(seconds),
  ]);
  expect(stdout.trim()).toBe("OK");
}

async function sigterm(service: ServiceProcess) {
  service.kill("SIGTERM");
  return service.exited;
}

describe("SIGTERM while requests are in flight", () => {
  it("the gateway finishes every one of them, then exits 0", async () => {
    const stalled = stallRedis(2);
    const requests = Array.from({ length: N }, startLogin);
    await whenInFlight(`${mesh.gatewayUrl}/metrics`, N);
    const exit = sigterm(mesh.gateway);
    const results = await Promise.all(requests);
    expect(results.map((r) => r.status)).toEqual(Array(N).fill(200));
    expect(await exit).toEqual({ code: 0, signal: null });
    await stalled;
    await mesh.startGateway();
  });

  it("the mailer finishes every queue call, then exits 0, and the queued emails are sent after a restart", async () => {
    const client = await createGrpcClient({
      Client: MailerServiceClient,
      addresses: [`127.0.0.1:${mesh.mailer.ports.grpcPort}`],
      credentials: credentials.createInsecure(),
    });
    const mailer = createUpstream(client, {
      service: "mailer",
      reasons: mailerReasons,
      metrics: createMetrics({ service: "test", defaultMetrics: false }),
      deadlineMs: 10_000,
    });
    const recipients = Array.from({ length: N }, email);
    const stalled = stallRedis(2);
    const calls = recipients.map((recipient) =>
      mailer.call("queueLoginCodeEmail", {
        idempotencyKey: `chl_${randomUUID()}`,
        recipient,
        code: "246810",
        link: "",
        locale: "en",
        appName: "Shop",
        expiresAt: new Date(Date.now() + 600_000),
        senderAddress: "",
      }),
    );
    await whenInFlight(`http://127.0.0.1:${mesh.mailer.ports.httpPort}/metrics`, N);
    const exit = sigterm(mesh.mailer);
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(await exit).toEqual({ code: 0, signal: null });
    client.close();
    await stalled;
    // Whatever it had not sent yet waits in the durable queue for the next mailer.
    await mesh.startMailer();
    for (const r of recipients) await mesh.sink.waitForMessage((m) => m.to.includes(r));
  });

  it("persistence finishes every call, then exits 0", async () => {
    const [persistence] = mesh.persistence;
    if (!persistence) throw new Error("no persistence");
    // Warm the new gateway's API-key cache (concurrent requests would share one lookup), once
    // it has reconnected to the restarted mailer.
    await expect.poll(async () => (await startLogin()).status, { interval: 100, timeout: 10_000 }).toBe(200);
    const stalled = stallRedis(2);
    const requests = Array.from({ length: N }, startLogin);
    await whenInFlight(`http://127.0.0.1:${persistence.ports.opsPort}/metrics`, N);
    const exit = sigterm(persistence);
    const results = await Promise.all(requests);
    expect(results.map((r) => r.status)).toEqual(Array(N).fill(200));
    expect(await exit).toEqual({ code: 0, signal: null });
    await stalled;
  });
});
