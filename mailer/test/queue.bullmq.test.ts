import { randomUUID } from "node:crypto";
import { type RedisProcess, startRedis } from "@emailauth/devkit";
import { createLogger, createSealer } from "@emailauth/platform";
import { createRedisClient, type RedisClient } from "@emailauth/platform/redis";
import { afterAll, beforeAll } from "vitest";
import { createBullmqQueue } from "../src/queue/bullmq-queue.ts";
import { describeQueueContract } from "./queue-contract.ts";

let redis: RedisProcess;
const clients: RedisClient[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

describeQueueContract("BullMQ on redis-server", async (options, observer) => {
  const connection = createRedisClient({
    url: redis.url,
    logger: createLogger({ service: "test", level: "silent" }),
    name: "test-queue",
    forQueue: true,
  });
  clients.push(connection);
  return createBullmqQueue({
    connection,
    // A queue per test: no test sees another's jobs.
    prefix: `t-${randomUUID().slice(0, 8)}:{mail}`,
    sealer: createSealer(["queue-contract-key-queue-contract-key-0123"], "mail-queue"),
    options,
    lockDurationMs: 5_000,
    observer,
  });
});
