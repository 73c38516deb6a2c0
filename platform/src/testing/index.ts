// Test helpers shared by every workspace: real Redis, a real SMTP sink, log capture, service
// processes. Written once here; a second copy anywhere is a bug.

export {
  createLogSink,
  freePort,
  type LogSink,
  type ServiceName,
  type ServiceProcess,
  spawnService,
} from "../process/index.ts";
export { createTestClock, type TestClock } from "./clock.ts";
export {
  MISSING_REDIS,
  type RedisClusterProcess,
  type RedisProcess,
  startRedis,
  startRedisCluster,
} from "./redis-server.ts";
export { startSmtpSink } from "./smtp-sink.ts";
export { waitFor } from "./wait.ts";
