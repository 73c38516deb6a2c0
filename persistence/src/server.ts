// createPersistenceServer(deps): the persistence service (gRPC + operations HTTP) built from
// its dependencies. Builds only: main.ts (or a test) decides where it listens.
import {
  type Check,
  createServiceHost,
  implementService,
  type Logger,
  type Metrics,
  type ServiceHost,
  serveBatch,
} from "@emailauth/platform";
import {
  PersistenceServiceClient,
  type PersistenceServiceServer,
  PersistenceServiceService,
} from "@emailauth/proto/persistence";
import type { ServerCredentials } from "@grpc/grpc-js";
import type { PersistenceCore } from "./core.ts";
import { createPersistenceHandlers } from "./service/handlers.ts";

export interface PersistenceServerDeps {
  logger: Logger;
  metrics: Metrics;
  credentials: ServerCredentials;
  core: PersistenceCore;
  checks: Record<string, Check>;
}

function withBatches(handlers: ReturnType<typeof createPersistenceHandlers>, deps: PersistenceServerDeps) {
  return {
    ...handlers,
    issueLoginCodes: serveBatch("IssueLoginCode", handlers.issueLoginCode, deps),
    consumeLoginCodes: serveBatch("ConsumeLoginCode", handlers.consumeLoginCode, deps),
  };
}

export function createPersistenceServer(deps: PersistenceServerDeps): ServiceHost {
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
          withBatches(createPersistenceHandlers(deps.core), deps),
          deps,
        ),
      },
    ],
  });
}
