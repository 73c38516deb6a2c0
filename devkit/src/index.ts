// @emailauth/devkit: the tools of development and tests, written once for every workspace: real
// Redis and SMTP servers, processes with their logs captured, a clock moved by hand. A
// workspace of its own so that no production install carries it: the Dockerfile does not copy
// it, and nothing shipped depends on it (test/architecture.test.ts).
export { createTestClock, type TestClock } from "./clock.ts";
export { freePort } from "./ports.ts";
export { createLogSink, type LogSink } from "./process/log-sink.ts";
export { type ServiceProcess, type SpawnOptions, spawnService } from "./process/service-process.ts";
export {
  MISSING_REDIS,
  type RedisClusterProcess,
  type RedisProcess,
  startRedis,
  startRedisCluster,
} from "./redis-server.ts";
export { startSmtpSink } from "./smtp/smtp-sink.ts";
export { waitFor } from "./wait.ts";
