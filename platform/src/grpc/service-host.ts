// What an internal service runs: its gRPC server (with health and reflection) and an HTTP
// server for /healthz, /readyz, /metrics (and any extra routes the service adds, such as a
// development page), with readiness from real checks driving both. Built by the service's
// createServer(deps); started by its main.ts.
import type { ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { createHttpServer } from "../ops/http-server.ts";
import { createOpsRoutes, type HttpRoute } from "../ops/ops-routes.ts";
import { type Check, createReadiness, type Readiness } from "../ops/readiness.ts";
import { createGrpcServer, type ServiceBinding } from "./server.ts";

export interface ServiceHostDeps {
  logger: Logger;
  metrics: Metrics;
  credentials: ServerCredentials;
  services: ServiceBinding[];
  /** Dependency checks (Redis, SMTP...): the service is ready when all pass. */
  checks: Record<string, Check>;
  routes?: HttpRoute[];
  maxReceiveBytes?: number;
  readinessIntervalMs?: number;
}

export interface ListenOptions {
  host: string;
  grpcPort: number;
  httpPort: number;
}

export interface ServiceHost {
  readonly readiness: Readiness;
  listen(options: ListenOptions): Promise<{ grpcPort: number; httpPort: number }>;
  /** Not ready at once (load balancers and health watchers move away), then drain. */
  stop(graceMs: number): Promise<void>;
}

export function createServiceHost(deps: ServiceHostDeps): ServiceHost {
  const grpc = createGrpcServer({
    logger: deps.logger,
    credentials: deps.credentials,
    services: deps.services,
    ...(deps.maxReceiveBytes !== undefined && { maxReceiveBytes: deps.maxReceiveBytes }),
  });
  const readiness = createReadiness({
    checks: deps.checks,
    logger: deps.logger,
    ...(deps.readinessIntervalMs !== undefined && { intervalMs: deps.readinessIntervalMs }),
    onChange: (ready) => grpc.setServing(ready),
  });
  const http = createHttpServer({
    routes: [createOpsRoutes({ metrics: deps.metrics, readiness }), ...(deps.routes ?? [])],
    logger: deps.logger,
  });
  return {
    readiness,
    async listen(options) {
      const grpcPort = await grpc.listen(options.host, options.grpcPort);
      const httpPort = await http.listen(options.host, options.httpPort);
      await readiness.refresh();
      return { grpcPort, httpPort };
    },
    async stop(graceMs) {
      readiness.markStopping();
      await grpc.shutdown(graceMs);
      readiness.stop();
      await http.close();
    },
  };
}
