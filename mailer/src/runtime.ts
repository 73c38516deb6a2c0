// Everything the mailer runs, assembled from typed options: the queue (BullMQ on Redis, or
// in-process), the SMTP transport (a relay, or the development inbox), templates, the worker,
// and the gRPC/HTTP server. main.ts fills the options from the environment; tests fill them
// by hand.

import type { SmtpCatcher } from "@emailauth/devkit/smtp";
import {
  type Check,
  contextFromTraceparent,
  createSealer,
  endSpan,
  type Logger,
  type Metrics,
  ROOT_CONTEXT,
  type ServiceHost,
  SpanKind,
  trace,
  traceContext,
  tracing,
} from "@emailauth/platform";
import {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
  redisCheck,
  withRedisUnavailable,
} from "@emailauth/platform/redis";
import type { ServerCredentials } from "@grpc/grpc-js";
import { Counter, Gauge } from "prom-client";
import { createDeliver } from "./delivery/deliver.ts";
import { createSmtpTransport, type DkimOptions } from "./delivery/smtp-transport.ts";
import { createInboxRoutes } from "./dev-inbox/inbox-routes.ts";
import { loadSmtpCatcher } from "./dev-inbox/load-catcher.ts";
import { queueUnavailable } from "./errors.ts";
import { createBullmqQueue } from "./queue/bullmq-queue.ts";
import { createMemoryQueue } from "./queue/memory-queue.ts";
import {
  type Deliver,
  DeliveryError,
  type MailQueue,
  type QueueObserver,
  type QueueOptions,
  type QueueStats,
} from "./queue/queue.ts";
import { createMailerServer } from "./server.ts";
import { createTemplates } from "./templates/templates.ts";

export interface MailerRuntimeOptions {
  logger: Logger;
  metrics: Metrics;
  credentials: ServerCredentials;
  queue: { kind: "memory" } | { kind: "redis"; url: string; prefix: string; lockDurationMs: number };
  queueKeys: readonly string[];
  queueOptions: QueueOptions;
  smtp:
    | { kind: "relay"; url: string; poolSize: number; dkim: DkimOptions | undefined }
    | { kind: "dev-inbox"; host: string; port: number; poolSize: number };
  from: string;
  envelopeFrom: string | undefined;
  defaultLocale: string;
  templatesDir: string | undefined;
}

export interface MailerRuntime {
  readonly server: ServiceHost;
  readonly queue: MailQueue;
  /** The development inbox's SMTP catcher, when there is no relay. */
  readonly inbox: SmtpCatcher | undefined;
  close(graceMs: number): Promise<void>;
}

/**
 * Each delivery attempt as a span of its own trace (it runs later, maybe in another mailer),
 * linked to the request that queued the email, when tracing is on.
 */
function traced(deliver: Deliver, queueKind: string): Deliver {
  return (email, attempt) => {
    if (!tracing().enabled) return deliver(email, attempt);
    const queued = contextFromTraceparent(email.traceparent);
    const link = queued ? trace.getSpanContext(queued) : undefined;
    const span = tracing().tracer.startSpan(
      "mailer deliver",
      {
        kind: SpanKind.CONSUMER,
        root: true,
        links: link ? [{ context: link }] : [],
        attributes: {
          "messaging.system": queueKind === "redis" ? "bullmq" : "in-process",
          "messaging.operation.type": "process",
          "emailauth.attempt": attempt,
          "emailauth.request_id": email.requestId,
        },
      },
      ROOT_CONTEXT,
    );
    return traceContext
      .with(trace.setSpan(ROOT_CONTEXT, span), () => deliver(email, attempt))
      .then(
        () => endSpan(span, { code: "ok" }),
        (err: unknown) => {
          endSpan(span, {
            code: "error",
            reason: err instanceof DeliveryError ? err.errorClass : "INTERNAL",
          });
          throw err;
        },
      );
  };
}

function domainOf(from: string): string {
  return /@([A-Za-z0-9.-]+)>?$/.exec(from)?.[1] ?? "localhost";
}

export async function createMailerRuntime(o: MailerRuntimeOptions): Promise<MailerRuntime> {
  const { logger } = o;
  const sent = new Counter({
    name: "emailauth_emails_sent_total",
    help: "Login emails accepted by the SMTP relay.",
    registers: [o.metrics.registry],
  });
  const failures = new Counter({
    name: "emailauth_email_failures_total",
    help: "Failed delivery attempts, by error class and whether it was the last attempt.",
    labelNames: ["error_class", "final"],
    registers: [o.metrics.registry],
  });
  const deliveries = new Counter({
    name: "emailauth_email_deliveries_total",
    help: "Delivery attempts by outcome: sent, retried (a transient failure; another attempt is scheduled) or failed (permanently, or out of attempts).",
    labelNames: ["outcome"],
    registers: [o.metrics.registry],
  });
  const observer: QueueObserver = {
    sent({ messageId, requestId }, attempts) {
      sent.inc();
      deliveries.inc({ outcome: "sent" });
      logger.debug({ requestId, messageId, attempts }, "email sent");
    },
    failed({ messageId, requestId }, errorClass, attempt, final) {
      failures.inc({ error_class: errorClass, final: String(final) });
      deliveries.inc({ outcome: final ? "failed" : "retried" });
      logger[final ? "warn" : "info"](
        { requestId, messageId, errorClass, attempt, final },
        final ? "email failed" : "email will be retried",
      );
    },
  };

  let client: RedisClient | undefined;
  let queue: MailQueue;
  const checks: Record<string, Check> = {};
  if (o.queue.kind === "redis") {
    client = createRedisClient({ url: o.queue.url, logger, name: "mail-queue", forQueue: true });
    checks.redis = redisCheck(client);
    queue = withRedisUnavailable(
      createBullmqQueue({
        connection: client,
        prefix: o.queue.prefix,
        sealer: createSealer(o.queueKeys, "mail-queue"),
        options: o.queueOptions,
        lockDurationMs: o.queue.lockDurationMs,
        observer,
      }),
      queueUnavailable,
    );
  } else {
    logger.warn(
      "no REDIS_URL: using an in-process mail queue. NOT DURABLE: queued emails are lost on restart",
    );
    queue = createMemoryQueue({ options: o.queueOptions, observer });
  }

  let inbox: SmtpCatcher | undefined;
  let smtpUrl: string;
  if (o.smtp.kind === "dev-inbox") {
    inbox = await loadSmtpCatcher({ keep: 500 });
    const port = await inbox.listen(o.smtp.host, o.smtp.port);
    smtpUrl = `smtp://${o.smtp.host.includes(":") ? `[${o.smtp.host}]` : o.smtp.host}:${port}?ignoreTLS=true`;
    logger.warn(
      { devSmtpPort: port },
      "no SMTP_URL: emails go to the development inbox (/inbox), not to people",
    );
  } else {
    smtpUrl = o.smtp.url;
  }
  const transport = createSmtpTransport({
    url: smtpUrl,
    poolSize: o.smtp.poolSize,
    dkim: o.smtp.kind === "relay" ? o.smtp.dkim : undefined,
  });
  const templates = createTemplates({ overrideDir: o.templatesDir, defaultLocale: o.defaultLocale });
  for (const warning of templates.warnings) logger.warn(warning);
  queue.start(
    traced(
      createDeliver({
        transport,
        templates,
        from: o.from,
        envelopeFrom: o.envelopeFrom,
        messageIdDomain: domainOf(o.from),
      }),
      o.queue.kind,
    ),
  );

  // Read when scraped (one or two Redis round trips): what waits, and for how long. A scrape
  // never waits on a slow or stalled Redis for more than a quarter second: it gets the last
  // values then (the readiness check reports the outage), and /metrics keeps answering.
  // One read serves both gauges of a scrape.
  let lastStats: QueueStats = { waiting: 0, delayed: 0, active: 0, oldestWaitingAgeMs: 0 };
  let reading: { at: number; stats: Promise<QueueStats> } | undefined;
  const stats = () => {
    if (!reading || Date.now() - reading.at > 1_000) {
      const read = queue.stats().then(
        (s) => {
          lastStats = s;
          return s;
        },
        () => lastStats,
      );
      reading = { at: Date.now(), stats: read };
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<QueueStats>((resolve) => {
      timer = setTimeout(() => resolve(lastStats), 250);
    });
    return Promise.race([reading.stats, late]).finally(() => clearTimeout(timer));
  };
  new Gauge({
    name: "emailauth_mail_queue_jobs",
    help: "Emails in the queue now, by state: waiting (ready, not yet taken), delayed (a retry's backoff), active (being sent).",
    labelNames: ["state"],
    registers: [o.metrics.registry],
    async collect() {
      const s = await stats();
      this.set({ state: "waiting" }, s.waiting);
      this.set({ state: "delayed" }, s.delayed);
      this.set({ state: "active" }, s.active);
    },
  });
  new Gauge({
    name: "emailauth_mail_queue_oldest_waiting_seconds",
    help: "How long the oldest waiting email has waited to be taken (0 when none waits): the delivery lag people feel.",
    registers: [o.metrics.registry],
    async collect() {
      this.set((await stats()).oldestWaitingAgeMs / 1000);
    },
  });

  const server = createMailerServer({
    logger,
    metrics: o.metrics,
    credentials: o.credentials,
    queue,
    checks,
    ...(inbox && { routes: [createInboxRoutes({ catcher: inbox })] }),
  });

  return {
    server,
    queue,
    inbox,
    async close(graceMs) {
      const started = Date.now();
      await server.stop(graceMs);
      await queue.close(Math.max(0, graceMs - (Date.now() - started)));
      transport.close();
      await inbox?.close();
      if (client) await closeRedisClient(client);
    },
  };
}
