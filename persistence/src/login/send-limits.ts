// Limits on sending login codes, with rate-limiter-flexible (Redis or memory, the same
// counters either way):
//   per email     one send per cooldown, and an hourly cap
//   per IP        an hourly cap, when the client app forwards the person's IP
//   per app       a per-minute cap (the app's own setting, or the default)
//   global        a per-minute cap for the whole service
// One send takes a point from each limit, all at once (one pipelined round trip). If any limit
// refuses, the points the others gave are given back, so a refused request costs the person
// nothing, and the answer carries the time the strictest limit allows a retry.

import type { RedisClient } from "@emailauth/platform/redis";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";

export interface SendLimitsConfig {
  emailCooldownMs: number;
  emailPerHour: number;
  ipPerHour: number;
  appPerMinute: number;
  globalPerMinute: number;
}

export type LimitsBackend = { kind: "memory" } | { kind: "redis"; client: RedisClient; prefix: string };

export interface TakeParams {
  emailDigest: string;
  ipDigest: string | undefined;
  clientAppId: string;
  /** The app's own per-minute cap; 0 for the default. */
  appPerMinute: number;
}

export type TakeResult = { ok: true; resendAvailableAt: number } | { ok: false; retryAt: number };

export interface SendLimits {
  take(p: TakeParams): Promise<TakeResult>;
  /** Gives back what a send took, when the code could not be sent after all. */
  refund(p: { emailDigest: string; clientAppId: string; appPerMinute: number }): Promise<void>;
  /** Forgets an email's counters (erasure). */
  forgetEmail(emailDigest: string): Promise<void>;
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
  // 0 turns the cooldown off (tests; the configuration allows 1s at least).
  const emailCooldown =
    c.emailCooldownMs > 0
      ? make("email-cooldown", 1, Math.max(1, Math.round(c.emailCooldownMs / 1000)))
      : undefined;
  const emailHourly = make("email-hour", c.emailPerHour, 3600);
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

  return {
    async take(p) {
      const now = clock();
      const checks: [RateLimiterAbstract, string][] = [
        [emailHourly, p.emailDigest],
        [appLimiter(p.appPerMinute || c.appPerMinute), p.clientAppId],
        [global, "all"],
      ];
      if (emailCooldown) checks.push([emailCooldown, p.emailDigest]);
      if (p.ipDigest) checks.push([ipHourly, p.ipDigest]);
      const results = await Promise.allSettled(checks.map(([limiter, key]) => limiter.consume(key, 1)));
      const refused: RateLimiterRes[] = [];
      for (const r of results) {
        if (r.status === "fulfilled") continue;
        // A store failure rejects with an Error, a refusal with a RateLimiterRes.
        if (!(r.reason instanceof RateLimiterRes)) throw r.reason;
        refused.push(r.reason);
      }
      if (refused.length > 0) {
        await Promise.all(
          results.map((r, i) => {
            const [limiter, key] = checks[i] as [RateLimiterAbstract, string];
            return r.status === "fulfilled" ? limiter.reward(key, 1) : undefined;
          }),
        );
        return { ok: false, retryAt: now + Math.max(...refused.map((r) => r.msBeforeNext)) };
      }
      const hourly = (results[0] as PromiseFulfilledResult<RateLimiterRes>).value;
      const cooldown = emailCooldown
        ? (results[3] as PromiseFulfilledResult<RateLimiterRes>).value
        : undefined;
      const wait = Math.max(
        cooldown?.msBeforeNext ?? 0,
        hourly.remainingPoints === 0 ? hourly.msBeforeNext : 0,
      );
      return { ok: true, resendAvailableAt: now + wait };
    },

    async refund(p) {
      await Promise.all([
        emailCooldown?.reward(p.emailDigest, 1),
        emailHourly.reward(p.emailDigest, 1),
        appLimiter(p.appPerMinute || c.appPerMinute).reward(p.clientAppId, 1),
        global.reward("all", 1),
      ]);
    },

    async forgetEmail(emailDigest) {
      await Promise.all([emailCooldown?.delete(emailDigest), emailHourly.delete(emailDigest)]);
    },
  };
}
