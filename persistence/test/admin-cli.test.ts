// The admin CLI as an operator uses it: a separate process talking to a running persistence
// (itself a process, on a real Redis), with readable output, --json for scripts, and exit codes.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type RedisProcess, type ServiceProcess, spawnService, startRedis } from "@emailauth/devkit";
import { createGrpcClient, createMetrics, createUpstream } from "@emailauth/platform";
import { PersistenceServiceClient } from "@emailauth/proto/persistence";
import { persistenceReasons } from "@emailauth/proto/reasons";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** No idempotency key (every field of the request spelled out, as ts-proto wants). */
const NO_KEY = { idempotencyKey: "", requestFingerprint: Buffer.alloc(0), idempotencyKeyGenerated: false };

const run = promisify(execFile);
const cli = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "emailauth-admin");

let redis: RedisProcess;
let persistence: ServiceProcess;
let address: string;

beforeAll(async () => {
  redis = await startRedis();
  persistence = await spawnService(join(import.meta.dirname, "..", "src", "main.ts"), {
    name: "persistence",
    env: { REDIS_URL: redis.url, PERSISTENCE_PORT: "0", PERSISTENCE_OPS_PORT: "0" },
  });
  address = `127.0.0.1:${persistence.ports.grpcPort}`;
});
afterAll(async () => {
  await persistence?.stop();
  await redis?.stop();
});

async function admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cli, ["--persistence", address, ...args], {
      env: { PATH: process.env.PATH },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("emailauth-admin", () => {
  it("creates, lists, rotates, disables, enables and deletes client apps", async () => {
    const created = await admin(
      "apps",
      "create",
      "--name",
      "Shop",
      "--origin",
      "https://shop.example",
      "--json",
    );
    expect(created.code).toBe(0);
    const { clientApp, apiKey } = JSON.parse(created.stdout);
    expect(apiKey).toMatch(/^eak_[a-z2-7]{52}$/);
    expect(clientApp.settings).toMatchObject({
      displayName: "Shop",
      allowedOrigins: ["https://shop.example"],
    });

    const human = await admin("apps", "create", "--name", "Blog", "--alphanumeric", "--code-length", "10");
    expect(human.stdout).toContain("API key (shown once, store it now):");
    expect(human.stdout).toContain("code 10 alphanumeric");

    // Update changes what it is given and keeps the rest.
    const linked = await admin(
      "apps",
      "update",
      clientApp.id,
      "--login-methods",
      "code,link",
      "--link-url",
      "https://shop.example/login/link",
      "--alphanumeric",
    );
    expect(linked.code).toBe(0);
    expect(linked.stdout).toContain("login code, link  link https://shop.example/login/link");
    expect(linked.stdout).toContain("alphanumeric");
    expect(linked.stdout).toContain("origins https://shop.example");
    const back = await admin("apps", "update", clientApp.id, "--digits", "--no-origins", "--json");
    expect(JSON.parse(back.stdout).settings).toMatchObject({
      displayName: "Shop",
      codeAlphabet: 1,
      allowedOrigins: [],
      linkUrl: "https://shop.example/login/link",
    });
    const refused = await admin("apps", "update", clientApp.id, "--login-methods", "link", "--link-url", "");
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining("link_url")]);
    expect((await admin("apps", "update", clientApp.id, "--login-methods", "sms")).code).toBe(2);

    const listed = await admin("apps", "list");
    expect(listed.stdout).toContain(`${clientApp.id}  Shop`);
    expect(listed.stdout).toContain("Blog");

    const rotated = await admin("apps", "rotate-key", clientApp.id, "--grace", "60");
    expect(rotated.stdout).toMatch(/eak_[a-z2-7]{52}/);
    expect(rotated.stdout).toContain("The old key works for 60 more seconds.");

    expect((await admin("apps", "disable", clientApp.id)).stdout).toContain("(disabled)");
    expect((await admin("apps", "enable", clientApp.id)).stdout).not.toContain("(disabled)");
    expect((await admin("apps", "delete", clientApp.id)).stdout).toBe("deleted\n");
    const gone = await admin("apps", "get", clientApp.id);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("CLIENT_APP_NOT_FOUND");
  });

  it("finds users, lists and revokes their sessions, and erases them", async () => {
    // A person who logged in (through persistence's API, as the gateway would).
    const client = await createGrpcClient({
      Client: PersistenceServiceClient,
      addresses: [address],
      credentials: credentials.createInsecure(),
    });
    const api = createUpstream(client, {
      service: "persistence",
      reasons: persistenceReasons,
      metrics: createMetrics({ service: "test", defaultMetrics: false }),
      deadlineMs: 5_000,
    });
    const { clientApp } = JSON.parse((await admin("apps", "create", "--name", "People", "--json")).stdout);
    const email = `cli-${randomUUID().slice(0, 8)}@example.com`;
    const issued = await api.call("issueLoginCode", {
      clientAppId: clientApp.id,
      email,
      endUserIp: "",
      ...NO_KEY,
    });
    const done = await api.call("consumeLoginCode", {
      clientAppId: clientApp.id,
      challengeId: issued.challengeId,
      code: issued.code,
      linkToken: "",
      userAgent: "",
      ...NO_KEY,
    });
    client.close();
    const user = done.user?.id ?? "";
    expect((await admin("users", "find", email)).stdout).toContain(`${user}  ${email}`);
    expect((await admin("sessions", "list", user)).stdout).toContain(done.session?.id);
    expect((await admin("sessions", "revoke-all", user)).stdout).toBe("revoked 1 session(s)\n");
    expect((await admin("users", "delete", user)).stdout).toBe("erased\n");
    expect((await admin("users", "find", email)).code).toBe(1);

    const missing = await admin("users", "find", `nobody-${randomUUID()}@example.com`);
    expect([missing.code, missing.stderr]).toEqual([1, "error: USER_NOT_FOUND: No such user.\n"]);
    const userId = `usr_${"a".repeat(38)}`;
    expect((await admin("sessions", "list", userId)).code).toBe(1);
    expect((await admin("sessions", "revoke-all", userId)).stdout).toBe("revoked 0 session(s)\n");
    expect((await admin("users", "delete", userId)).stdout).toBe("no such user (nothing to erase)\n");
  });

  it("makes signing keys for the gateway", async () => {
    const generated = await admin("keys", "generate", "--kid", "k1");
    const jwks = JSON.parse(generated.stdout);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: "k1", alg: "EdDSA" });
    const file = join(mkdtempSync(join(tmpdir(), "keys-")), "jwks.json");
    writeFileSync(file, generated.stdout);
    expect((await admin("keys", "add", file, "--kid", "k2")).stdout).toContain("JWT_ACTIVE_KID=k2");
    expect(JSON.parse(readFileSync(file, "utf8")).keys.map((k: { kid: string }) => k.kid)).toEqual([
      "k1",
      "k2",
    ]);
    expect((await admin("keys", "add", file, "--kid", "k2")).code).toBe(2);
  });

  it("writes a new key file itself: private, clean JSON, never over an existing one", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "keys-")), "jwks.json");
    expect((await admin("keys", "generate", "--kid", "k9", "--out", file)).stdout).toContain(`wrote ${file}`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8")).keys[0]).toMatchObject({ kid: "k9", crv: "Ed25519" });
    const again = await admin("keys", "generate", "--out", file);
    expect([again.code, again.stderr]).toEqual([
      2,
      `error: ${file} exists (nothing written); to add a key to a key file: keys add ${file}\n`,
    ]);
    expect(JSON.parse(readFileSync(file, "utf8")).keys[0].kid).toBe("k9");
  });

  it("explains bad usage (exit 2), refusals (exit 1) and an unreachable service (exit 69)", async () => {
    const usage = await admin("apps", "frobnicate");
    expect([usage.code, usage.stderr.split("\n")[0]]).toEqual([2, "unknown command: apps frobnicate"]);
    expect((await admin("apps", "create")).stderr).toContain("apps create needs --name");
    const invalid = await admin("apps", "create", "--name", "X", "--code-ttl", "3600");
    expect([invalid.code, invalid.stderr]).toEqual([
      1,
      "error: CLIENT_APP_SETTINGS_INVALID: code_ttl_seconds: 60 to 600\n",
    ]);
    const { code, stderr } = await run(cli, ["--persistence", "127.0.0.1:1", "apps", "list"]).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(code).toBe(69);
    expect(stderr).toContain("is persistence running");
  });
});
