// createGatewayServer(deps): the public server, built from its dependencies (main.ts or a test
// decides where it listens). One port serves:
//   /emailauth.auth.v1.AuthService/*    the public API (Connect, gRPC, gRPC-Web)
//   /grpc.health.v1.Health/*            health, from real readiness
//   /grpc.reflection.v1.ServerReflection/*  reflection, for buf curl / grpcurl
//   /healthz /readyz /metrics           operations
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createValidateInterceptor } from "@connectrpc/validate";
import {
  type Check,
  createOpsRoutes,
  createReadiness,
  type HttpRoute,
  type Logger,
  type Metrics,
  type Readiness,
  sendJson,
} from "@emailauth/platform";
import { AuthService } from "@emailauth/proto/auth";
import { Health } from "@emailauth/proto/health";
import { ServerReflection } from "@emailauth/proto/reflection";
import { createErrorInterceptor } from "./errors.ts";
import { createListener } from "./http/listener.ts";
import { createHealthService } from "./ops/health-service.ts";
import { createReflectionService } from "./ops/reflection-service.ts";

export interface GatewayServerDeps {
  logger: Logger;
  metrics: Metrics;
  auth: ServiceImpl<typeof AuthService>;
  /** Upstream checks: the gateway is ready when they pass. */
  checks: Record<string, Check>;
  /** Extra HTTP routes (e.g. the JWKS). */
  routes?: HttpRoute[];
  tls?: { certFile: string; keyFile: string };
  maxRequestBytes: number;
  requestTimeoutMs: number;
  readinessIntervalMs?: number;
}

export interface GatewayServer {
  readonly readiness: Readiness;
  listen(host: string, port: number): Promise<number>;
  stop(graceMs: number): Promise<void>;
}

export function createGatewayServer(deps: GatewayServerDeps): GatewayServer {
  const readiness = createReadiness({
    checks: deps.checks,
    logger: deps.logger,
    ...(deps.readinessIntervalMs !== undefined && { intervalMs: deps.readinessIntervalMs }),
  });
  const shutdown = new AbortController();
  const routes = [createOpsRoutes({ metrics: deps.metrics, readiness }), ...(deps.routes ?? [])];
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(AuthService, deps.auth);
      router.service(Health, createHealthService({ readiness, services: [AuthService.typeName] }));
      router.service(
        ServerReflection,
        createReflectionService({
          services: [AuthService.typeName, Health.typeName, ServerReflection.typeName],
        }),
      );
    },
    interceptors: [createErrorInterceptor({ logger: deps.logger }), createValidateInterceptor()],
    readMaxBytes: deps.maxRequestBytes,
    writeMaxBytes: 1024 * 1024,
    maxTimeoutMs: 60_000,
    shutdownSignal: shutdown.signal,
    fallback(req, res) {
      const plain = req as unknown as Parameters<HttpRoute>[0];
      const out = res as unknown as Parameters<HttpRoute>[1];
      void (async () => {
        for (const route of routes) if (await route(plain, out)) return;
        sendJson(out, 404, { error: "not found" });
      })().catch((err: unknown) => {
        deps.logger.error({ err }, "http route failed");
        if (!out.headersSent) sendJson(out, 500, { error: "internal error" });
      });
    },
  });
  const listener = createListener({
    handler,
    requestTimeoutMs: deps.requestTimeoutMs,
    ...(deps.tls && { tls: deps.tls }),
  });
  return {
    readiness,
    async listen(host, port) {
      const bound = await listener.listen(host, port);
      await readiness.refresh();
      return bound;
    },
    async stop(graceMs) {
      readiness.markStopping();
      await listener.close(graceMs);
      shutdown.abort();
      readiness.stop();
    },
  };
}
