// The persistence service's composition root: the only file that reads the environment and
// listens.
import {
  createLogger,
  createMetrics,
  loadConfig,
  loadOrExit,
  runService,
  serverCredentials,
  startTracing,
  tlsFilesFrom,
} from "@emailauth/platform";
import { withRedisUnavailable } from "@emailauth/platform/redis";
import { persistenceConfig } from "./config.ts";
import { createPersistenceCore } from "./core.ts";
import { storeUnavailable } from "./errors.ts";
import { createGuessBudget } from "./limits/guess-budget.ts";
import { createGuessBudgetEvents } from "./limits/guess-budget-events.ts";
import { createSendLimits } from "./limits/send-limits.ts";
import { createPersistenceServer } from "./server.ts";
import { openStore } from "./store/open-store.ts";

const config = loadOrExit(() => loadConfig(persistenceConfig, process.env));
const logger = createLogger({ service: "persistence", level: config.LOG_LEVEL });
// Off unless the OTEL_* variables ask for it (see platform/src/tracing/tracing.ts).
const tracer = startTracing("persistence");

await runService({
  logger,
  async start() {
    const metrics = createMetrics({ service: "persistence" });
    const { store, limitsBackend, checks } = openStore({
      redisUrl: config.REDIS_URL,
      prefix: config.REDIS_KEY_PREFIX,
      logger,
    });
    const limits = withRedisUnavailable(
      createSendLimits({
        backend: limitsBackend,
        config: {
          ipPerHour: config.LIMIT_IP_SENDS_PER_HOUR,
          appPerMinute: config.LIMIT_APP_SENDS_PER_MINUTE,
          globalPerMinute: config.LIMIT_GLOBAL_SENDS_PER_MINUTE,
        },
      }),
      storeUnavailable,
    );
    const budget = withRedisUnavailable(
      createGuessBudget({
        backend: limitsBackend,
        config: {
          appPerHour: config.GUESS_BUDGET_APP_PER_HOUR,
          globalPerHour: config.GUESS_BUDGET_GLOBAL_PER_HOUR,
        },
        events: createGuessBudgetEvents({ logger, metrics }),
      }),
      storeUnavailable,
    );
    const core = createPersistenceCore({
      store,
      limits,
      emailLimits: {
        cooldownMs: config.LIMIT_EMAIL_COOLDOWN,
        perHour: config.LIMIT_EMAIL_SENDS_PER_HOUR,
      },
      budget,
      pepper: config.PERSISTENCE_PEPPER,
      codeSecrets: config.PERSISTENCE_CODE_SECRETS,
      clock: Date.now,
      rules: {
        maxAttempts: config.CODE_MAX_ATTEMPTS,
        maxFailures: config.EMAIL_MAX_FAILURES,
        failureWindowMs: config.EMAIL_FAILURE_WINDOW,
        challengeRetentionMs: config.CHALLENGE_RETENTION,
      },
      sessionLifetimes: { idleMs: config.SESSION_IDLE_TTL, maxMs: config.SESSION_MAX_TTL },
      clientAppCacheTtlMs: config.CLIENT_APP_CACHE_TTL,
    });
    const server = createPersistenceServer({
      logger,
      metrics,
      credentials: serverCredentials(tlsFilesFrom(config)),
      core,
      checks,
    });
    const ports = await server.listen({
      host: config.PERSISTENCE_HOST,
      grpcPort: config.PERSISTENCE_PORT,
      httpPort: config.PERSISTENCE_OPS_PORT,
    });
    logger.info(
      { grpcPort: ports.grpcPort, opsPort: ports.httpPort, mode: config.mode, store: store.kind },
      "listening",
    );
    return {
      async stop() {
        await server.stop(10_000);
        await store.close();
        await tracer.shutdown();
      },
    };
  },
});
