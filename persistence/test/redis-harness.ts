// Store-contract harnesses over real Redis: a standalone redis-server, or a 3-master Cluster,
// started on free loopback ports for the test file and stopped after it.

import { startRedis, startRedisCluster } from "@emailauth/devkit";
import { createLogger } from "@emailauth/platform";
import { createRedisClient, type RedisClient } from "@emailauth/platform/redis";
import { Cluster } from "ioredis";
import { createRedisStore } from "../src/store/redis-store.ts";
import type { DriverHarness } from "./store-contract.ts";

const PREFIX = "ea:";
const quiet = createLogger({ service: "test", level: "silent" });

/** Every key, on every master (tests only: product code never lists keys). */
export async function allKeys(client: RedisClient): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes("master") : [client];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "COUNT", 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== "0");
  }
  return keys;
}

function harnessOver(client: RedisClient, stop: () => Promise<void>): DriverHarness {
  return {
    makeStore: () => createRedisStore({ client, prefix: PREFIX }),
    limitsBackend: { kind: "redis", client, prefix: PREFIX },
    keys: () => allKeys(client),
    async close() {
      client.disconnect();
      await stop();
    },
  };
}

export async function standaloneHarness(): Promise<DriverHarness> {
  const redis = await startRedis();
  const client = createRedisClient({ url: redis.url, logger: quiet, name: "test" });
  return harnessOver(client, () => redis.stop());
}

export async function clusterHarness(): Promise<DriverHarness> {
  const cluster = await startRedisCluster(3);
  const url = `redis+cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(",")}`;
  const client = createRedisClient({ url, logger: quiet, name: "test" });
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("error", reject);
  });
  return harnessOver(client, () => cluster.stop());
}
