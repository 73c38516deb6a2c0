// @emailauth/platform: what the three services share, once.
export { checkInternalTls, internalTlsVars, logVars } from "./config/common.ts";
export {
  type ConfigDefinition,
  ConfigError,
  type ConfigOf,
  defineConfig,
  type LoadedConfig,
  loadConfig,
  MODE_VAR,
  type Spec,
} from "./config/load.ts";
export type { Mode, Var } from "./config/vars.ts";
export * as vars from "./config/vars.ts";
export { parseDuration } from "./config/vars.ts";
export { createSealer, type Sealer } from "./crypto/sealer.ts";
export {
  CLIENT_APP_NAME_MAX_LENGTH,
  EMAIL_INPUT_MAX_LENGTH,
  EMAIL_MAX_LENGTH,
  type NormalizedEmail,
  normalizeEmail,
  SENDER_ADDRESS_PATTERN,
} from "./email.ts";
export {
  AppError,
  type AppErrorOptions,
  appError,
  Code,
  defineReasons,
  type PlatformReason,
  platformReasons,
  type ReasonEntry,
  type ReasonSet,
  type Reasons,
  toAppError,
} from "./errors/catalog.ts";
export { fromErrorDetail, fromGrpcError, toGrpcError } from "./errors/grpc-status.ts";
export { type BatchRequest, type BatchResult, MAX_BATCH, serveBatch } from "./grpc/batch-handler.ts";
export {
  type CallOptionsLite,
  createGrpcClient,
  createUpstream,
  targetFor,
  type Upstream,
} from "./grpc/client.ts";
export { createCoalescer, withCoalescing } from "./grpc/coalescer.ts";
export { channelCredentials, serverCredentials, type TlsFiles, tlsFilesFrom } from "./grpc/credentials.ts";
export {
  type AsyncHandlers,
  type AsyncUnary,
  type CallContext,
  implementService,
  REQUEST_ID_KEY,
  requestIdFrom,
} from "./grpc/handlers.ts";
export { grpcHealthCheck } from "./grpc/health-check.ts";
export {
  createGrpcServer,
  type GrpcServer,
  HEALTH_SERVICE,
  REFLECTION_SERVICE,
  reflectionPackage,
  type ServiceBinding,
} from "./grpc/server.ts";
export {
  createServiceHost,
  type ListenOptions,
  type ServiceHost,
  type ServiceHostDeps,
} from "./grpc/service-host.ts";
export { IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE } from "./idempotency-key.ts";
export { loadOrExit, type Running, runService, STOP_WITH_PARENT } from "./lifecycle.ts";
export { type Audit, type AuditFields, defineAudit } from "./log/audit.ts";
export { createLogger, type Logger } from "./log/logger.ts";
export { CENSORED, maskEmail, SECRET_FIELDS, scrubText, scrubValue } from "./log/scrub.ts";
export { Counter, codeName, createMetrics, Gauge, Histogram, type Metrics } from "./metrics/metrics.ts";
export { addressLimitKey } from "./net/address-key.ts";
export { createHttpServer, type HttpServer } from "./ops/http-server.ts";
export { createOpsRoutes, type HttpRoute, sendJson } from "./ops/ops-routes.ts";
export { type Check, createReadiness, type Readiness, type ReadinessState } from "./ops/readiness.ts";
export { parseRedisUrl, type RedisTarget } from "./redis/redis-url.ts";
export {
  context as traceContext,
  contextFromTraceparent,
  currentTraceparent,
  endSpan,
  headersGetter,
  metadataGetter,
  metadataSetter,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  startTracing,
  type Tracing,
  trace,
  tracing,
} from "./tracing/tracing.ts";
export { parseWebLink } from "./web-link.ts";
