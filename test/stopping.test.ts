// Stopping leaves nothing behind. A service stops on SIGTERM within its grace (10 s, exit 0;
// past 15 s it is forced out with 1) even when Redis or its upstreams are gone; `npm start`
// that fails stops everything it started; and when the runner itself is killed (SIGKILL, no
// chance to clean up) its services notice and stop on their own.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import { type ServiceProcess, startRedis, waitFor } from "@emailauth/devkit";
import { afterEach, describe, expect, it } from "vitest";
import { FREE_PORTS, processesMarked } from "./helpers/dev-mesh.ts";
import { startService } from "./helpers/services.ts";

const root = join(import.meta.dirname, "..");
const GRACE_MS = 10_000;

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) child.kill("SIGKILL");
});

/** `npm start`'s runner, every port free unless given, marked so its services can be found. */
function startRunner(env: Record<string, string>) {
  const mark = randomUUID();
  const child = spawn(process.execPath, [join(root, "dev", "start.ts")], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      EMAILAUTH_TEST_MARK: mark,
      ...FREE_PORTS,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    output += c.toString();
  });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, mark, exited, output: () => output };
}

describe("SIGTERM with the service's dependencies gone", () => {
  it("persistence, mailer and gateway each exit 0 within the grace after Redis died", async () => {
    const redis = await startRedis();
    const services: ServiceProcess[] = [];
    try {
      const env = {
        REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        PERSISTENCE_PORT: "0",
        PERSISTENCE_OPS_PORT: "0",
      };
      const persistence = await startService("persistence", { env });
      services.push(persistence);
      const mailer = await startService("mailer", {
        env: { ...env, MAILER_PORT: "0", MAILER_HTTP_PORT: "0", MAILER_DEV_SMTP_PORT: "0" },
      });
      services.push(mailer);
      const gateway = await startService("gateway", {
        env: {
          GATEWAY_PORT: "0",
          PERSISTENCE_ADDRESSES: `127.0.0.1:${persistence.ports.grpcPort}`,
          MAILER_ADDRESSES: `127.0.0.1:${mailer.ports.grpcPort}`,
          JWT_ISSUER: "http://127.0.0.1",
        },
      });
      services.push(gateway);
      redis.kill();
      // Both have seen Redis go (the event, not a sleep).
      await mailer.logs.waitForLine((l) => l.msg === "redis connection error", 10_000);
      await persistence.logs.waitForLine((l) => l.msg === "redis connection error", 10_000);
      // Persistence and the mailer first: the gateway then stops with its upstreams gone too.
      for (const service of [mailer, persistence, gateway]) {
        const t0 = Date.now();
        expect({ service: service.name, ...(await service.stop()) }).toEqual({
          service: service.name,
          code: 0,
          signal: null,
        });
        expect(Date.now() - t0).toBeLessThan(GRACE_MS);
        expect(service.logs.text()).not.toContain("graceful stop timed out");
      }
    } finally {
      for (const s of services) s.kill();
      await redis.stop();
    }
  });
});

describe("SIGTERM with Redis hung (a partition: connected, never answering)", () => {
  it("persistence and the mailer drop the connections they cannot close politely and exit 0", async () => {
    const redis = await startRedis();
    const env = { REDIS_URL: `redis://127.0.0.1:${redis.port}` };
    const persistence = await startService("persistence", {
      env: { ...env, PERSISTENCE_PORT: "0", PERSISTENCE_OPS_PORT: "0" },
    });
    const mailer = await startService("mailer", {
      env: { ...env, MAILER_PORT: "0", MAILER_HTTP_PORT: "0", MAILER_DEV_SMTP_PORT: "0" },
    });
    try {
      process.kill(redis.pid, "SIGSTOP");
      const t0 = Date.now();
      // Persistence has nothing to wait for: its QUIT is given a second.
      expect(await persistence.stop()).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(GRACE_MS);
      // The mailer's queue cannot tell a hung Redis from a slow one: it waits out its grace at
      // most, then drops its connections; never the forced exit (code 1 at 15 s).
      expect(await mailer.stop()).toEqual({ code: 0, signal: null });
      expect(mailer.logs.text()).not.toContain("graceful stop timed out");
    } finally {
      persistence.kill();
      mailer.kill();
      process.kill(redis.pid, "SIGCONT");
      await redis.stop();
    }
  }, 30_000);
});

describe("npm start leaves nothing behind", () => {
  it("a port in use: the runner says so, stops what it started and exits 1", async () => {
    const holder = createServer();
    holder.listen(0, "127.0.0.1");
    await once(holder, "listening");
    const taken = (holder.address() as { port: number }).port;
    try {
      const runner = startRunner({ GATEWAY_PORT: String(taken) });
      const [code] = await runner.exited;
      expect(code).toBe(1);
      expect(runner.output()).toContain("The mesh could not start");
      expect(runner.output()).toContain(`Port ${taken} is in use: stop what holds it, or set GATEWAY_PORT`);
      expect(runner.output()).not.toMatch(/^\s+at /m); // a hint, not a stack trace
      expect(processesMarked(runner.mark)).toEqual([]);
    } finally {
      holder.close();
    }
  });

  it("the runner killed outright: its services stop on their own", async () => {
    const runner = startRunner({});
    await waitFor("the mesh to run", () => runner.output().includes("emailauth is running"), {
      timeoutMs: 60_000,
    });
    const services = processesMarked(runner.mark).filter((pid) => pid !== runner.child.pid);
    expect(services).toHaveLength(3);
    runner.child.kill("SIGKILL");
    await runner.exited;
    // Each service sees its stdin close and stops as on SIGTERM.
    await waitFor("every service to exit", () => processesMarked(runner.mark).length === 0, {
      timeoutMs: GRACE_MS,
    });
  });
});
