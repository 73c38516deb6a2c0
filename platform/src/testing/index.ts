// Test helpers shared by every workspace: real Redis, a real SMTP sink, log capture, service
// processes. Written once here; a second copy anywhere is a bug.
export { createTestClock, type TestClock } from "./clock.ts";
export { createLogSink, type LogSink } from "./log-sink.ts";
export { freePort } from "./ports.ts";
export {
  type RedisClusterProcess,
  type RedisProcess,
  startRedis,
  startRedisCluster,
} from "./redis-server.ts";
export { type ServiceName, type ServiceProcess, spawnService } from "./service-process.ts";
export { startSmtpSink } from "./smtp-sink.ts";
export { waitFor } from "./wait.ts";
