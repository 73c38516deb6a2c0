// createMailerServer(deps): the mailer service (gRPC + HTTP) built from its dependencies.
import {
  type Check,
  createServiceHost,
  type HttpRoute,
  implementService,
  type Logger,
  type Metrics,
  type ServiceHost,
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
          createMailerHandlers({ queue: deps.queue, clock: deps.clock ?? Date.now }),
          deps,
        ),
      },
    ],
  });
}
