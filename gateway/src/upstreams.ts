// The gateway's long-lived clients to persistence and mailer, and readiness checks on them.
import {
  type Check,
  channelCredentials,
  createGrpcClient,
  createUpstream,
  grpcHealthCheck,
  type Metrics,
  type TlsFiles,
  type Upstream,
} from "@emailauth/platform";
import { MailerServiceClient } from "@emailauth/proto/mailer";
import { PersistenceServiceClient } from "@emailauth/proto/persistence";

export type PersistenceUpstream = Upstream<PersistenceServiceClient>;
export type MailerUpstream = Upstream<MailerServiceClient>;

export interface Upstreams {
  persistence: PersistenceUpstream;
  mailer: MailerUpstream;
  checks: Record<string, Check>;
  close(): void;
}

export async function createUpstreams(deps: {
  persistenceAddresses: readonly string[];
  mailerAddresses: readonly string[];
  tls: TlsFiles | undefined;
  deadlineMs: number;
  metrics: Metrics;
}): Promise<Upstreams> {
  const credentials = channelCredentials(deps.tls);
  const persistenceClient = await createGrpcClient({
    Client: PersistenceServiceClient,
    serviceName: PersistenceServiceClient.serviceName,
    addresses: deps.persistenceAddresses,
    credentials,
    // Reads, writes that are idempotent by nature, and those given an idempotency key: retried
    // on UNAVAILABLE (another replica), within the call's deadline.
    idempotentMethods: [
      "IssueLoginCode",
      "ConsumeLoginCode",
      "RefreshSession",
      "CancelLoginCode",
      "AuthenticateClientApp",
      "GetChallenge",
      "GetSession",
      "GetUser",
      "FindUserByEmail",
      "ListUserSessions",
      "RevokeSession",
      "RevokeUserSessions",
    ],
  });
  const mailerClient = await createGrpcClient({
    Client: MailerServiceClient,
    serviceName: MailerServiceClient.serviceName,
    addresses: deps.mailerAddresses,
    credentials,
    // Queueing is idempotent by its idempotency key.
    idempotentMethods: ["QueueLoginCodeEmail", "GetDeliveryStatus"],
  });
  return {
    persistence: createUpstream(persistenceClient, {
      service: "persistence",
      metrics: deps.metrics,
      deadlineMs: deps.deadlineMs,
    }),
    mailer: createUpstream(mailerClient, {
      service: "mailer",
      metrics: deps.metrics,
      deadlineMs: deps.deadlineMs,
    }),
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
