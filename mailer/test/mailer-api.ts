// What the mailer's tests share: the mailer's entry (to run it as a process), a gRPC client to
// a mailer as the gateway makes it, and a login-code email request with sensible defaults.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { createGrpcClient, createMetrics, createUpstream, type Upstream } from "@emailauth/platform";
import { MailerServiceClient, type QueueLoginCodeEmailRequest } from "@emailauth/proto/mailer";
import { mailerReasons } from "@emailauth/proto/reasons";
import { credentials } from "@grpc/grpc-js";

/** The mailer's main.ts, for devkit's spawnService. */
export const MAILER_MAIN = join(import.meta.dirname, "..", "src", "main.ts");

export interface MailerApi {
  api: Upstream<MailerServiceClient>;
  close(): void;
}

/** A client to the mailer listening on `grpcPort` (loopback, plaintext). */
export async function connectMailer(grpcPort: number | undefined): Promise<MailerApi> {
  if (grpcPort === undefined) throw new Error("the mailer reported no gRPC port");
  const client = await createGrpcClient({
    Client: MailerServiceClient,
    addresses: [`127.0.0.1:${grpcPort}`],
    credentials: credentials.createInsecure(),
  });
  const api = createUpstream(client, {
    service: "mailer",
    reasons: mailerReasons,
    metrics: createMetrics({ service: "test", defaultMetrics: false }),
    deadlineMs: 5_000,
  });
  return { api, close: () => client.close() };
}

/** A QueueLoginCodeEmail request: a fresh idempotency key, ten minutes to live, in English. */
export function loginEmail(overrides: Partial<QueueLoginCodeEmailRequest> = {}): QueueLoginCodeEmailRequest {
  return {
    idempotencyKey: `chl_${randomUUID()}`,
    recipient: `person-${randomUUID().slice(0, 8)}@example.com`,
    code: "482913",
    link: "",
    locale: "en",
    appName: "Shop",
    expiresAt: new Date(Date.now() + 600_000),
    senderAddress: "",
    ...overrides,
  };
}
