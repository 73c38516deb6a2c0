// The three services as `npm start` runs them, with embedded defaults (in-memory store,
// in-process queue, the development inbox) on free ports: for tests that need what a newcomer
// or a client app sees, not Redis or an SMTP relay. (startMesh in mesh.ts is the
// production-like one.)
import { readdirSync, readFileSync } from "node:fs";
import type { ServiceProcess } from "@emailauth/devkit";
import { CodeAlphabet, CreateClientAppRequest, PersistenceServiceClient } from "@emailauth/proto/persistence";
import { credentials } from "@grpc/grpc-js";
import { startService } from "./services.ts";

/** Every port `npm start` opens, set to 0 (free ones): this machine runs other tests at once. */
export const FREE_PORTS = {
  GATEWAY_PORT: "0",
  DEMO_PORT: "0",
  PERSISTENCE_PORT: "0",
  PERSISTENCE_OPS_PORT: "0",
  MAILER_PORT: "0",
  MAILER_HTTP_PORT: "0",
  MAILER_DEV_SMTP_PORT: "0",
} as const;

export interface DevMesh {
  readonly persistence: ServiceProcess;
  readonly mailer: ServiceProcess;
  readonly gateway: ServiceProcess;
  readonly gatewayUrl: string;
  readonly inboxUrl: string;
  /** A client app, made through persistence's gRPC API as the admin CLI does. */
  createApp(displayName: string): Promise<{ appId: string; apiKey: string }>;
  stop(): Promise<void>;
}

export async function startDevMesh(options: { gateway?: Record<string, string> } = {}): Promise<DevMesh> {
  const [persistence, mailer] = await Promise.all([
    startService("persistence", { env: { PERSISTENCE_PORT: "0", PERSISTENCE_OPS_PORT: "0" } }),
    startService("mailer", { env: { MAILER_PORT: "0", MAILER_HTTP_PORT: "0", MAILER_DEV_SMTP_PORT: "0" } }),
  ]);
  const gateway = await startService("gateway", {
    env: {
      GATEWAY_PORT: "0",
      PERSISTENCE_ADDRESSES: `127.0.0.1:${persistence.ports.grpcPort}`,
      MAILER_ADDRESSES: `127.0.0.1:${mailer.ports.grpcPort}`,
      ...options.gateway,
    },
  });
  return {
    persistence,
    mailer,
    gateway,
    gatewayUrl: `http://127.0.0.1:${gateway.ports.httpPort}`,
    inboxUrl: `http://127.0.0.1:${mailer.ports.httpPort}/inbox`,
    async createApp(displayName) {
      const client = new PersistenceServiceClient(
        `127.0.0.1:${persistence.ports.grpcPort}`,
        credentials.createInsecure(),
      );
      try {
        return await new Promise((resolve, reject) =>
          client.createClientApp(
            CreateClientAppRequest.fromPartial({
              settings: {
                displayName,
                codeAlphabet: CodeAlphabet.CODE_ALPHABET_DIGITS,
                codeLength: 6,
                codeTtlSeconds: 600,
              },
            }),
            (err, res) =>
              err ? reject(err) : resolve({ appId: res.clientApp?.id ?? "", apiKey: res.apiKey }),
          ),
        );
      } finally {
        client.close();
      }
    },
    async stop() {
      await Promise.all([gateway, mailer, persistence].map((s) => s.stop()));
    },
  };
}

/** PIDs of the processes whose environment carries EMAILAUTH_TEST_MARK=`mark` (Linux: /proc). */
export function processesMarked(mark: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").includes(`EMAILAUTH_TEST_MARK=${mark}`)) {
        pids.push(Number(entry));
      }
    } catch {
      // gone already, or not ours to read
    }
  }
  return pids;
}
