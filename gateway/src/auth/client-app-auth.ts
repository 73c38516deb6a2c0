// Who is calling: the client app of the API key in `Authorization: Bearer eak_...`, asked of
// persistence and remembered for API_KEY_CACHE_TTL (so a revoked or disabled key stops working
// within that time on every replica). Concurrent requests with the same key share one lookup.
//
// Against guessing and floods of made-up keys:
//   - a value that is not shaped like a key is refused here, without a lookup;
//   - failures are counted per source address (an IPv6 /64 counts as one): past
//     API_KEY_FAILURES_PER_MINUTE, that address is refused (RATE_LIMITED, with the time a
//     retry is allowed) without a lookup until its minute ends. Keys that were valid in the
//     last 10 minutes are still looked up: an app that shares its address with an attacker
//     (a NAT, a proxy) keeps working;
//   - refusals are remembered apart from successes, so that a flood of bad keys cannot push
//     the apps that work out of the cache.
import { createHash } from "node:crypto";
import { AppError, addressLimitKey, type CallOptionsLite } from "@emailauth/platform";
import type { ClientApp } from "@emailauth/proto/persistence";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { appError } from "../errors.ts";
import type { PersistenceUpstream } from "../upstreams.ts";

const BEARER = /^Bearer\s+(\S+)$/i;
/** The shape of every API key persistence issues: eak_ and 52 base32 characters. */
export const API_KEY_PATTERN = /^eak_[a-z2-7]{52}$/;
/** How long a key that worked is spared the throttle of failed keys. */
const RECENTLY_VALID_MS = 10 * 60_000;
/** Answers that are facts about the key, worth remembering (not outages). */
const DEFINITIVE = new Set(["API_KEY_INVALID", "CLIENT_APP_DISABLED", "CLIENT_APP_NOT_FOUND"]);

export interface ClientAppAuthenticator {
  authenticate(
    authorization: string | null,
    options: CallOptionsLite & { clientAddress: string },
  ): Promise<ClientApp>;
}

export interface ClientAppAuthenticatorDeps {
  persistence: PersistenceUpstream;
  ttlMs: number;
  /** Failed keys one source address may present per minute before it is refused outright. */
  failuresPerMinute: number;
  maxEntries?: number;
  clock?: () => number;
}

interface Cached<T> {
  until: number;
  value: T;
}

/** A map that forgets its oldest entry past `max` (insertion order). */
function boundedCache<T>(max: number) {
  const map = new Map<string, Cached<T>>();
  return {
    get: (k: string, now: number) => {
      const hit = map.get(k);
      return hit && hit.until > now ? hit.value : undefined;
    },
    set: (k: string, value: T, until: number) => {
      if (map.size >= max) map.delete(map.keys().next().value as string);
      map.set(k, { value, until });
    },
  };
}

export function createClientAppAuthenticator(deps: ClientAppAuthenticatorDeps): ClientAppAuthenticator {
  const clock = deps.clock ?? Date.now;
  const max = deps.maxEntries ?? 10_000;
  const apps = boundedCache<ClientApp>(max);
  const refusals = boundedCache<AppError>(max);
  const recentlyValid = boundedCache<true>(max);
  const pending = new Map<string, Promise<ClientApp>>();
  const failures = new RateLimiterMemory({
    keyPrefix: "api-key-failures",
    points: deps.failuresPerMinute,
    duration: 60,
  });

  const lookup = (apiKey: string, hash: string, options: CallOptionsLite): Promise<ClientApp> => {
    const inFlight = pending.get(hash);
    if (inFlight) return inFlight;
    const found = deps.persistence
      // Shared by every waiting request: no single request's cancellation may end it.
      .call(
        "authenticateClientApp",
        { apiKey },
        { ...(options.requestId && { requestId: options.requestId }) },
      )
      .then(
        ({ clientApp }) => {
          if (!clientApp) throw appError("INTERNAL");
          if (deps.ttlMs > 0) apps.set(hash, clientApp, clock() + deps.ttlMs);
          recentlyValid.set(hash, true, clock() + RECENTLY_VALID_MS);
          return clientApp;
        },
        (err: unknown) => {
          if (err instanceof AppError && DEFINITIVE.has(err.reason)) {
            const refusal = appError("API_KEY_INVALID", { cause: err });
            if (deps.ttlMs > 0) refusals.set(hash, refusal, clock() + deps.ttlMs);
            throw refusal;
          }
          throw err;
        },
      )
      .finally(() => pending.delete(hash));
    pending.set(hash, found);
    return found;
  };

  return {
    async authenticate(authorization, options) {
      const source = addressLimitKey(options.clientAddress) ?? "unknown";
      const apiKey = authorization ? BEARER.exec(authorization)?.[1] : undefined;
      const hash =
        apiKey && API_KEY_PATTERN.test(apiKey) ? createHash("sha256").update(apiKey).digest("base64url") : "";
      const now = clock();
      const app = hash ? apps.get(hash, now) : undefined;
      if (app) return app;
      // A key that worked lately, or one already being looked up, is not the throttle's business.
      if (hash && (recentlyValid.get(hash, now) || pending.has(hash))) {
        return lookup(apiKey as string, hash, options);
      }
      // Anything else takes a point from its address first (so that a burst of made-up keys at
      // once is held to the limit too), and gives it back if the key turns out to work.
      try {
        await failures.consume(source, 1);
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        throw appError("RATE_LIMITED", { retryAt: new Date(now + Math.max(1000, refusal.msBeforeNext)) });
      }
      try {
        if (!apiKey || !hash) throw appError("API_KEY_INVALID");
        const refusal = refusals.get(hash, now);
        if (refusal) throw refusal;
        const found = await lookup(apiKey, hash, options);
        await failures.reward(source, 1).catch(() => undefined);
        return found;
      } catch (err) {
        // An outage is not the key's fault.
        if (!(err instanceof AppError && err.reason === "API_KEY_INVALID")) {
          await failures.reward(source, 1).catch(() => undefined);
        }
        throw err;
      }
    },
  };
}
