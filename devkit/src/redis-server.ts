// Real Redis for tests: `redis-server` processes on free loopback ports, in temporary folders,
// stopped and removed afterwards. Standalone or a 3-master Cluster (created with
// `redis-cli --cluster create`, as an operator would).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./ports.ts";
import { waitFor } from "./wait.ts";

const run = promisify(execFile);

export interface RedisProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** How many keys the database holds (redis-cli DBSIZE). */
  dbsize(): Promise<number>;
  /** SIGKILL, as a crash would. */
  kill(): void;
  stop(): Promise<void>;
}

/** What to say when there is no redis-server to start (also said once before any test runs). */
export const MISSING_REDIS =
  "redis-server is not installed; the tests start their own Redis processes. Install Debian's package: sudo apt-get install -y redis-server redis-tools (or run `bash dev/run.sh test`, which does it for you)";

function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start: ${output.slice(-2000)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === "ENOENT"
          ? new Error(`${MISSING_REDIS}`)
          : new Error(`${what} could not be started: ${err.message}`),
      );
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${output.slice(-2000)}`));
    });
  });
}

async function startOne(extraArgs: string[], dir: string): Promise<RedisProcess> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      // Tests stall Redis on purpose (DEBUG SLEEP) to hold requests in flight.
      "--enable-debug-command",
      "local",
      ...extraArgs,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.on("error", () => {});
  await waitForLine(child, /Ready to accept connections/, `redis-server on port ${port}`);
  child.stdout?.resume();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid as number,
    async dbsize() {
      const { stdout } = await run("redis-cli", ["-p", String(port), "DBSIZE"]);
      return Number(stdout.trim());
    },
    kill: () => child.kill("SIGKILL"),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

/**
 * A standalone redis-server on a free port, without persistence unless `args` (more
 * redis-server options, which override the defaults) ask for it.
 */
export async function startRedis(options: { args?: string[] } = {}): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), "emailauth-redis-"));
  const redis = await startOne(options.args ?? [], dir);
  return {
    ...redis,
    async stop() {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisClusterProcess {
  /** Seed nodes as host:port. */
  readonly nodes: readonly { host: string; port: number }[];
  stop(): Promise<void>;
}

/** A Redis Cluster of `masters` masters (no replicas) on loopback, ready for commands. */
export async function startRedisCluster(masters = 3): Promise<RedisClusterProcess> {
  const dir = mkdtempSync(join(tmpdir(), "emailauth-redis-cluster-"));
  const nodes = await Promise.all(
    Array.from({ length: masters }, (_, i) =>
      startOne(
        [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          `nodes-${i}.conf`,
          "--cluster-node-timeout",
          "5000",
        ],
        dir,
      ),
    ),
  );
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    for (const n of nodes) {
      await waitFor(`cluster_state:ok on port ${n.port}`, async () => {
        const { stdout } = await run("redis-cli", ["-p", String(n.port), "cluster", "info"]);
        return stdout.includes("cluster_state:ok");
      });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { nodes: nodes.map((n) => ({ host: "127.0.0.1", port: n.port })), stop: stopAll };
}
