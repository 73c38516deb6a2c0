// createPersistenceServer(deps): builds the persistence service (gRPC + operations HTTP) from
// its dependencies. Builds only: main.ts (or a test) decides where it listens.
import {
  type AsyncHandlers,
  type Check,
  createServiceHost,
  implementService,
  type Logger,
  type Metrics,
} from "@emailauth/platform";
import {
  PersistenceServiceClient,
  type PersistenceServiceServer,
  PersistenceServiceService,
} from "@emailauth/proto/persistence";
import type { ServerCredentials } from "@grpc/grpc-js";

export interface PersistenceServerDeps {
  logger: Logger;
  metrics: Metrics;
  credentials: ServerCredentials;
  handlers: AsyncHandlers<PersistenceServiceServer>;
  checks: Record<string, Check>;
}

export function createPersistenceServer(deps: PersistenceServerDeps) {
  return createServiceHost({
    logger: deps.logger,
    metrics: deps.metrics,
    credentials: deps.credentials,
    checks: deps.checks,
    services: [
      {
        name: PersistenceServiceClient.serviceName,
        definition: PersistenceServiceService,
        implementation: implementService<PersistenceServiceServer>(
          PersistenceServiceService,
          deps.handlers,
          deps,
        ),
      },
    ],
  });
}
