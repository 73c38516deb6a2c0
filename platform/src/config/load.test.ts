import { describe, expect, it } from "vitest";
import { ConfigError, defineConfig, loadConfig } from "./load.ts";
import { duration, int, optional, secret, url } from "./vars.ts";

const definition = defineConfig({
  service: "example",
  vars: {
    PORT: int({ default: "8080", min: 0, max: 65535, description: "port" }),
    TIMEOUT: duration({ default: "3s", min: 100, max: 60_000, description: "timeout" }),
    SECRET: secret({ devDefault: "d".repeat(32), description: "a secret" }),
    REDIS_URL: optional(url({ protocols: ["redis"], description: "redis" })),
  },
  check: (c) => (c.mode === "production" && !c.REDIS_URL ? ["REDIS_URL is required in production mode"] : []),
});

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(definition, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies defaults and development defaults", () => {
    const config = loadConfig(definition, {});
    expect(config).toMatchObject({ mode: "development", PORT: 8080, TIMEOUT: 3000, SECRET: "d".repeat(32) });
    expect(config.REDIS_URL).toBeUndefined();
  });

  it("parses durations and integers", () => {
    const config = loadConfig(definition, { PORT: "0", TIMEOUT: "250ms", REDIS_URL: "redis://r:6379" });
    expect(config).toMatchObject({ PORT: 0, TIMEOUT: 250, REDIS_URL: "redis://r:6379" });
  });

  it("names every wrong variable with what it allows, all at once", () => {
    const problems = problemsOf({ PORT: "eighty", TIMEOUT: "5 minutes", REDIS_URL: "http://x" });
    expect(problems).toEqual([
      'PORT="eighty": expected an integer from 0 to 65535',
      'TIMEOUT="5 minutes": expected a duration from 100ms to 1m (e.g. 250ms, 10s, 5m, 12h, 30d)',
      'REDIS_URL="http://x": expected a URL (redis://)',
    ]);
  });

  it("requires development-only defaults in production mode, without echoing secrets", () => {
    const problems = problemsOf({ EMAILAUTH_MODE: "production", REDIS_URL: "redis://r" });
    expect(problems).toEqual([
      "SECRET is required in production mode: a secret (a secret of at least 32 characters)",
    ]);
    const short = problemsOf({ EMAILAUTH_MODE: "production", REDIS_URL: "redis://r", SECRET: "hunter2" });
    expect(short).toEqual(["SECRET=(secret value hidden): expected a secret of at least 32 characters"]);
    expect(short.join()).not.toContain("hunter2");
  });

  it("runs cross-variable checks once every variable is valid", () => {
    expect(problemsOf({ EMAILAUTH_MODE: "production", SECRET: "s".repeat(32) })).toEqual([
      "REDIS_URL is required in production mode",
    ]);
  });

  it("rejects an unknown mode", () => {
    expect(problemsOf({ EMAILAUTH_MODE: "staging" })).toEqual([
      'EMAILAUTH_MODE="staging": expected one of: development, production',
    ]);
  });
});
