// Scale-out: the gateway balances across persistence replicas and routes around one that
// dies. Under steady load (full logins from several workers), one replica is SIGKILLed; no
// request fails, because calls caught on the dead replica are retried on the other one (they
// are idempotent: the mutating ones carry the request's idempotency key).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Mesh, postJson, startMesh } from "./helpers/mesh.ts";

let mesh: Mesh;
beforeAll(async () => {
  mesh = await startMesh({ persistenceReplicas: 2 });
});
afterAll(async () => {
  await mesh?.stop();
});

it("keeps every request succeeding when one of two persistence replicas is killed mid-load", async () => {
  const { apiKey } = await mesh.createApp();
  const call = (method: string, body: unknown) =>
    postJson(mesh.gatewayUrl, method, body, { authorization: `Bearer ${apiKey}` });
  const failures: string[] = [];
  let completed = 0;
  // Kill once the load is well under way.
  const underWay = Promise.withResolvers<void>();
  const check = (what: string, r: { status: number; body: Record<string, unknown> }) => {
    if (r.status !== 200) failures.push(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.status === 200;
  };
  const flow = async () => {
    const email = `replica-${randomUUID().slice(0, 8)}@example.com`;
    const started = await call("StartLogin", { email });
    if (!check("StartLogin", started)) return;
    const code = await mesh.codeFor(email);
    const verified = await call("VerifyLogin", { challengeId: started.body.challengeId, code });
    if (!check("VerifyLogin", verified)) return;
    const refreshed = await call("RefreshSession", { refreshToken: verified.body.refreshToken });
    if (check("RefreshSession", refreshed) && ++completed === 30) underWay.resolve();
  };
  const total = 120;
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      await flow();
    }
  };
  const victim = mesh.persistence[0];
  const killer = underWay.promise.then(() => victim?.kill("SIGKILL"));
  await Promise.all([...Array.from({ length: 6 }, worker), killer]);
  expect((await victim?.exited)?.signal).toBe("SIGKILL");
  expect(failures).toEqual([]);
  expect(completed).toBe(total);
});
