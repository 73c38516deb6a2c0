// The gateway's composition root: the only file that reads the environment and listens.
import {
  createHttpServer,
  createLogger,
  createMetrics,
  loadConfig,
  loadOrExit,
  runService,
  startTracing,
  tlsFilesFrom,
} from "@emailauth/platform";
import { audit } from "./audit.ts";
import { createAuthService } from "./auth/auth-service.ts";
import { createClientAppAuthenticator } from "./auth/client-app-auth.ts";
import { gatewayConfig } from "./config.ts";
import { createGatewayServer } from "./server.ts";
import { createKeySet, readJwksFile } from "./tokens/key-set.ts";
import { generateSigningJwk } from "./tokens/signing-key.ts";
import { createUpstreams } from "./upstreams.ts";

const config = loadOrExit(() => loadConfig(gatewayConfig, process.env));
const logger = createLogger({ service: "gateway", level: config.LOG_LEVEL });
// Off unless the OTEL_* variables ask for it (see platform/src/tracing/tracing.ts).
const tracer = startTracing("gateway", process.env, { edge: true });
// Production always has an operations port (metrics off the public one); development has one
// only when asked.
const opsPort = config.GATEWAY_OPS_PORT ?? (config.mode === "production" ? 9100 : undefined);

await runService({
  logger,
  async start() {
    const metrics = createMetrics({ service: "gateway" });
    let privateJwks = config.JWT_PRIVATE_JWKS_FILE ? readJwksFile(config.JWT_PRIVATE_JWKS_FILE) : undefined;
    if (!privateJwks) {
      logger.warn(
        "no JWT_PRIVATE_JWKS_FILE: signing with an ephemeral key; tokens stop verifying when the gateway restarts",
      );
      privateJwks = [generateSigningJwk("dev-ephemeral")];
    }
    const keys = await createKeySet(privateJwks, config.JWT_ACTIVE_KID, {
      issuer: config.JWT_ISSUER,
      ttlMs: config.ACCESS_TOKEN_TTL,
    });
    audit(logger, "signing_keys.loaded", {
      activeKid: keys.activeKid,
      kids: keys.jwks().keys.map((k) => k.kid ?? ""),
    });
    const upstreams = await createUpstreams({
      persistenceAddresses: config.PERSISTENCE_ADDRESSES,
      mailerAddresses: config.MAILER_ADDRESSES,
      tls: tlsFilesFrom(config),
      deadlineMs: config.UPSTREAM_TIMEOUT,
      maxBatch: config.UPSTREAM_BATCH_MAX,
      metrics,
    });
    const server = createGatewayServer({
      logger,
      metrics,
      auth: createAuthService({ persistence: upstreams.persistence, mailer: upstreams.mailer, keys, logger }),
      authenticator: createClientAppAuthenticator({
        persistence: upstreams.persistence,
        ttlMs: config.API_KEY_CACHE_TTL,
        failuresPerMinute: config.API_KEY_FAILURES_PER_MINUTE,
      }),
      keys,
      apiReferencePage: config.mode === "development",
      publicMetrics: opsPort === undefined,
      checks: upstreams.checks,
      maxRequestBytes: config.MAX_REQUEST_BYTES,
      requestTimeoutMs: config.REQUEST_TIMEOUT,
      maxInFlight: config.MAX_IN_FLIGHT,
      admissionTargetLatencyMs: config.ADMISSION_TARGET_LATENCY,
      admissionMaxEventLoopDelayMs: config.ADMISSION_MAX_EVENT_LOOP_DELAY,
      keepAliveTimeoutMs: config.KEEP_ALIVE_TIMEOUT,
      http2IdleTimeoutMs: config.HTTP2_IDLE_TIMEOUT,
      maxConnections: config.MAX_CONNECTIONS,
      maxConnectionsPerAddress: config.MAX_CONNECTIONS_PER_ADDRESS,
      upstreamsReachable: upstreams.reachableFor,
      appRequestsPerSecond: config.APP_REQUESTS_PER_SECOND,
      trustedProxies: config.TRUSTED_PROXIES ?? [],
      ...(config.GATEWAY_TLS_CERT_FILE &&
        config.GATEWAY_TLS_KEY_FILE && {
          tls: { certFile: config.GATEWAY_TLS_CERT_FILE, keyFile: config.GATEWAY_TLS_KEY_FILE },
        }),
    });
    const port = await server.listen(config.GATEWAY_HOST, config.GATEWAY_PORT);
    const ops = opsPort === undefined ? undefined : createHttpServer({ routes: [server.opsRoute], logger });
    const boundOpsPort = await ops?.listen(config.GATEWAY_HOST, opsPort as number);
    logger.info(
      {
        httpPort: port,
        ...(boundOpsPort !== undefined && { opsPort: boundOpsPort }),
        mode: config.mode,
        tls: Boolean(config.GATEWAY_TLS_CERT_FILE),
        kid: keys.activeKid,
      },
      "listening",
    );
    return {
      async stop() {
        await server.stop(10_000);
        await ops?.close();
        upstreams.close();
        await tracer.shutdown();
      },
    };
  },
});
