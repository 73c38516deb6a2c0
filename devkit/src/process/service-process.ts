// Runs a Node program (a service's main.ts, a benchmark's helper) as a separate process, the
// way it runs in production, and waits for its "listening" log line to learn the ports it
// bound (port 0 picks free ones). Output goes to a log sink (for assertions, or echoed by
// `npm start`), or to a file for a long run. The caller says which file to run: the launcher
// knows no program of the repository.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { STOP_WITH_PARENT } from "@emailauth/platform";
import { createLogSink, type LogSink } from "./log-sink.ts";

export interface ServiceProcess {
  /** The label given to spawnService (in messages and for the caller's bookkeeping). */
  readonly name: string;
  readonly child: ChildProcess;
  /** Fields of the "listening" line: e.g. grpcPort, httpPort. */
  readonly ports: Readonly<Record<string, number>>;
  /** What the process printed; with `logFile`, only up to its "listening" line. */
  readonly logs: LogSink;
  /** Resolves with the exit code (or signal) when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /** A label for messages (default: the entry). */
  name?: string;
  /** Node's own flags, before the entry (e.g. --cpu-prof). */
  execArgv?: string[];
  /** The working directory (default: ours); a relative entry is resolved from it. */
  cwd?: string;
  /** The child's whole environment is this, plus PATH and HOME (nothing else leaks in). */
  env?: Record<string, string>;
  logs?: LogSink;
  /** Sees each line the process prints (e.g. to echo it), when no `logs` sink is given. */
  onLine?: (line: string) => void;
  /**
   * Every byte the process prints goes to this file, and nothing past the "listening" line is
   * kept in memory: for runs that print more than a test could hold (the benchmark).
   */
  logFile?: string;
  /** Resolve once the process exits instead of waiting for "listening" (for start-up failures). */
  expectExit?: boolean;
  timeoutMs?: number;
}

/** Starts `node <execArgv> <entry>`; resolves once it logged "listening" (or exited, if `expectExit`). */
export async function spawnService(entry: string, options: SpawnOptions = {}): Promise<ServiceProcess> {
  const name = options.name ?? entry;
  const logs = options.logs ?? createLogSink(options.onLine ? { onLine: options.onLine } : {});
  const child = spawn(process.execPath, [...(options.execArgv ?? []), entry], {
    ...(options.cwd && { cwd: options.cwd }),
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
  const feed = (c: Buffer) => logs.write(c);
  child.stdout?.on("data", feed);
  child.stderr?.on("data", feed);
  if (options.logFile) {
    const file = createWriteStream(options.logFile);
    child.stdout?.pipe(file, { end: false });
    child.stderr?.pipe(file, { end: false });
    child.once("close", () => file.end());
  }
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
  if (options.logFile) {
    // From here on the file has it all.
    child.stdout?.off("data", feed);
    child.stderr?.off("data", feed);
  }
  const ports: Record<string, number> = {};
  for (const [k, v] of Object.entries(result)) if (k.endsWith("Port") && typeof v === "number") ports[k] = v;
  return handle(ports);
}
