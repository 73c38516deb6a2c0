// Process lifecycle for a service's main.ts: start, then on SIGTERM/SIGINT stop gracefully
// (the service decides what that means: stop accepting, drain, close pools) within a time
// limit. A second signal, a failure to stop in time, or a crash exits non-zero.
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

export async function runService(deps: RunDeps): Promise<void> {
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  const { logger } = deps;
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
      exit(1);
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
        // Let the log line reach stdout before exiting.
        logger.flush(() => exit(0));
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
}

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
