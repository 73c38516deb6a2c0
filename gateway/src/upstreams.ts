// The gateway's long-lived clients to persistence and mailer, and readiness checks on them.
import {
  type Check,
  channelCredentials,
  createGrpcClient,
  createUpstream,
  grpcHealthCheck,
  Histogram,
  MAX_BATCH,
  type Metrics,
  type TlsFiles,
  type Upstream,
  withCoalescing,
} from "@emailauth/platform";
import { MailerServiceClient } from "@emailauth/proto/mailer";
import { PersistenceServiceClient } from "@emailauth/proto/persistence";
import { mailerReasons, persistenceReasons } from "@emailauth/proto/reasons";

export type PersistenceUpstream = Upstream<PersistenceServiceClient>;
export type MailerUpstream = Upstream<MailerServiceClient>;

export interface Upstreams {
  persistence: PersistenceUpstream;
  mailer: MailerUpstream;
  checks: Record<string, Check>;
  /** Whether the upstreams a public method needs can be reached right now. */
  reachableFor(method: string): boolean;
  close(): void;
}

// The hot calls, coalesced into their batch methods when they come together (platform's
// coalescer.ts; the figures are in bench/README.md).
const PERSISTENCE_BATCHES = { issueLoginCode: "issueLoginCodes", consumeLoginCode: "consumeLoginCodes" };
const MAILER_BATCHES = { queueLoginCodeEmail: "queueLoginCodeEmails" };

/** Public methods that need the mailer too (every one needs persistence). */
const NEEDS_MAILER = new Set(["StartLogin", "GetLoginStatus"]);

export async function createUpstreams(deps: {
  persistenceAddresses: readonly string[];
  mailerAddresses: readonly string[];
  tls: TlsFiles | undefined;
  deadlineMs: number;
  /** The most calls coalesced into one batch call (1: none). */
  maxBatch?: number;
  metrics: Metrics;
}): Promise<Upstreams> {
  const credentials = channelCredentials(deps.tls);
  const persistenceClient = await createGrpcClient({
    Client: PersistenceServiceClient,
    addresses: deps.persistenceAddresses,
    credentials,
  });
  const mailerClient = await createGrpcClient({
    Client: MailerServiceClient,
    addresses: deps.mailerAddresses,
    credentials,
  });
  const batchSizes = new Histogram({
    name: "emailauth_upstream_batch_size",
    help: "Requests per call to persistence and the mailer for the coalesced methods (1: a request that went alone).",
    labelNames: ["service", "method"],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [deps.metrics.registry],
  });
  const observeBatch = (service: string) => (method: string, size: number) =>
    batchSizes.observe({ service, method }, size);
  const persistence = withCoalescing(
    createUpstream(persistenceClient, {
      service: "persistence",
      reasons: persistenceReasons,
      metrics: deps.metrics,
      deadlineMs: deps.deadlineMs,
      // Reads, writes idempotent by nature, and writes given the request's idempotency key:
      // retried on UNAVAILABLE (on another replica), within the call's deadline.
      idempotentMethods: [
        "issueLoginCode",
        "consumeLoginCode",
        "refreshSession",
        "cancelLoginCode",
        "authenticateClientApp",
        "getChallenge",
        "getSession",
        "getUser",
        "findUserByEmail",
        "listUserSessions",
        "revokeSession",
        "revokeUserSessions",
        // Every request of a batch carries an idempotency key (the gateway makes one).
        "issueLoginCodes",
        "consumeLoginCodes",
      ],
    }),
    PERSISTENCE_BATCHES,
    {
      deadlineMs: deps.deadlineMs,
      maxBatch: deps.maxBatch ?? MAX_BATCH,
      onSend: observeBatch("persistence"),
    },
  );
  const mailer = withCoalescing(
    createUpstream(mailerClient, {
      service: "mailer",
      reasons: mailerReasons,
      metrics: deps.metrics,
      deadlineMs: deps.deadlineMs,
      // Queueing is idempotent by its idempotency key (the challenge id).
      idempotentMethods: ["queueLoginCodeEmail", "queueLoginCodeEmails", "getDeliveryStatus"],
    }),
    MAILER_BATCHES,
    { deadlineMs: deps.deadlineMs, maxBatch: deps.maxBatch ?? MAX_BATCH, onSend: observeBatch("mailer") },
  );
  return {
    persistence,
    mailer,
    reachableFor: (method) => persistence.reachable() && (!NEEDS_MAILER.has(method) || mailer.reachable()),
    checks: {
      persistence: grpcHealthCheck(persistenceClient, PersistenceServiceClient.serviceName),
      mailer: grpcHealthCheck(mailerClient, MailerServiceClient.serviceName),
    },
    close() {
      persistenceClient.close();
      mailerClient.close();
    },
  };
}
