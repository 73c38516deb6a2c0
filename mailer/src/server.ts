// createMailerServer(deps): builds the mailer service (gRPC + HTTP) from its dependencies.
import {
  type AsyncHandlers,
  type Check,
  createServiceHost,
  type HttpRoute,
  implementService,
  type Logger,
  type Metrics,
} from "@emailauth/platform";
import { MailerServiceClient, type MailerServiceServer, MailerServiceService } from "@emailauth/proto/mailer";
import type { ServerCredentials } from "@grpc/grpc-js";

export interface MailerServerDeps {
  logger: Logger;
  metrics: Metrics;
  credentials: ServerCredentials;
  handlers: AsyncHandlers<MailerServiceServer>;
  checks: Record<string, Check>;
  routes?: HttpRoute[];
}

export function createMailerServer(deps: MailerServerDeps) {
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
        implementation: implementService<MailerServiceServer>(MailerServiceService, deps.handlers, deps),
      },
    ],
  });
}
