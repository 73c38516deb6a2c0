// Who is calling: the client app of the API key in `Authorization: Bearer eak_...`, asked of
// persistence and remembered for API_KEY_CACHE_TTL (so a revoked or disabled key stops working
// within that time on every replica). Concurrent requests with the same key share one lookup.
import { createHash } from "node:crypto";
import { AppError, appError, type CallOptionsLite } from "@emailauth/platform";
import type { ClientApp } from "@emailauth/proto/persistence";
import type { PersistenceUpstream } from "../upstreams.ts";

const BEARER = /^Bearer\s+(\S{1,200})$/i;
/** Answers that are facts about the key, worth remembering (not outages). */
const DEFINITIVE = new Set(["API_KEY_INVALID", "CLIENT_APP_DISABLED", "CLIENT_APP_NOT_FOUND"]);

export interface ClientAppAuthenticator {
  authenticate(authorization: string | null, options: CallOptionsLite): Promise<ClientApp>;
}

export function createClientAppAuthenticator(deps: {
  persistence: PersistenceUpstream;
  ttlMs: number;
  maxEntries?: number;
  clock?: () => number;
}): ClientAppAuthenticator {
  const clock = deps.clock ?? Date.now;
  const max = deps.maxEntries ?? 10_000;
  const cache = new Map<string, { until: number; app?: ClientApp; error?: AppError }>();
  const pending = new Map<string, Promise<ClientApp>>();

  const remember = (hash: string, entry: { app?: ClientApp; error?: AppError }) => {
    if (deps.ttlMs <= 0) return;
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    cache.set(hash, { ...entry, until: clock() + deps.ttlMs });
  };

  return {
    authenticate(authorization, options) {
      const apiKey = authorization ? BEARER.exec(authorization)?.[1] : undefined;
      if (!apiKey?.startsWith("eak_")) return Promise.reject(appError("API_KEY_INVALID"));
      const hash = createHash("sha256").update(apiKey).digest("base64url");
      const hit = cache.get(hash);
      if (hit && hit.until > clock()) return hit.app ? Promise.resolve(hit.app) : Promise.reject(hit.error);
      const inFlight = pending.get(hash);
      if (inFlight) return inFlight;
      const lookup = deps.persistence
        // Shared by every waiting request: no single request's cancellation may end it.
        .call(
          "authenticateClientApp",
          { apiKey },
          { ...(options.requestId && { requestId: options.requestId }) },
        )
        .then(
          ({ clientApp }) => {
            if (!clientApp) throw appError("INTERNAL");
            remember(hash, { app: clientApp });
            return clientApp;
          },
          (err: unknown) => {
            if (err instanceof AppError && DEFINITIVE.has(err.reason)) {
              const refusal = appError("API_KEY_INVALID", { cause: err });
              remember(hash, { error: refusal });
              throw refusal;
            }
            throw err;
          },
        )
        .finally(() => pending.delete(hash));
      pending.set(hash, lookup);
      return lookup;
    },
  };
}
