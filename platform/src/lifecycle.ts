// Process lifecycle for a service's main.ts: start, then on SIGTERM/SIGINT stop gracefully
// (the service decides what that means: stop accepting, drain, close pools) within a time
// limit. A second signal, a failure to stop in time, or a crash exits non-zero.
import { pino } from "pino";
import { ConfigError } from "./config/load.ts";
import type { Logger } from "./log/logger.ts";

export interface Running {
  stop(): Promise<void>;
}

export interface RunDeps {
  logger: Logger;
  start: () => Promise<Running>;
  /** How long a graceful stop may take before the process exits anyway. */
  stopTimeoutMs?: number;
  exit?: (code: number) => void;
}

/** How long the last log lines may take to reach a slow or vanished reader before we exit. */
const FLUSH_BOUND_MS = 1_000;

/**
 * Exits after asking the logger to flush (a destination that buffers calls back once written;
 * stdout's answers at once and pino writes the rest synchronously on exit), bounded by
 * FLUSH_BOUND_MS. That synchronous write retries an EPIPE forever (sonic-boom's flushSync only
 * gives up on EAGAIN): a service whose stdout reader died would never exit. So it is skipped
 * when the reader is known to be gone (`readerGone`) or the bound passed.
 */
function exitAfterFlush(
  logger: Logger,
  code: number,
  exit: (code: number) => void,
  readerGone: boolean,
): void {
  if (readerGone) {
    skipFinalFlush(logger);
    exit(code);
    return;
  }
  let done = false;
  const finish = (flushed: boolean) => {
    if (done) return;
    done = true;
    if (!flushed) skipFinalFlush(logger);
    exit(code);
  };
  setTimeout(() => finish(false), FLUSH_BOUND_MS).unref();
  try {
    logger.flush((err) => finish(!err));
  } catch {
    finish(false);
  }
}

function skipFinalFlush(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void }>)[pino.symbols.streamSym];
  if (stream && typeof stream.flushSync === "function") stream.flushSync = () => {};
}

export async function runService(deps: RunDeps): Promise<void> {
  const exitNow = deps.exit ?? ((code: number) => process.exit(code));
  const { logger } = deps;
  // True once the process that started us (and reads our stdout) is gone.
  let parentGone = false;
  const exit = (code: number) => exitAfterFlush(logger, code, exitNow, parentGone);
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    exit(1);
  });
  process.on("unhandledRejection", (err) => {
    logger.fatal({ err }, "unhandled rejection");
    exit(1);
  });
  let running: Running;
  try {
    running = await deps.start();
  } catch (err) {
    logger.fatal({ err }, "failed to start");
    exit(1);
    return;
  }
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      skipFinalFlush(logger);
      exitNow(1);
      return;
    }
    stopping = true;
    logger.info({ signal }, "stopping");
    const timeoutMs = deps.stopTimeoutMs ?? 15_000;
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, "graceful stop timed out");
      exit(1);
    }, timeoutMs);
    running.stop().then(
      () => {
        clearTimeout(timer);
        logger.info("stopped");
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        logger.error({ err }, "graceful stop failed");
        exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // Started by a process that holds our stdin (npm start, the tests): when it goes, however it
  // went (even SIGKILL), its end of the pipe closes, and we stop as if it had sent SIGTERM
  // rather than live on, orphaned, holding ports.
  if (process.env[STOP_WITH_PARENT] === "1") {
    process.stdin.on("error", () => {});
    process.stdin.once("end", () => {
      parentGone = true;
      onSignal("SIGTERM");
    });
    process.stdin.resume();
  }
  // Writing logs to a pipe whose reader is gone must not crash or hang the stop.
  process.stdout.on("error", () => {});
  process.stderr.on("error", () => {});
}

/**
 * Set by a launcher that holds our stdin (devkit's spawnService): stop when its end of our stdin
 * closes.
 */
export const STOP_WITH_PARENT = "EMAILAUTH_STOP_WITH_PARENT";

/**
 * Loads configuration the way every main.ts does: on a ConfigError, print the message (it
 * names each variable and what it allows; no secret values) and exit with code 78 (EX_CONFIG).
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}
