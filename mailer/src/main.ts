// The mailer service's composition root: the only file that reads the environment and listens.
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
import { mailerConfig } from "./config.ts";
import { createMailerRuntime } from "./runtime.ts";

const config = loadOrExit(() => loadConfig(mailerConfig, process.env));
const logger = createLogger({ service: "mailer", level: config.LOG_LEVEL });
// Off unless the OTEL_* variables ask for it (see platform/src/tracing/tracing.ts).
const tracer = startTracing("mailer");

await runService({
  logger,
  async start() {
    const queueUrl = config.MAILER_REDIS_URL ?? config.REDIS_URL;
    const runtime = await createMailerRuntime({
      logger,
      metrics: createMetrics({ service: "mailer" }),
      credentials: serverCredentials(tlsFilesFrom(config)),
      queue: queueUrl
        ? {
            kind: "redis",
            url: queueUrl,
            prefix: config.MAILER_QUEUE_PREFIX,
            lockDurationMs: config.MAILER_JOB_LOCK,
          }
        : { kind: "memory" },
      queueKeys: config.MAILER_QUEUE_KEYS,
      queueOptions: {
        maxAttempts: config.MAILER_MAX_ATTEMPTS,
        retryBaseMs: config.MAILER_RETRY_BASE,
        concurrency: config.MAILER_CONCURRENCY,
        retentionMs: config.MAILER_STATUS_RETENTION,
      },
      smtp: config.SMTP_URL
        ? {
            kind: "relay",
            url: config.SMTP_URL,
            poolSize: config.SMTP_POOL_SIZE,
            dkim:
              config.MAILER_DKIM_DOMAIN && config.MAILER_DKIM_SELECTOR && config.MAILER_DKIM_PRIVATE_KEY_FILE
                ? {
                    domainName: config.MAILER_DKIM_DOMAIN,
                    keySelector: config.MAILER_DKIM_SELECTOR,
                    privateKeyFile: config.MAILER_DKIM_PRIVATE_KEY_FILE,
                  }
                : undefined,
          }
        : {
            kind: "dev-inbox",
            host: config.MAILER_HOST,
            port: config.MAILER_DEV_SMTP_PORT,
            poolSize: config.SMTP_POOL_SIZE,
          },
      from: config.MAILER_FROM,
      envelopeFrom: config.MAILER_ENVELOPE_FROM,
      defaultLocale: config.MAILER_DEFAULT_LOCALE,
      templatesDir: config.MAILER_TEMPLATES_DIR,
    });
    const ports = await runtime.server.listen({
      host: config.MAILER_HOST,
      grpcPort: config.MAILER_PORT,
      httpPort: config.MAILER_HTTP_PORT,
    });
    logger.info(
      {
        grpcPort: ports.grpcPort,
        httpPort: ports.httpPort,
        ...(runtime.inbox && { devSmtpPort: runtime.inbox.port }),
        mode: config.mode,
        queue: runtime.queue.durable ? "redis" : "memory",
      },
      "listening",
    );
    return {
      async stop() {
        await runtime.close(10_000);
        await tracer.shutdown();
      },
    };
  },
});
