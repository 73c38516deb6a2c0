// createGatewayServer(deps): the public server, built from its dependencies (main.ts or a test
// decides where it listens). One port serves:
//   /emailauth.auth.v1.AuthService/*        the public API (Connect, gRPC, gRPC-Web)
//   /grpc.health.v1.Health/*                health, from real readiness
//   /grpc.reflection.v1.ServerReflection/*  reflection, for buf curl / grpcurl
//   /.well-known/jwks.json                  the public keys of access tokens
//   /openapi.json (/docs in development)    the public API described
//   /healthz /readyz /metrics               operations
import { randomUUID } from "node:crypto";
import { createContextValues, type ServiceImpl } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { createValidateInterceptor } from "@connectrpc/validate";
import {
  type Check,
  createOpsRoutes,
  createReadiness,
  Gauge,
  type HttpRoute,
  type Logger,
  type Metrics,
  type Readiness,
  sendJson,
} from "@emailauth/platform";
import { AuthService } from "@emailauth/proto/auth";
import { Health } from "@emailauth/proto/health";
import { openApiDocument } from "@emailauth/proto/openapi";
import { ServerReflection } from "@emailauth/proto/reflection";
import { ServerReflection as ServerReflectionV1alpha } from "@emailauth/proto/reflection-v1alpha";
import type { ClientAppAuthenticator } from "./auth/client-app-auth.ts";
import { createAdmission } from "./edge/admission.ts";
import { CLIENT_ADDRESS, REQUEST_ID } from "./edge/context.ts";
import { handlePreflight } from "./edge/cors.ts";
import { createErrorInterceptor, createRequestGate } from "./edge/interceptors.ts";
import { toConnectError } from "./edge/public-errors.ts";
import { createRpcEdge } from "./edge/rpc-edge.ts";
import { appError } from "./errors.ts";
import { createApiDocsRoutes } from "./http/api-docs.ts";
import { createClientAddressOf } from "./http/client-address.ts";
import { createListener } from "./http/listener.ts";
import { createRpcHandler } from "./http/rpc-handler.ts";
import { createHealthService } from "./ops/health-service.ts";
import { createReflectionServices } from "./ops/reflection-service.ts";
import type { KeySet } from "./tokens/key-set.ts";

export interface GatewayServerDeps {
  logger: Logger;
  /** Serve the API reference page at /docs (development). /openapi.json is always served. */
  apiReferencePage?: boolean;
  /** Serve /metrics on the public port too (default true; false once an ops port serves it). */
  publicMetrics?: boolean;
  metrics: Metrics;
  auth: ServiceImpl<typeof AuthService>;
  authenticator: ClientAppAuthenticator;
  keys: KeySet;
  /** Upstream checks: the gateway is ready when they pass. */
  checks: Record<string, Check>;
  tls?: { certFile: string; keyFile: string };
  maxRequestBytes: number;
  requestTimeoutMs: number;
  /** Hard ceiling of public requests in flight (admission adapts below it). */
  maxInFlight: number;
  /** The latency admitted requests should stay under (admission.ts). */
  admissionTargetLatencyMs?: number;
  /** Event-loop delay past which new low-priority requests are refused. */
  admissionMaxEventLoopDelayMs?: number;
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  keepAliveTimeoutMs?: number;
  http2IdleTimeoutMs?: number;
  appRequestsPerSecond: number;
  /** Proxies whose X-Forwarded-For is believed (addresses or CIDRs). */
  trustedProxies?: readonly string[];
  /** Whether the upstreams a public method needs can be reached right now. */
  upstreamsReachable?: (method: string) => boolean;
  readinessIntervalMs?: number;
}

export interface GatewayServer {
  readonly readiness: Readiness;
  /** /healthz, /readyz and /metrics, for an operations port apart from the public one. */
  readonly opsRoute: HttpRoute;
  listen(host: string, port: number): Promise<number>;
  stop(graceMs: number): Promise<void>;
}

/** A caller's own request id is kept if it is a plain token; otherwise one is made. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export function createGatewayServer(deps: GatewayServerDeps): GatewayServer {
  const readiness = createReadiness({
    checks: deps.checks,
    logger: deps.logger,
    ...(deps.readinessIntervalMs !== undefined && { intervalMs: deps.readinessIntervalMs }),
  });
  const shutdown = new AbortController();
  const jwks: HttpRoute = (req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/.well-known/jwks.json") return false;
    const body = JSON.stringify(deps.keys.jwks());
    res.writeHead(200, {
      "content-type": "application/json",
      // Client apps cache the keys; a new key is published before it signs (see key-set.ts).
      "cache-control": "public, max-age=300",
      "access-control-allow-origin": "*",
    });
    res.end(body);
    return true;
  };
  const opsRoute = createOpsRoutes({ metrics: deps.metrics, readiness });
  // Metrics say how the service is attacked and how it holds: with an operations port they
  // are served there only, as identity products do; health stays public for load balancers.
  const noPublicMetrics: HttpRoute = (req, res) => {
    if (deps.publicMetrics !== false || (req.url ?? "").split("?")[0] !== "/metrics") return false;
    sendJson(res, 404, { error: "not found" });
    return true;
  };
  const routes = [
    jwks,
    createApiDocsRoutes({ document: openApiDocument(), referencePage: deps.apiReferencePage ?? false }),
    noPublicMetrics,
    opsRoute,
  ];
  const admission = createAdmission({
    maxInFlight: deps.maxInFlight,
    targetLatencyMs: deps.admissionTargetLatencyMs ?? 300,
    maxEventLoopDelayMs: deps.admissionMaxEventLoopDelayMs ?? 50,
  });
  const trustedProxies = createClientAddressOf(deps.trustedProxies ?? []);
  const clientAddressOf = trustedProxies.clientAddressOf;
  const edge = createRpcEdge({
    logger: deps.logger,
    metrics: deps.metrics,
    admission,
    ...(deps.upstreamsReachable && { upstreamsReachable: deps.upstreamsReachable }),
  });
  const rpc = createRpcHandler({
    routes(router) {
      router.service(AuthService, deps.auth);
      router.service(Health, createHealthService({ readiness, services: [AuthService.typeName] }));
      const reflection = createReflectionServices({
        services: [
          // Listed as the grpc-js services list theirs: v1alpha answers but is not listed.
          AuthService.typeName,
          Health.typeName,
          ServerReflection.typeName,
        ],
      });
      router.service(ServerReflection, reflection.v1);
      router.service(ServerReflectionV1alpha, reflection.v1alpha);
    },
    wrap: edge.wrap,
    early: edge.early,
    contextValues(req) {
      const values = createContextValues();
      // Validated (or made) by the listener's handler below.
      values.set(REQUEST_ID, req.headers["x-request-id"] as string);
      values.set(CLIENT_ADDRESS, clientAddressOf(req.socket?.remoteAddress, req.headers["x-forwarded-for"]));
      return values;
    },
    requestGate: createRequestGate({
      authenticator: deps.authenticator,
      appRequestsPerSecond: deps.appRequestsPerSecond,
      logger: deps.logger,
    }),
    interceptors: [createErrorInterceptor({ logger: deps.logger }), createValidateInterceptor()],
    readMaxBytes: deps.maxRequestBytes,
    writeMaxBytes: 1024 * 1024,
    // Answers are small: compressing them costs more than it saves, and an uncompressed error
    // is one the edge can read (rpc-edge.ts).
    compressMinBytes: 1024 * 1024,
    maxTimeoutMs: 60_000,
    shutdownSignal: shutdown.signal,
    unreadable(_req, res, values, err) {
      deps.logger.info({ requestId: values.get(REQUEST_ID), err }, "unreadable request");
      const body = errorToJsonBytes(
        toConnectError(
          appError("INVALID_ARGUMENT", { message: "the request could not be read (its Host?)" }),
        ),
        {},
      );
      (res as Parameters<HttpRoute>[1]).writeHead(400, {
        "content-type": "application/json",
        "content-length": body.byteLength,
        "x-request-id": values.get(REQUEST_ID),
        connection: "close",
      });
      res.end(body);
    },
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
    handler: (req, res) => {
      try {
        // Every answer carries the request id (a caller's own, if it is a plain token).
        const given = req.headers["x-request-id"];
        const requestId = typeof given === "string" && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
        req.headers["x-request-id"] = requestId;
        (res as Parameters<HttpRoute>[1]).setHeader("x-request-id", requestId);
        if (!handlePreflight(req, res)) rpc(req, res);
      } catch (err) {
        // A last line: nothing a request carries may end the process.
        deps.logger.error({ err }, "request handler threw");
        try {
          if (!res.headersSent) (res as Parameters<HttpRoute>[1]).writeHead(500);
          res.end();
        } catch {
          // already closed
        }
      }
    },
    requestTimeoutMs: deps.requestTimeoutMs,
    maxConnections: deps.maxConnections ?? 10_000,
    maxConnectionsPerAddress: deps.maxConnectionsPerAddress ?? 512,
    isExempt: trustedProxies.isTrusted,
    ...(deps.keepAliveTimeoutMs !== undefined && { keepAliveTimeoutMs: deps.keepAliveTimeoutMs }),
    ...(deps.http2IdleTimeoutMs !== undefined && { idleTimeoutMs: deps.http2IdleTimeoutMs }),
    ...(deps.tls && { tls: deps.tls }),
  });
  // Read when scraped: what the edge holds now, for the dashboards and the overload runbook.
  new Gauge({
    name: "emailauth_gateway_open_connections",
    help: "Client connections open now (every protocol).",
    registers: [deps.metrics.registry],
    collect() {
      this.set(listener.connections());
    },
  });
  new Gauge({
    name: "emailauth_gateway_admission_limit",
    help: "Public requests the gateway admits at once now (adaptive; see the README's overload section).",
    registers: [deps.metrics.registry],
    collect() {
      this.set(admission.state().limit);
    },
  });
  new Gauge({
    name: "emailauth_gateway_event_loop_delay_seconds",
    help: "The event-loop delay admission acts on (smoothed mean).",
    registers: [deps.metrics.registry],
    collect() {
      this.set(admission.state().eventLoopDelayMs / 1000);
    },
  });
  return {
    readiness,
    opsRoute,
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
      admission.stop();
    },
  };
}
