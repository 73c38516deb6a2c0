// Runs a service's main.ts as a separate Node process, the way it runs in production, and
// waits for its "listening" log line to learn the ports it bound (port 0 picks free ones).
// Output goes to a log sink (for assertions, or to be echoed by `npm start`).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { STOP_WITH_PARENT } from "@emailauth/platform";
import { createLogSink, type LogSink } from "./log-sink.ts";

const repoRoot = join(import.meta.dirname, "..", "..", "..");

/**
 * A service of the repository, by its folder: its entry is `<name>/src/main.ts` unless
 * `entry` says otherwise. The platform knows the convention, not the services.
 */
export type ServiceName = string;

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly child: ChildProcess;
  /** Fields of the "listening" line: e.g. grpcPort, httpPort. */
  readonly ports: Readonly<Record<string, number>>;
  readonly logs: LogSink;
  /** Resolves with the exit code (or signal) when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /** The service's entry file; by default `<name>/src/main.ts` in the repository. */
  entry?: string;
  /** The child's whole environment is this, plus PATH and HOME (nothing else leaks in). */
  env?: Record<string, string>;
  logs?: LogSink;
  /** Sees each line the process prints (e.g. to echo it), when no `logs` sink is given. */
  onLine?: (line: string) => void;
  /** Resolve once the process exits instead of waiting for "listening" (for start-up failures). */
  expectExit?: boolean;
  timeoutMs?: number;
}

export async function spawnService(name: ServiceName, options: SpawnOptions = {}): Promise<ServiceProcess> {
  const logs = options.logs ?? createLogSink(options.onLine ? { onLine: options.onLine } : {});
  const child = spawn(process.execPath, [options.entry ?? join(repoRoot, name, "src", "main.ts")], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      LOG_LEVEL: "info",
      ...options.env,
      [STOP_WITH_PARENT]: "1",
    },
    // Our end of its stdin stays open while we live: when we go, the service stops too.
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdout?.on("data", (c: Buffer) => logs.write(c));
  child.stderr?.on("data", (c: Buffer) => logs.write(c));
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const handle = (ports: Record<string, number>): ServiceProcess => ({
    name,
    child,
    ports,
    logs,
    exited,
    kill: (signal = "SIGKILL") => child.kill(signal),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  });
  if (options.expectExit) {
    await exited;
    return handle({});
  }
  const listening = logs.waitForLine((l) => l.msg === "listening", options.timeoutMs ?? 20_000);
  const result = await Promise.race([
    listening,
    exited.then((e) => {
      throw new Error(
        `${name} exited (${e.code ?? e.signal}) before listening:\n${logs.text().slice(-3000)}`,
      );
    }),
  ]);
  const ports: Record<string, number> = {};
  for (const [k, v] of Object.entries(result)) if (k.endsWith("Port") && typeof v === "number") ports[k] = v;
  return handle(ports);
}
