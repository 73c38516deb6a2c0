// Typed environment variables. Each helper returns a `Var`: how to parse the raw string, what
// is allowed (in words, for error messages and the README's configuration reference), and the
// defaults. One definition serves validation, typing and documentation, so they cannot drift.
import { accessSync, constants, statSync } from "node:fs";
import { isIP } from "node:net";
import { z } from "zod";
import { parseRedisUrl } from "../redis/redis-url.ts";

export type Mode = "development" | "production";

export interface Var<T> {
  readonly description: string;
  /** What is allowed, in words: "integer 0-65535", "one of: debug, info". */
  readonly allowed: string;
  /** Used when the variable is unset, in every mode. */
  readonly default?: string;
  /**
   * Used when the variable is unset in development mode only; in production mode the variable
   * is then required. For embedded secrets and first-run conveniences.
   */
  readonly devDefault?: string;
  /** Unset is fine (the value is `undefined`). */
  readonly optional: boolean;
  /** Never echo the value in errors or logs. */
  readonly secret: boolean;
  /** What production mode asks of it, for the documentation (a rule checked elsewhere). */
  readonly production?: string;
  /** A generated secret: production mode refuses placeholders and low-randomness values. */
  readonly mustBeRandom?: boolean;
  /** Turns the raw string into a value; throws an Error whose message says what is wrong. */
  parse(raw: string): T;
}

interface Common {
  description: string;
  default?: string;
  devDefault?: string;
  secret?: boolean;
  production?: string;
}

function fromZod<T>(schema: z.ZodType<T>, allowed: string) {
  return (raw: string): T => {
    const result = schema.safeParse(raw);
    if (!result.success) throw new Error(`expected ${allowed}`);
    return result.data;
  };
}

function make<T>(common: Common, allowed: string, parse: (raw: string) => T): Var<T> {
  return {
    description: common.description,
    allowed,
    ...(common.default !== undefined && { default: common.default }),
    ...(common.devDefault !== undefined && { devDefault: common.devDefault }),
    optional: false,
    secret: common.secret ?? false,
    ...(common.production !== undefined && { production: common.production }),
    parse,
  };
}

/** Makes a variable optional: unset (or empty) gives `undefined`. */
export function optional<T>(v: Var<T>): Var<T | undefined> {
  return { ...v, optional: true };
}

export function int(opts: Common & { min: number; max: number }): Var<number> {
  const allowed = `an integer from ${opts.min} to ${opts.max}`;
  return make(
    opts,
    allowed,
    fromZod(
      z
        .string()
        .regex(/^-?\d+$/)
        .transform(Number)
        .pipe(z.number().int().min(opts.min).max(opts.max)),
      allowed,
    ),
  );
}

export function port(opts: Common): Var<number> {
  return int({ ...opts, min: 0, max: 65535 });
}

export function bool(opts: Common): Var<boolean> {
  const allowed = "true or false";
  return make(
    opts,
    allowed,
    fromZod(
      z.enum(["true", "false"]).transform((v) => v === "true"),
      allowed,
    ),
  );
}

export function oneOf<const T extends string>(values: readonly T[], opts: Common): Var<T> {
  const allowed = `one of: ${values.join(", ")}`;
  return make(opts, allowed, fromZod(z.enum(values as [T, ...T[]]), allowed));
}

export function str(
  opts: Common & { maxLength?: number; pattern?: RegExp; patternText?: string },
): Var<string> {
  const max = opts.maxLength ?? 1024;
  const allowed = opts.patternText ?? `text of 1 to ${max} characters`;
  let schema = z.string().min(1).max(max);
  if (opts.pattern) schema = schema.regex(opts.pattern);
  return make(opts, allowed, fromZod(schema, allowed));
}

/** A secret of at least `minLength` characters; its value never appears in messages. */
export function secret(opts: Common & { minLength?: number }): Var<string> {
  const min = opts.minLength ?? 32;
  const allowed = `a secret of at least ${min} random characters`;
  return {
    ...make({ ...opts, secret: true }, allowed, fromZod(z.string().min(min).max(4096), allowed)),
    mustBeRandom: true,
  };
}

/** Comma-separated secrets (the first one is current, the others are accepted during rotation). */
export function secretList(opts: Common & { minLength?: number }): Var<string[]> {
  const min = opts.minLength ?? 32;
  const allowed = `comma-separated secrets of at least ${min} random characters each, current first`;
  const parse = (raw: string): string[] => {
    const secrets = raw.split(",").map((s) => s.trim());
    if (secrets.length > 10) throw new Error(`expected ${allowed} (at most 10)`);
    // Which entries are wrong, by position (never their values), all at once.
    const wrong = secrets.flatMap((s, i) => (s.length < min || s.length > 4096 ? [i + 1] : []));
    if (wrong.length > 0) {
      const which = wrong.map((n) => `${n} of ${secrets.length}`).join(", ");
      throw new Error(`expected ${allowed} (secret ${which}: ${min} to 4096 characters)`);
    }
    const seen = new Set<string>();
    for (const [i, s] of secrets.entries()) {
      if (seen.has(s)) throw new Error(`expected ${allowed} (secret ${i + 1} repeats an earlier one)`);
      seen.add(s);
    }
    return secrets;
  };
  return { ...make({ ...opts, secret: true }, allowed, parse), mustBeRandom: true };
}

export function url(opts: Common & { protocols: readonly string[]; secret?: boolean }): Var<string> {
  const allowed = `a URL (${opts.protocols.map((p) => `${p}://`).join(", ")})`;
  const schema = z.string().refine((raw) => {
    try {
      return opts.protocols.includes(new URL(raw).protocol.replace(/:$/, ""));
    } catch {
      return false;
    }
  });
  return make(opts, allowed, fromZod(schema, allowed));
}

/** host:port pairs, comma-separated: the replicas of a service. */
export function addressList(opts: Common): Var<string[]> {
  const allowed = "comma-separated host:port addresses";
  const address = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/);
  const schema = z
    .string()
    .transform((raw) => raw.split(",").map((s) => s.trim()))
    .pipe(z.array(address).min(1).max(64));
  return make(opts, allowed, fromZod(schema, allowed));
}

export function list(opts: Common & { itemPattern: RegExp; itemText: string; max?: number }): Var<string[]> {
  const allowed = `comma-separated ${opts.itemText}`;
  const schema = z
    .string()
    .transform((raw) =>
      raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    )
    .pipe(
      z
        .array(z.string().regex(opts.itemPattern))
        .min(1)
        .max(opts.max ?? 64),
    );
  return make(opts, allowed, fromZod(schema, allowed));
}

/** IP addresses or CIDR ranges, comma-separated (e.g. trusted proxies). */
export function ipRangeList(opts: Common): Var<string[]> {
  const allowed = "comma-separated IP addresses or CIDR ranges (10.0.0.0/8, fd00::/8)";
  return make(opts, allowed, (raw) => {
    const items = raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    for (const item of items) {
      const [address = "", bits, extra] = item.split("/");
      const version = isIP(address);
      const max = version === 6 ? 128 : 32;
      const ok =
        version !== 0 &&
        extra === undefined &&
        (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max));
      if (!ok) throw new Error(`expected ${allowed}`);
    }
    if (items.length > 64) throw new Error(`expected ${allowed} (at most 64)`);
    return items;
  });
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "250ms", "10s", "5m", "12h", "30d" into milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Number(amount) * (durationUnits[unit as string] ?? Number.NaN);
}

function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A duration such as "10s" or "5m", in milliseconds, within [min, max]. */
export function duration(opts: Common & { min: number; max: number }): Var<number> {
  const allowed = `a duration from ${formatDuration(opts.min)} to ${formatDuration(opts.max)} (e.g. 250ms, 10s, 5m, 12h, 30d)`;
  return make(opts, allowed, (raw) => {
    const ms = parseDuration(raw);
    if (ms === undefined || ms < opts.min || ms > opts.max) throw new Error(`expected ${allowed}`);
    return ms;
  });
}

/** A path that exists, is a `kind`, and this process can read (checked when the config loads). */
function readablePath(opts: Common, kind: "file" | "folder"): Var<string> {
  const allowed = `the path of a readable ${kind}`;
  const isKind = (path: string) => (kind === "file" ? statSync(path).isFile() : statSync(path).isDirectory());
  // A folder is read by listing it, which needs search permission too.
  const mode = kind === "file" ? constants.R_OK : constants.R_OK | constants.X_OK;
  return make(opts, allowed, (raw) => {
    if (raw.length > 4096) throw new Error(`expected ${allowed}`);
    let why: string | undefined;
    try {
      if (!isKind(raw)) why = `not a ${kind}`;
      else accessSync(raw, mode);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      why =
        code === "ENOENT"
          ? `no such ${kind}`
          : code === "EACCES"
            ? "not readable by this process"
            : `not a ${kind}`;
    }
    if (why) throw new Error(`expected ${allowed} (${why})`);
    return raw;
  });
}

/** The path of a file that exists and this process can read. */
export function filePath(opts: Common): Var<string> {
  return readablePath(opts, "file");
}

/** The path of a folder that exists and this process can read. */
export function dirPath(opts: Common): Var<string> {
  return readablePath(opts, "folder");
}

/** A Redis deployment URL (see redis/redis-url.ts); hidden in errors, as it may hold a password. */
export function redisUrl(opts: Common): Var<string> {
  const allowed = "a redis://, rediss://, redis+sentinel://…/<master> or redis+cluster://host:port,… URL";
  return make({ ...opts, secret: true }, allowed, (raw) => {
    try {
      parseRedisUrl(raw);
    } catch {
      // Not the parser's message: it quotes parts of the URL, and the URL may hold a password.
      throw new Error(`expected ${allowed}`);
    }
    return raw;
  });
}
