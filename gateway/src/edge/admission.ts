// Admission: how many public requests the gateway serves at once, so that under overload the
// latency of what it admits stays bounded and what it cannot serve in time is refused at once
// (RESOURCE_EXHAUSTED OVERLOADED, with Retry-After), before any work or upstream call.
//
//   - The limit follows what the mesh sustains (Little's law): the rate at which requests
//     complete (the best second of the last ten), times the latency admitted requests should
//     stay under (ADMISSION_TARGET_LATENCY). When the upstreams slow down for good, fewer
//     complete, and fewer are admitted; when they keep up, the limit grows with them. The best
//     recent second, not the last one: under a flood the gateway's own CPU goes to refusing,
//     fewer requests complete for that reason alone, and a limit that followed them down would
//     refuse ever more of what the mesh could serve (measured: 115 served/s instead of ~600).
//     It never goes below a floor (so a burst after a quiet spell is served while the rate
//     catches up) nor above MAX_IN_FLIGHT.
//   - Requests waiting in the gateway itself (a saturated event loop) do not show in that count:
//     the event loop's delay is watched too, and past ADMISSION_MAX_EVENT_LOOP_DELAY new
//     requests are refused until it recovers. Refusing is cheap, so the loop stays responsive
//     and keeps accepting connections.
//   - A request counts from when its body has arrived and its handler starts (begin()), not
//     from its headers: a client sending its body one byte at a time (bounded by
//     REQUEST_TIMEOUT) must not take a place that a complete request could use.
//   - Priority: a person waiting with a code matters more than a new code. "low" requests
//     (StartLogin, GetLoginStatus) are refused from 80% of the limit and at the delay bound;
//     "high" ones (VerifyLogin, RefreshSession, the revokes) only at the limit and at twice the
//     delay bound.
import { monitorEventLoopDelay } from "node:perf_hooks";

export type Priority = "high" | "low";

export interface AdmissionOptions {
  /** Hard ceiling of public requests in flight. */
  maxInFlight: number;
  /** The latency admitted requests should stay under; the limit is throughput times this. */
  targetLatencyMs: number;
  /**
   * Event-loop delay (its mean over 100 ms, smoothed over the last few) past which
   * low-priority requests are refused: a sustained delay, not one pause.
   */
  maxEventLoopDelayMs: number;
  /** The limit never goes below this. */
  minLimit?: number;
}

export type Admitted =
  | { ok: true; begin(): void; done(): void }
  | { ok: false; retryAfterMs: number; why: "limit" | "delay" };

export interface Admission {
  admit(priority: Priority): Admitted;
  /** What admission sees now (for metrics and tests). */
  state(): { inFlight: number; limit: number; eventLoopDelayMs: number };
  stop(): void;
}

const TICK_MS = 100;
const WINDOW = 10;
const RETRY_AFTER_MS = 1_000;

export function createAdmission(options: AdmissionOptions): Admission {
  const floor = Math.min(options.minLimit ?? 64, options.maxInFlight);
  let inFlight = 0;
  let completed = 0;
  // Completions in each of the last WINDOW ticks. A whole second, not the last tick: completions
  // come in bursts (a batch of upstream answers in one tick), and a limit raised to the rate of
  // one burst admits more than the mesh serves, which is the queue this exists to prevent.
  const window = new Array<number>(WINDOW).fill(0);
  let slot = 0;
  // That one-second rate at each tick of the last ten seconds.
  const rates = new Array<number>(WINDOW * 10).fill(0);
  let rateSlot = 0;
  let limit = floor;
  let delayMs = 0;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();

  const tick = setInterval(() => {
    window[slot] = completed;
    slot = (slot + 1) % WINDOW;
    completed = 0;
    rates[rateSlot] = (window.reduce((a, b) => a + b, 0) * 1000) / (WINDOW * TICK_MS);
    rateSlot = (rateSlot + 1) % rates.length;
    const throughput = Math.max(...rates);
    limit = Math.min(
      options.maxInFlight,
      Math.max(floor, Math.round((throughput * options.targetLatencyMs) / 1000)),
    );
    // The loop's mean delay beyond its sampling resolution (nanoseconds in the histogram):
    // a saturated loop delays every sample, one garbage collection only a few.
    const mean = delay.count > 0 ? Math.max(0, delay.mean / 1e6 - 10) : 0;
    delayMs = delayMs * 0.7 + mean * 0.3;
    delay.reset();
  }, TICK_MS);
  tick.unref();

  return {
    admit(priority) {
      const share = priority === "high" ? 1 : 0.8;
      const maxDelay = options.maxEventLoopDelayMs * (priority === "high" ? 2 : 1);
      if (delayMs > maxDelay) return { ok: false, retryAfterMs: RETRY_AFTER_MS, why: "delay" };
      if (inFlight >= Math.max(1, Math.floor(limit * share)))
        return { ok: false, retryAfterMs: RETRY_AFTER_MS, why: "limit" };
      let begun = false;
      let released = false;
      return {
        ok: true,
        begin() {
          if (begun || released) return;
          begun = true;
          inFlight++;
        },
        done() {
          if (released) return;
          released = true;
          if (begun) {
            inFlight--;
            completed++;
          }
        },
      };
    },
    state: () => ({ inFlight, limit, eventLoopDelayMs: delayMs }),
    stop() {
      clearInterval(tick);
      delay.disable();
    },
  };
}
