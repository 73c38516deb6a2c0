// The mesh as other teams' gRPC code meets it, with nothing of ours in between:
// - an internal service that loads proto/ with @grpc/proto-loader (the include paths the README
//   gives) and calls persistence and the mailer with plain grpc-js, decoding an error's stable
//   reason from the grpc-status-details-bin trailer with the shipped google/rpc/status.proto;
// - the generated ts-proto clients, given partial requests through fromPartial;
// - a grpc-js client of the gateway, which reads error messages as written (not %2C);
// - grpcurl-era tools: reflection v1alpha as well as v1 on all three services.

import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceProcess } from "@emailauth/devkit";
import { ListClientAppsRequest, PersistenceServiceClient } from "@emailauth/proto/persistence";
import { credentials, loadPackageDefinition, Metadata, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bufCurl } from "./helpers/buf-curl.ts";
import { type DevMesh, startDevMesh } from "./helpers/dev-mesh.ts";

const root = join(import.meta.dirname, "..");
// What the README tells a proto-loader user: our protos and the vendored ones they import.
const includeDirs = [join(root, "proto"), join(root, "proto", "vendor")];

let dev: DevMesh;
let persistence: ServiceProcess;
let mailer: ServiceProcess;
let gateway: ServiceProcess;

beforeAll(async () => {
  dev = await startDevMesh();
  ({ persistence, mailer, gateway } = dev);
});
afterAll(async () => {
  await dev?.stop();
});

type Unary = (
  req: object,
  md: Metadata,
  cb: (err: ServiceError | null, res: Record<string, unknown>) => void,
) => void;
type GenericClient = Record<string, Unary> & { close(): void };

const call = (client: GenericClient, method: string, req: object, md = new Metadata()) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    client[method]?.bind(client)(req, md, (err, res) => (err ? reject(err) : resolve(res)));
  });

const callError = async (client: GenericClient, method: string, req: object, md?: Metadata) => {
  try {
    await call(client, method, req, md);
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error(`${method} succeeded`);
};

/** How the README says to read an error's reason with protobufjs: Status, then ErrorDetail. */
function reasonOf(err: ServiceError): string {
  const types = new protobuf.Root();
  types.resolvePath = (_origin, target) =>
    includeDirs.map((d) => join(d, target)).find((p) => existsSync(p)) ?? target;
  types.loadSync(["google/rpc/status.proto", "emailauth/common/v1/error_detail.proto"]);
  const [bin] = err.metadata.get("grpc-status-details-bin");
  const status = types.lookupType("google.rpc.Status").decode(bin as Buffer) as unknown as {
    details: { type_url: string; value: Uint8Array }[];
  };
  const detail = status.details.find((d) => d.type_url.endsWith("/emailauth.common.v1.ErrorDetail"));
  if (!detail) throw new Error("no ErrorDetail in the status");
  return (
    types.lookupType("emailauth.common.v1.ErrorDetail").decode(detail.value) as unknown as { reason: string }
  ).reason;
}

function loadClients(files: string[]) {
  const definition = loadSync(files, {
    includeDirs,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return loadPackageDefinition(definition) as unknown as {
    emailauth: {
      persistence: { v1: { PersistenceService: new (address: string, creds: unknown) => GenericClient } };
      mailer: { v1: { MailerService: new (address: string, creds: unknown) => GenericClient } };
      auth: { v1: { AuthService: new (address: string, creds: unknown) => GenericClient } };
    };
  };
}

describe("@grpc/proto-loader and plain grpc-js", () => {
  it("calls persistence and the mailer, and reads an error's reason from the trailer", async () => {
    const pkg = loadClients([
      "emailauth/persistence/v1/persistence.proto",
      "emailauth/mailer/v1/mailer.proto",
    ]);
    const insecure = credentials.createInsecure();
    const p = new pkg.emailauth.persistence.v1.PersistenceService(
      `127.0.0.1:${persistence.ports.grpcPort}`,
      insecure,
    );
    const m = new pkg.emailauth.mailer.v1.MailerService(`127.0.0.1:${mailer.ports.grpcPort}`, insecure);
    try {
      const created = await call(p, "CreateClientApp", {
        settings: {
          displayName: "Proto-loader app",
          codeAlphabet: "CODE_ALPHABET_DIGITS",
          codeLength: 6,
          codeTtlSeconds: 600,
        },
      });
      expect(created.apiKey).toMatch(/^eak_/);
      const listed = (await call(p, "ListClientApps", {})) as {
        clientApps: { settings: { displayName: string } }[];
      };
      expect(listed.clientApps.map((a) => a.settings.displayName)).toContain("Proto-loader app");

      const queued = await call(m, "QueueLoginCodeEmail", {
        idempotencyKey: `chl_${randomUUID().replaceAll("-", "").slice(0, 26)}`,
        recipient: "proto-loader@example.com",
        code: "246810",
        locale: "en",
        appName: "Proto-loader app",
        expiresAt: { seconds: String(Math.floor(Date.now() / 1000) + 600), nanos: 0 },
      });
      expect(queued.messageId).toEqual(expect.any(String));

      const err = await callError(p, "FindUserByEmail", { email: "not an address" });
      expect(err.code).toBe(3); // INVALID_ARGUMENT
      expect(reasonOf(err)).toBe("EMAIL_INVALID");
    } finally {
      p.close();
      m.close();
    }
  });

  it("reads the gateway's error messages as written (spec percent-encoding, not %2C)", async () => {
    const pkg = loadClients(["emailauth/auth/v1/auth.proto", "emailauth/persistence/v1/persistence.proto"]);
    const p = new pkg.emailauth.persistence.v1.PersistenceService(
      `127.0.0.1:${persistence.ports.grpcPort}`,
      credentials.createInsecure(),
    );
    const { apiKey } = (await call(p, "CreateClientApp", {
      settings: {
        displayName: "Gateway caller",
        codeAlphabet: "CODE_ALPHABET_DIGITS",
        codeLength: 6,
        codeTtlSeconds: 600,
      },
    })) as { apiKey: string };
    p.close();
    const g = new pkg.emailauth.auth.v1.AuthService(
      `127.0.0.1:${gateway.ports.httpPort}`,
      credentials.createInsecure(),
    );
    try {
      const md = new Metadata();
      md.set("authorization", "Bearer eak_unknown");
      const err = await callError(g, "StartLogin", { email: "jane@example.com" }, md);
      expect(err.code).toBe(16); // UNAUTHENTICATED
      expect(err.details).toBe("The API key is missing, unknown or revoked.");
      expect(reasonOf(err)).toBe("API_KEY_INVALID");
      // A message with the characters decodeURI leaves escaped (":", ",", "/") and non-ASCII.
      const app = new Metadata();
      app.set("authorization", `Bearer ${apiKey}`);
      const bad = await callError(g, "StartLogin", { email: "ä, b/c:d" }, app);
      expect(bad.code).toBe(3);
      expect(bad.details).toContain(": ");
      expect(bad.details).not.toMatch(/%[0-9A-F]{2}/);
    } finally {
      g.close();
    }
  });
});

describe("the generated ts-proto clients", () => {
  it("take partial requests through fromPartial", async () => {
    const client = new PersistenceServiceClient(
      `127.0.0.1:${persistence.ports.grpcPort}`,
      credentials.createInsecure(),
    );
    try {
      const listed = await new Promise<{ clientApps: unknown[] }>((resolve, reject) =>
        client.listClientApps(ListClientAppsRequest.fromPartial({}), (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      );
      expect(Array.isArray(listed.clientApps)).toBe(true);
    } finally {
      client.close();
    }
  });
});

describe("the contracts without Node", () => {
  it("buf build works from the protos and buf.yaml alone (no node_modules)", () => {
    const dir = mkdtempSync(join(tmpdir(), "contracts-"));
    try {
      cpSync(join(root, "buf.yaml"), join(dir, "buf.yaml"));
      cpSync(join(root, "proto"), join(dir, "proto"), {
        recursive: true,
        filter: (p) => !p.includes("/gen/"),
      });
      const out = join(dir, "image.binpb");
      execFileSync(join(root, "node_modules", ".bin", "buf"), ["build", "-o", out], {
        cwd: dir,
        stdio: "pipe",
      });
      expect(existsSync(out)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("server reflection, v1 and v1alpha", () => {
  it("lists every service's services in both protocols", async () => {
    for (const [service, port] of [
      ["persistence", persistence.ports.grpcPort],
      ["mailer", mailer.ports.grpcPort],
      ["gateway", gateway.ports.httpPort],
    ] as const) {
      for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
        const { stdout, stderr, code } = await bufCurl([
          "--reflect-protocol",
          protocol,
          "--list-services",
          `http://127.0.0.1:${port}`,
        ]);
        expect({ service, protocol, code, stderr }).toEqual({ service, protocol, code: 0, stderr: "" });
        expect(stdout).toContain("grpc.health.v1.Health");
      }
    }
  });
});
