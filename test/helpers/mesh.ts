// The whole mesh for cross-service tests: a real redis-server, a real SMTP server, and each
// service as its own Node process on free ports, configured as an operator would (env vars).

import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  type RedisProcess,
  type ServiceProcess,
  startRedis,
  startSmtpSink,
  waitFor,
} from "@emailauth/devkit";
import type { SmtpCatcher } from "@emailauth/devkit/smtp";
import { generateSigningJwk } from "@emailauth/gateway/signing-key";
import { createGrpcClient, createMetrics, createUpstream, type Upstream } from "@emailauth/platform";
import { CodeAlphabet, type LoginMethod, PersistenceServiceClient } from "@emailauth/proto/persistence";
import { persistenceReasons } from "@emailauth/proto/reasons";
import { credentials } from "@grpc/grpc-js";
import type { JWK } from "jose";
import type { Certificates } from "./certs.ts";
import { startService } from "./services.ts";

export interface MeshOptions {
  /**
   * Where persistence and the mailer keep their state: Redis (the default), or the embedded
   * in-memory store and in-process queue of a first run.
   */
  store?: "redis" | "memory";
  persistenceReplicas?: number;
  /** Fixed ports for services a test restarts (0: any free port). */
  mailerPort?: number;
  env?: {
    persistence?: Record<string, string>;
    mailer?: Record<string, string>;
    gateway?: Record<string, string>;
  };
  /** Private JWKs for the gateway (default: one fresh key). */
  jwks?: JWK[];
  /**
   * Run in production mode: every secret configured, HTTPS at the gateway, mutual TLS
   * between the services with these certificates.
   */
  production?: Certificates;
}

export interface Mesh {
  readonly redis: RedisProcess;
  readonly sink: SmtpCatcher;
  readonly persistence: ServiceProcess[];
  mailer: ServiceProcess;
  gateway: ServiceProcess;
  readonly gatewayUrl: string;
  readonly issuer: string;
  readonly jwksFile: string;
  /** Persistence over gRPC, for what an operator does (create client apps). */
  readonly admin: Upstream<PersistenceServiceClient>;
  createApp(settings?: {
    displayName?: string;
    allowedOrigins?: string[];
    loginMethods?: LoginMethod[];
    /** 60 to 600; 600 when not given. */
    codeTtlSeconds?: number;
    linkUrl?: string;
  }): Promise<{ appId: string; apiKey: string }>;
  /** The code in the newest email to this address. */
  codeFor(recipient: string, after?: number): Promise<string>;
  /** Stops the mailer (if running) and starts a new one on the same port. */
  startMailer(): Promise<ServiceProcess>;
  /** Stops the gateway and starts a new one on the same port, with extra environment. */
  startGateway(env?: Record<string, string>): Promise<ServiceProcess>;
  /** Every line every service process printed. */
  allLogs(): string;
  stop(): Promise<void>;
}

export async function startMesh(options: MeshOptions = {}): Promise<Mesh> {
  const [redis, sink] = await Promise.all([startRedis(), startSmtpSink()]);
  const dir = mkdtempSync(join(tmpdir(), "emailauth-mesh-"));
  const jwksFile = join(dir, "jwks.json");
  writeFileSync(jwksFile, JSON.stringify({ keys: options.jwks ?? [generateSigningJwk("test-key-1")] }));
  const retired: ServiceProcess[] = [];
  const tls = options.production;
  const mtls: Record<string, string> = tls
    ? {
        EMAILAUTH_MODE: "production",
        GRPC_TLS_CERT_FILE: tls.certFile,
        GRPC_TLS_KEY_FILE: tls.keyFile,
        GRPC_TLS_CA_FILE: tls.caFile,
      }
    : {};
  const productionPersistence: Record<string, string> = tls
    ? {
        PERSISTENCE_PEPPER: randomBytes(32).toString("base64url"),
        PERSISTENCE_CODE_SECRETS: randomBytes(32).toString("base64url"),
      }
    : {};
  const productionMailer: Record<string, string> = tls
    ? { MAILER_QUEUE_KEYS: randomBytes(32).toString("base64url") }
    : {};

  const redisUrl: Record<string, string> = options.store === "memory" ? {} : { REDIS_URL: redis.url };
  const persistence = await Promise.all(
    Array.from({ length: options.persistenceReplicas ?? 1 }, () =>
      startService("persistence", {
        env: {
          ...redisUrl,
          PERSISTENCE_PORT: "0",
          PERSISTENCE_OPS_PORT: "0",
          ...mtls,
          ...productionPersistence,
          ...options.env?.persistence,
        },
      }),
    ),
  );
  const mailerPort = options.mailerPort ?? (await freePort());
  const startMailer = () =>
    startService("mailer", {
      env: {
        ...redisUrl,
        SMTP_URL: `smtp://127.0.0.1:${sink.port}?ignoreTLS=true`,
        MAILER_PORT: String(mailerPort),
        MAILER_HTTP_PORT: "0",
        MAILER_RETRY_BASE: "200ms",
        MAILER_FROM: "Sign-in <no-reply@auth.example.com>",
        ...mtls,
        ...productionMailer,
        ...options.env?.mailer,
      },
    });
  const mailer = await startMailer();
  const gatewayPort = await freePort();
  const issuer = `${tls ? "https" : "http"}://127.0.0.1:${gatewayPort}`;
  const startGateway = (env: Record<string, string> = {}) =>
    startService("gateway", {
      env: {
        // Eight processes and a test runner on two cores delay every event loop: that is the
        // test machine, not a gateway to shed load from (the edge tests set their own bound).
        ADMISSION_MAX_EVENT_LOOP_DELAY: "1s",
        GATEWAY_PORT: String(gatewayPort),
        PERSISTENCE_ADDRESSES: persistence.map((p) => `127.0.0.1:${p.ports.grpcPort}`).join(","),
        MAILER_ADDRESSES: `127.0.0.1:${mailerPort}`,
        JWT_ISSUER: issuer,
        JWT_PRIVATE_JWKS_FILE: jwksFile,
        ...mtls,
        ...(tls && { GATEWAY_TLS_CERT_FILE: tls.certFile, GATEWAY_TLS_KEY_FILE: tls.keyFile }),
        // Production serves /metrics on an operations port (9100 unless set): any free one.
        ...(tls && { GATEWAY_OPS_PORT: "0" }),
        ...options.env?.gateway,
        ...env,
      },
    });
  const gateway = await startGateway();

  const client = await createGrpcClient({
    Client: PersistenceServiceClient,
    addresses: [`127.0.0.1:${persistence[0]?.ports.grpcPort}`],
    credentials: tls
      ? credentials.createSsl(tls.ca, readFileSync(tls.keyFile), readFileSync(tls.certFile))
      : credentials.createInsecure(),
  });
  const admin = createUpstream(client, {
    service: "persistence",
    reasons: persistenceReasons,
    metrics: createMetrics({ service: "test", defaultMetrics: false }),
    deadlineMs: 5_000,
  });

  const mesh: Mesh = {
    redis,
    sink,
    persistence,
    mailer,
    gateway,
    gatewayUrl: issuer,
    issuer,
    jwksFile,
    admin,
    async createApp(settings = {}) {
      const created = await admin.call("createClientApp", {
        settings: {
          displayName: settings.displayName ?? "Test Shop",
          senderAddress: "",
          codeAlphabet: CodeAlphabet.CODE_ALPHABET_DIGITS,
          codeLength: 6,
          codeTtlSeconds: settings.codeTtlSeconds ?? 600,
          allowedOrigins: settings.allowedOrigins ?? [],
          sendsPerMinute: 0,
          loginMethods: settings.loginMethods ?? [],
          linkUrl: settings.linkUrl ?? "",
        },
      });
      return { appId: created.clientApp?.id ?? "", apiKey: created.apiKey };
    },
    async codeFor(recipient, after = 0) {
      const message = await sink.waitForMessage((m) => m.seq > after && m.to.includes(recipient));
      const code = /\b(\d{6})\b/.exec(message.parsed.text ?? "")?.[1];
      if (!code) throw new Error("no code in the email");
      return code;
    },
    async startMailer() {
      retired.push(mesh.mailer);
      await mesh.mailer.stop();
      mesh.mailer = await startMailer();
      return mesh.mailer;
    },
    async startGateway(env) {
      retired.push(mesh.gateway);
      await mesh.gateway.stop();
      mesh.gateway = await startGateway(env);
      return mesh.gateway;
    },
    allLogs() {
      return [...persistence, mesh.mailer, mesh.gateway, ...retired].map((p) => p.logs.text()).join("\n");
    },
    async stop() {
      client.close();
      await Promise.all([...persistence, mesh.mailer, mesh.gateway, ...retired].map((p) => p.stop()));
      await Promise.all([sink.close(), redis.stop()]);
    },
  };
  return mesh;
}

/** A Connect JSON call, as `curl -d` would make it. */
export async function postJson(
  baseUrl: string,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/emailauth.auth.v1.AuthService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** The reason of a Connect JSON error body. */
export function reasonOf(body: Record<string, unknown>): string | undefined {
  const details = body.details as { type: string; debug?: { reason?: string } }[] | undefined;
  return details?.find((d) => d.type === "emailauth.common.v1.ErrorDetail")?.debug?.reason;
}

/** Resolves when the service whose metrics are at `metricsUrl` has `n` requests in flight. */
export async function whenInFlight(metricsUrl: string, n: number): Promise<void> {
  await waitFor(`${n} requests in flight at ${metricsUrl}`, async () => {
    const text = await (await fetch(metricsUrl)).text();
    return Number(/^emailauth_requests_in_flight\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0) >= n;
  });
}
