// Opens the store the configuration asks for: Redis when REDIS_URL is set, memory otherwise
// (development only; the configuration refuses it in production).
import type { Check, Logger } from "@emailauth/platform";
import {
  createRedisClient,
  type RedisClient,
  redisCheck,
  withRedisUnavailable,
} from "@emailauth/platform/redis";
import { storeUnavailable } from "../errors.ts";
import { createMemoryStore } from "./memory-store.ts";
import { createRedisStore } from "./redis-store.ts";
import type { LimitsBackend, Store } from "./store.ts";

export interface OpenedStore {
  store: Store;
  limitsBackend: LimitsBackend;
  checks: Record<string, Check>;
  client: RedisClient | undefined;
}

export function openStore(deps: {
  redisUrl: string | undefined;
  prefix: string;
  logger: Logger;
}): OpenedStore {
  if (!deps.redisUrl) {
    deps.logger.warn(
      "no REDIS_URL: using the in-memory store. NOTHING IS DURABLE: users, sessions and client apps are lost on restart",
    );
    return { store: createMemoryStore(), limitsBackend: { kind: "memory" }, checks: {}, client: undefined };
  }
  const client = createRedisClient({ url: deps.redisUrl, logger: deps.logger, name: "store" });
  return {
    store: withRedisUnavailable(createRedisStore({ client, prefix: deps.prefix }), storeUnavailable),
    limitsBackend: { kind: "redis", client, prefix: deps.prefix },
    checks: { redis: redisCheck(client) },
    client,
  };
}
