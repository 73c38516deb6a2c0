// createMailerServer(deps): the mailer service (gRPC + HTTP) built from its dependencies.
import {
  type Check,
  createServiceHost,
  type HttpRoute,
  implementService,
  type Logger,
  type Metrics,
  type ServiceHost,
  serveBatch,
} from "@emailauth/platform";
import { MailerServiceClient, type MailerServiceServer, MailerServiceService } from "@emailauth/proto/mailer";
import type { ServerCredentials } from "@grpc/grpc-js";
import type { MailQueue } from "./queue/queue.ts";
import { createMailerHandlers } from "./service/handlers.ts";

export interface MailerServerDeps {
  logger: Logger;
  metrics: Metrics;
  credentials: ServerCredentials;
  queue: MailQueue;
  checks: Record<string, Check>;
  routes?: HttpRoute[];
  clock?: () => number;
}

/** The batch method is served by the unary one: each email queued as if alone, in one round trip. */
function withBatches(handlers: ReturnType<typeof createMailerHandlers>, deps: MailerServerDeps) {
  return {
    ...handlers,
    queueLoginCodeEmails: serveBatch("QueueLoginCodeEmail", handlers.queueLoginCodeEmail, deps),
  };
}

export function createMailerServer(deps: MailerServerDeps): ServiceHost {
  return createServiceHost({
    logger: deps.logger,
    metrics: deps.metrics,
    credentials: deps.credentials,
    checks: deps.checks,
    ...(deps.routes && { routes: deps.routes }),
    services: [
      {
        name: MailerServiceClient.serviceName,
        definition: MailerServiceService,
        implementation: implementService<MailerServiceServer>(
          MailerServiceService,
          withBatches(createMailerHandlers({ queue: deps.queue, clock: deps.clock ?? Date.now }), deps),
          deps,
        ),
      },
    ],
  });
}
