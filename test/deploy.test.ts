// The deployment files, checked where Docker cannot run: docker-compose.yml parses, every
// service's environment is one its configuration accepts in production mode (no unknown or
// misspelled variable, nothing required missing), the addresses and ports agree, and the
// Dockerfile builds a non-root image on Node 24.

import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gatewayConfig } from "@emailauth/gateway/config";
import { generateSigningJwk } from "@emailauth/gateway/signing-key";
import { mailerConfig } from "@emailauth/mailer/config";
import { persistenceConfig } from "@emailauth/persistence/config";
import { type ConfigDefinition, loadConfig, MODE_VAR, type Spec } from "@emailauth/platform";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = join(import.meta.dirname, "..");

interface ComposeService {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  restart?: string;
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};

// Values an operator puts in .env: those of .env.example, with each change-me placeholder
// replaced by a random secret as it says (production refuses the placeholders themselves).
const dotenv = Object.fromEntries(
  readFileSync(join(root, ".env.example"), "utf8")
    .split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])
    .map(([k, v]) => [k, v?.startsWith("change-me") ? randomBytes(32).toString("base64") : v]),
);

// Compose's secrets, mounted under /run/secrets/<name> in the containers: made here as the
// README says, so that the configurations can check the files.
const secretFiles = mkdtempSync(join(tmpdir(), "compose-secrets-"));
writeFileSync(join(secretFiles, "jwks"), JSON.stringify({ keys: [generateSigningJwk("k1")] }), {
  mode: 0o600,
});
const inContainer = (value: string) =>
  value.startsWith("/run/secrets/") ? join(secretFiles, value.slice("/run/secrets/".length)) : value;

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}. */
function interpolate(value: string): string {
  return value.replace(
    /\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g,
    (_m, name: string, op?: string, arg?: string) => {
      const v = dotenv[name];
      if (v) return v;
      if (op === "-") return arg ?? "";
      throw new Error(`${name} is not set in .env.example: ${arg}`);
    },
  );
}

const definitions: Record<string, ConfigDefinition<Spec>> = {
  persistence: persistenceConfig as unknown as ConfigDefinition<Spec>,
  mailer: mailerConfig as unknown as ConfigDefinition<Spec>,
  gateway: gatewayConfig as unknown as ConfigDefinition<Spec>,
};

const envOf = (name: string) =>
  Object.fromEntries(
    Object.entries(compose.services[name]?.environment ?? {}).map(([k, v]) => [
      k,
      inContainer(interpolate(String(v))),
    ]),
  );

describe("docker-compose.yml", () => {
  it("runs the three services, Redis with an append-only file, and an SMTP catcher", () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      "gateway",
      "mailer",
      "persistence",
      "redis",
      "smtp",
    ]);
    expect(compose.services.redis?.command).toEqual(expect.arrayContaining(["--appendonly", "yes"]));
    expect(Object.keys(compose.volumes)).toContain("redis-data");
    for (const [name, s] of Object.entries(compose.services)) {
      expect([name, s.restart]).toEqual([name, "unless-stopped"]);
    }
    for (const name of Object.keys(definitions)) {
      expect(compose.services[name]?.command).toEqual(["node", `${name}/src/main.ts`]);
      expect(compose.services[name]?.healthcheck?.test.join(" ")).toContain("/readyz");
    }
  });

  for (const [name, definition] of Object.entries(definitions)) {
    it(`gives ${name} an environment its configuration accepts in production mode`, () => {
      const env = envOf(name);
      const known = new Set([MODE_VAR, ...Object.keys(definition.vars)]);
      expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
      expect(env[MODE_VAR]).toBe("production");
      const config = loadConfig(definition, env);
      expect(config.mode).toBe("production");
    });
  }

  it("points the gateway at the ports persistence and the mailer listen on, and health checks at theirs", () => {
    const p = envOf("persistence");
    const m = envOf("mailer");
    const g = envOf("gateway");
    expect(g.PERSISTENCE_ADDRESSES).toBe(`persistence:${p.PERSISTENCE_PORT}`);
    expect(g.MAILER_ADDRESSES).toBe(`mailer:${m.MAILER_PORT}`);
    expect(compose.services.persistence?.healthcheck?.test.join(" ")).toContain(
      `:${p.PERSISTENCE_OPS_PORT}/readyz`,
    );
    expect(compose.services.mailer?.healthcheck?.test.join(" ")).toContain(`:${m.MAILER_HTTP_PORT}/readyz`);
    expect(compose.services.gateway?.healthcheck?.test.join(" ")).toContain(`:${g.GATEWAY_PORT}/readyz`);
    expect(compose.services.gateway?.depends_on).toMatchObject({
      persistence: { condition: "service_healthy" },
      mailer: { condition: "service_healthy" },
    });
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
  it("builds in stages on Node 24 slim and runs as a non-root user", () => {
    const stages = dockerfile.match(/^FROM .+$/gm) ?? [];
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s).toMatch(/^FROM node:24-[a-z]+-slim/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain("npm ci --omit=dev");
  });

  it("gives npm ci every shipped workspace's package.json (a service's missing one fails npm ci)", () => {
    const { workspaces } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      workspaces: string[];
    };
    // devkit is development only: left out on purpose (test/architecture.test.ts).
    for (const w of workspaces.filter((w) => w !== "devkit")) {
      expect(dockerfile).toContain(`COPY ${w}/package.json ${w}/`);
    }
  });
});
