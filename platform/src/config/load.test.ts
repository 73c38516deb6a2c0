import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, defineConfig, loadConfig } from "./load.ts";
import { weakSecretReason } from "./secret-strength.ts";
import { dirPath, duration, filePath, int, optional, redisUrl, secret, secretList, url } from "./vars.ts";

const random = () => randomBytes(32).toString("base64url");

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
      "SECRET is required in production mode: a secret (a secret of at least 32 random characters)",
    ]);
    const short = problemsOf({ EMAILAUTH_MODE: "production", REDIS_URL: "redis://r", SECRET: "hunter2" });
    expect(short).toEqual([
      "SECRET=(secret value hidden): expected a secret of at least 32 random characters",
    ]);
    expect(short.join()).not.toContain("hunter2");
  });

  it("reports the variables' problems and the cross-variable ones in one round", () => {
    expect(problemsOf({ EMAILAUTH_MODE: "production", PORT: "eighty", SECRET: random() })).toEqual([
      'PORT="eighty": expected an integer from 0 to 65535',
      "REDIS_URL is required in production mode",
    ]);
  });

  it("does not add a cross-variable problem about a variable it already refused", () => {
    expect(problemsOf({ EMAILAUTH_MODE: "production", REDIS_URL: "http://x", SECRET: random() })).toEqual([
      'REDIS_URL="http://x": expected a URL (redis://)',
    ]);
  });

  it("refuses placeholder and low-randomness secrets in production, says how to make one, echoes none", () => {
    const placeholder = "change-me-to-32-or-more-random-characters-0000";
    const typed = "pepper-pepper-pepper-pepper-pepper-01";
    for (const value of [placeholder, typed, "a".repeat(40)]) {
      const problems = problemsOf({ EMAILAUTH_MODE: "production", REDIS_URL: "redis://r", SECRET: value });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^SECRET (looks like a placeholder|has too little randomness)/);
      expect(problems[0]).toContain("openssl rand -base64 32");
      expect(problems[0]).not.toContain(value);
    }
    // Development mode takes what it is given (its embedded default is a placeholder too).
    expect(loadConfig(definition, { SECRET: placeholder }).SECRET).toBe(placeholder);
  });

  it("names which secret of a list is weak", () => {
    const list = defineConfig({ service: "x", vars: { KEYS: secretList({ description: "keys" }) } });
    try {
      loadConfig(list, { EMAILAUTH_MODE: "production", KEYS: `${random()},${"b".repeat(32)}` });
      throw new Error("expected a ConfigError");
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        expect.stringMatching(/^KEYS \(secret 2 of 2\) has too little randomness/),
      ]);
    }
  });

  it("says which entries of a secret list are wrong, without their values", () => {
    const list = defineConfig({ service: "x", vars: { KEYS: secretList({ description: "keys" }) } });
    const good = random();
    for (const [raw, why] of [
      [`${good}, short,,${random()}`, "secret 2 of 4, 3 of 4: 32 to 4096 characters"],
      [`${good},${good}`, "secret 2 repeats an earlier one"],
    ] as const) {
      try {
        loadConfig(list, { KEYS: raw });
        throw new Error("expected a ConfigError");
      } catch (err) {
        expect((err as ConfigError).problems[0]).toContain(why);
        expect((err as ConfigError).problems[0]).not.toContain(good);
      }
    }
  });

  it("passes every output of a random generator, refuses repeated words", () => {
    for (let i = 0; i < 2_000; i++) {
      expect(weakSecretReason(randomBytes(16).toString("hex"))).toBeUndefined();
      expect(weakSecretReason(randomBytes(24).toString("base64"))).toBeUndefined();
    }
    expect(weakSecretReason("bench-code-secret-bench-code-secret-0001")).toBeDefined();
    expect(weakSecretReason("abcabcabcabcabcabcabcabcabcabcabc")).toBeDefined();
  });

  it("checks that a file path names a readable file", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    const file = join(dir, "key.pem");
    writeFileSync(file, "x");
    const spec = defineConfig({ service: "x", vars: { KEY_FILE: filePath({ description: "a key" }) } });
    expect(loadConfig(spec, { KEY_FILE: file }).KEY_FILE).toBe(file);
    const problem = (path: string) => {
      try {
        loadConfig(spec, { KEY_FILE: path });
      } catch (err) {
        return (err as ConfigError).problems[0];
      }
      return undefined;
    };
    expect(problem(join(dir, "missing.pem"))).toContain(
      "expected the path of a readable file (no such file)",
    );
    expect(problem(dir)).toContain("(not a file)");
    if (process.getuid?.() !== 0) {
      chmodSync(file, 0o000);
      expect(problem(file)).toContain("(not readable by this process)");
    }
  });

  it("checks that a folder path names a readable folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    const spec = defineConfig({ service: "x", vars: { DIR: dirPath({ description: "a folder" }) } });
    expect(loadConfig(spec, { DIR: dir }).DIR).toBe(dir);
    const file = join(dir, "f");
    writeFileSync(file, "x");
    expect(() => loadConfig(spec, { DIR: file })).toThrow(
      "expected the path of a readable folder (not a folder)",
    );
  });

  it("never echoes a part of a secret URL in its error (a password with a slash)", () => {
    const spec = defineConfig({ service: "x", vars: { REDIS_URL: redisUrl({ description: "redis" }) } });
    for (const raw of ["redis://:S3cretPassw0rd@", "redis://:ab/cdSECRET+x=@redis:6379"]) {
      try {
        loadConfig(spec, { REDIS_URL: raw });
        throw new Error("expected a ConfigError");
      } catch (err) {
        const text = (err as ConfigError).message;
        expect(text).toContain("REDIS_URL=(secret value hidden)");
        expect(text).not.toMatch(/S3cret|SECRET|:ab/);
      }
    }
  });

  it("refuses white space, words, typed runs and encoded text as production secrets", () => {
    const cases = {
      [`${random()}\n`]: "contains white space",
      "0123456789abcdefghijklmnopqrstuvwxyz": "runs of neighbouring characters",
      "AcmeCorp2024!ProductionPepperKey": "contains a word",
      [Buffer.from("hunter2hunter2hunter2hunter2").toString("base64")]: "is text in an encoding",
      [Buffer.from("mysupersecretpassword").toString("hex")]: "is text in an encoding",
    };
    for (const [value, reason] of Object.entries(cases))
      expect([value, weakSecretReason(value)]).toEqual([value, expect.stringContaining(reason)]);
  });

  it("checks a mistyped production mode by production's rules in the same round", () => {
    const problems = problemsOf({ EMAILAUTH_MODE: "Production" });
    expect(problems[0]).toBe('EMAILAUTH_MODE="Production": expected one of: development, production');
    expect(problems).toContain(
      "SECRET is required in production mode: a secret (a secret of at least 32 random characters)",
    );
  });

  it("rejects an unknown mode", () => {
    expect(problemsOf({ EMAILAUTH_MODE: "staging" })).toEqual([
      'EMAILAUTH_MODE="staging": expected one of: development, production',
    ]);
  });
});
