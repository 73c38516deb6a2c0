// Limits on sending login codes that span people, with rate-limiter-flexible (Redis or memory,
// the same counters either way):
//   per IP        an hourly cap, when the client app forwards the person's IP
//   per app       a per-minute cap (the app's own setting, or the default)
//   global        a per-minute cap for the whole service
// The limits of one email (a cooldown and an hourly cap) are not here: they live in the
// person's slot and are applied in the store's issue step itself, atomically with the code
// and its idempotency record (see issue-challenge.lua).
// One send takes a point from each limit, all at once. If any limit refuses, every point is
// given back, so a refused request costs nothing, and the answer carries the time the
// strictest limit allows a retry.

import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import type { LimitsBackend } from "../store/store.ts";

export interface SendLimitsConfig {
  ipPerHour: number;
  appPerMinute: number;
  globalPerMinute: number;
}

export type { LimitsBackend };

export interface TakeParams {
  ipDigest: string | undefined;
  clientAppId: string;
  /** The app's own per-minute cap; 0 for the default. */
  appPerMinute: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAt: number };

export interface SendLimits {
  take(p: TakeParams): Promise<TakeResult>;
  /** Gives back what a send took, when no code was sent after all. */
  refund(p: TakeParams): Promise<void>;
}

export function createSendLimits(deps: {
  backend: LimitsBackend;
  config: SendLimitsConfig;
  clock?: () => number;
}): SendLimits {
  const clock = deps.clock ?? Date.now;
  const make = (name: string, points: number, durationSeconds: number): RateLimiterAbstract =>
    deps.backend.kind === "redis"
      ? new RateLimiterRedis({
          storeClient: deps.backend.client,
          keyPrefix: `${deps.backend.prefix}rl:${name}`,
          points,
          duration: durationSeconds,
        })
      : new RateLimiterMemory({ keyPrefix: name, points, duration: durationSeconds });

  const c = deps.config;
  const ipHourly = make("ip-hour", c.ipPerHour, 3600);
  const global = make("global-minute", c.globalPerMinute, 60);
  // One limiter per distinct per-minute cap (apps may have their own), made when first needed.
  const appLimiters = new Map<number, RateLimiterAbstract>();
  const appLimiter = (perMinute: number) => {
    let limiter = appLimiters.get(perMinute);
    if (!limiter) {
      limiter = make("app-minute", perMinute, 60);
      appLimiters.set(perMinute, limiter);
    }
    return limiter;
  };
  const checksOf = (p: TakeParams): [RateLimiterAbstract, string][] => [
    [appLimiter(p.appPerMinute || c.appPerMinute), p.clientAppId],
    [global, "all"],
    ...(p.ipDigest ? [[ipHourly, p.ipDigest] as [RateLimiterAbstract, string]] : []),
  ];

  return {
    async take(p) {
      const now = clock();
      const checks = checksOf(p);
      const results = await Promise.allSettled(checks.map(([limiter, key]) => limiter.consume(key, 1)));
      const refused: RateLimiterRes[] = [];
      for (const r of results) {
        if (r.status === "fulfilled") continue;
        // A store failure rejects with an Error, a refusal with a RateLimiterRes.
        if (!(r.reason instanceof RateLimiterRes)) throw r.reason;
        refused.push(r.reason);
      }
      if (refused.length === 0) return { ok: true };
      // A refusing limiter counted the point too: give every point back.
      await Promise.all(checks.map(([limiter, key]) => limiter.reward(key, 1)));
      return { ok: false, retryAt: now + Math.max(...refused.map((r) => r.msBeforeNext)) };
    },

    async refund(p) {
      await Promise.all(checksOf(p).map(([limiter, key]) => limiter.reward(key, 1)));
    },
  };
}
