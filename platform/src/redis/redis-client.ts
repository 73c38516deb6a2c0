// ioredis clients for any deployment (standalone, Sentinel, Cluster), configured the same way
// everywhere: auto-pipelining (concurrent commands share round trips), bounded reconnects, a
// bounded offline queue so that calls fail fast while Redis is down instead of piling up.
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log/logger.ts";
import type { Check } from "../ops/readiness.ts";
import { parseRedisUrl } from "./redis-url.ts";

export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  url: string;
  logger: Logger;
  /** Shown in logs: which part of the service this connection serves. */
  name: string;
  /**
   * BullMQ needs `maxRetriesPerRequest: null` on its connections (a blocked worker must not
   * fail); request/response users keep the default so that calls fail while Redis is down.
   */
  forQueue?: boolean;
}

export function createRedisClient(options: RedisClientOptions): RedisClient {
  const target = parseRedisUrl(options.url);
  const common: RedisOptions = {
    ...(target.username && { username: target.username }),
    ...(target.password && { password: target.password }),
    ...(target.tls && { tls: {} }),
    connectionName: `emailauth-${options.name}`,
    enableAutoPipelining: true,
    maxRetriesPerRequest: options.forQueue ? null : 2,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 2_000),
    connectTimeout: 5_000,
    lazyConnect: false,
  };
  let client: RedisClient;
  if (target.mode === "cluster") {
    client = new Cluster(target.nodes, {
      enableAutoPipelining: true,
      redisOptions: common,
      clusterRetryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2_000),
      ...(target.tls && { dnsLookup: (address, callback) => callback(null, address) }),
    });
  } else if (target.mode === "sentinel") {
    client = new Redis({
      ...common,
      sentinels: target.nodes,
      name: target.masterName ?? "mymaster",
      db: target.db,
      ...(target.password && { sentinelPassword: target.password }),
    });
  } else {
    const node = target.nodes[0] as { host: string; port: number };
    client = new Redis({ ...common, host: node.host, port: node.port, db: target.db });
  }
  let lastError = "";
  client.on("error", (err: Error) => {
    // ioredis repeats the same connection error on every retry: log each kind once.
    const kind = `${err.name}:${(err as NodeJS.ErrnoException).code ?? ""}`;
    if (kind !== lastError) {
      lastError = kind;
      options.logger.warn({ err, redis: options.name }, "redis connection error");
    }
  });
  client.on("ready", () => {
    if (lastError) options.logger.info({ redis: options.name }, "redis connection ready again");
    lastError = "";
  });
  return client;
}

/** Readiness: Redis answers PING (waiting, within the check's time, for a connection in progress). */
export function redisCheck(client: RedisClient): Check {
  return async (signal) => {
    if (client.status !== "ready") {
      await new Promise<void>((resolve, reject) => {
        const onReady = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          client.off("ready", onReady);
          reject(Object.assign(new Error(client.status), { name: "NotConnected" }));
        };
        client.once("ready", onReady);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
    await client.ping();
  };
}

/**
 * Closes a client the polite way (QUIT, so that Redis sees a clean goodbye) when Redis answers,
 * and drops the connection when it does not: QUIT waits for an answer, and a Redis that is
 * gone or hung (a partition, a stopped process) would hold a service's stop until it is killed.
 */
export async function closeRedisClient(client: RedisClient, boundMs = 1_000): Promise<void> {
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const quitted = await Promise.race([
    client.quit().then(
      () => true,
      () => false,
    ),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), boundMs);
    }),
  ]);
  clearTimeout(timer);
  if (!quitted) client.disconnect();
}
