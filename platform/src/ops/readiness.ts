// Readiness from real checks (Redis answers PING, the upstreams are SERVING...), re-run on an
// interval. It drives both `/readyz` and gRPC health, so neither says SERVING while a
// dependency is down, and a change is logged once.
import type { Logger } from "../log/logger.ts";

export type Check = (signal: AbortSignal) => Promise<void>;

export interface ReadinessState {
  readonly ready: boolean;
  /** "ok" or a short error class per check; never secrets. */
  readonly checks: Readonly<Record<string, string>>;
}

export interface Readiness {
  /** Runs the checks now (bounded by the timeout) and returns the new state. */
  refresh(): Promise<ReadinessState>;
  current(): ReadinessState;
  /** Makes the service report not ready from now on (shutting down). */
  markStopping(): void;
  stop(): void;
}

export interface ReadinessDeps {
  checks: Record<string, Check>;
  logger: Logger;
  intervalMs?: number;
  timeoutMs?: number;
  onChange?: (ready: boolean) => void;
}

export function createReadiness(deps: ReadinessDeps): Readiness {
  let state: ReadinessState = { ready: false, checks: {} };
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = deps.timeoutMs ?? 2_000;

  const runCheck = async (check: Check): Promise<string> => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      await Promise.race([
        check(signal),
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("timeout")))),
      ]);
      return "ok";
    } catch (err) {
      return (err as Error).message === "timeout" ? "timeout" : ((err as Error).name ?? "error");
    }
  };

  const refresh = async () => {
    const entries = await Promise.all(
      Object.entries(deps.checks).map(async ([name, check]) => [name, await runCheck(check)] as const),
    );
    const checks = Object.fromEntries(entries);
    const ready = !stopping && entries.every(([, result]) => result === "ok");
    if (ready !== state.ready) {
      deps.logger[ready ? "info" : "warn"]({ checks }, ready ? "ready" : "not ready");
      deps.onChange?.(ready);
    }
    state = { ready, checks };
    return state;
  };

  const schedule = () => {
    timer = setTimeout(() => {
      void refresh().finally(() => {
        if (!stopping) schedule();
      });
    }, deps.intervalMs ?? 2_000);
    timer.unref();
  };
  schedule();

  return {
    refresh,
    current: () => state,
    markStopping() {
      stopping = true;
      if (state.ready) {
        state = { ...state, ready: false };
        deps.onChange?.(false);
      }
    },
    stop() {
      stopping = true;
      clearTimeout(timer);
    },
  };
}
