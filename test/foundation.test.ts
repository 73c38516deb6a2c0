// The foundation as an operator meets it: each service started as its own process, listed and
// health-checked with `buf curl` through server reflection, and refusing to start when
// misconfigured.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bufCurl, listServices } from "./helpers/buf-curl.ts";
import { type DevMesh, startDevMesh } from "./helpers/dev-mesh.ts";
import { startService } from "./helpers/services.ts";

const root = join(import.meta.dirname, "..");

describe("the three services", () => {
  let dev: DevMesh;
  beforeAll(async () => {
    dev = await startDevMesh();
  });
  afterAll(async () => {
    await dev?.stop();
  });

  const health = ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"];

  it("persistence lists its service, health and reflection, and is SERVING", async () => {
    const port = dev.persistence.ports.grpcPort as number;
    expect(await listServices(port)).toEqual(["emailauth.persistence.v1.PersistenceService", ...health]);
    const check = await bufCurl([`http://127.0.0.1:${port}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(check.stdout)).toEqual({ status: "SERVING" });
  });

  it("mailer lists its service, health and reflection, and is SERVING", async () => {
    const port = dev.mailer.ports.grpcPort as number;
    expect(await listServices(port)).toEqual(["emailauth.mailer.v1.MailerService", ...health]);
    const check = await bufCurl([`http://127.0.0.1:${port}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(check.stdout)).toEqual({ status: "SERVING" });
  });

  it("the gateway lists the public service, health and reflection, and is SERVING", async () => {
    const port = dev.gateway.ports.httpPort as number;
    expect(await listServices(port)).toEqual(["emailauth.auth.v1.AuthService", ...health]);
    const check = await bufCurl([`http://127.0.0.1:${port}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(check.stdout)).toEqual({ status: "SERVING" });
  });

  it("describes every method through reflection, so buf curl can call them", async () => {
    const port = dev.persistence.ports.grpcPort as number;
    const { stdout } = await bufCurl(["--list-methods", `http://127.0.0.1:${port}`]);
    expect(stdout).toContain("emailauth.persistence.v1.PersistenceService/IssueLoginCode");
    expect(stdout).toContain("emailauth.persistence.v1.PersistenceService/ConsumeLoginCode");
  });
});

describe("a misconfigured service", () => {
  it("refuses to start and names the variable and what it allows", async () => {
    const p = await startService("persistence", { env: { PERSISTENCE_PORT: "eighty" }, expectExit: true });
    expect((await p.exited).code).toBe(78);
    expect(p.logs.text()).toContain('PERSISTENCE_PORT="eighty": expected an integer from 0 to 65535');
  });

  it("names what production mode requires and development mode does not", async () => {
    const p = await startService("persistence", { env: { EMAILAUTH_MODE: "production" }, expectExit: true });
    expect((await p.exited).code).toBe(78);
    const text = p.logs.text();
    expect(text).toContain("PERSISTENCE_PEPPER is required in production mode");
    expect(text).toContain("PERSISTENCE_CODE_SECRETS is required in production mode");
  });

  it("refuses production mode without what production requires, every problem in one round", async () => {
    const p = await startService("gateway", { env: { EMAILAUTH_MODE: "production" }, expectExit: true });
    expect((await p.exited).code).toBe(78);
    const text = p.logs.text();
    expect(text).toContain("JWT_ISSUER is required in production mode");
    expect(text).toContain("JWT_PRIVATE_JWKS_FILE is required in production mode");
    expect(text).toContain("GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE are required in production mode");
    expect(text).toContain(
      "GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE are required in production mode",
    );
  });

  it("refuses the placeholder secrets of .env.example, and says how to make real ones", async () => {
    const example = Object.fromEntries(
      readFileSync(join(root, ".env.example"), "utf8")
        .split("\n")
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    const env = {
      EMAILAUTH_MODE: "production",
      GRPC_ALLOW_PLAINTEXT: "true",
      REDIS_URL: "redis://127.0.0.1:1",
    };
    const [persistence, mailer] = await Promise.all([
      startService("persistence", { env: { ...env, ...example }, expectExit: true }),
      startService("mailer", { env: { ...env, ...example, MAILER_FROM: "a@b.example" }, expectExit: true }),
    ]);
    expect((await persistence.exited).code).toBe(78);
    expect((await mailer.exited).code).toBe(78);
    for (const [service, name] of [
      [persistence, "PERSISTENCE_PEPPER"],
      [persistence, "PERSISTENCE_CODE_SECRETS"],
      [mailer, "MAILER_QUEUE_KEYS"],
    ] as const) {
      expect(service.logs.text()).toContain(`${name} looks like a placeholder`);
      expect(service.logs.text()).toContain("openssl rand -base64 32");
      expect(service.logs.text()).not.toContain(example[name]);
    }
  });

  it("reads the key file at start-up and says when it is not a JWKS (npm's banner in it)", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "jwks-")), "jwks.json");
    writeFileSync(
      file,
      '\n> @emailauth/mesh@1.0.0 admin\n> node persistence/src/cli/admin.ts keys generate\n\n{"keys": []}\n',
    );
    const p = await startService("gateway", {
      env: { JWT_PRIVATE_JWKS_FILE: file, GATEWAY_PORT: "eighty" },
      expectExit: true,
    });
    expect((await p.exited).code).toBe(78);
    expect(p.logs.text()).toContain('GATEWAY_PORT="eighty"');
    expect(p.logs.text()).toContain(
      `JWT_PRIVATE_JWKS_FILE: ${file} is not JSON (it starts with npm's banner lines); remove it and make it again with: npx emailauth-admin keys generate --out ${file}`,
    );
  });
});
