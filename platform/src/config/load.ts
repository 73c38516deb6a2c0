// Loads one service's configuration from the environment, all at once: every problem is
// reported in one error that names each variable and what it allows, so an operator fixes
// them in one go. Only a service's main.ts calls this.
import { GENERATE_SECRET_HINT, weakSecretReason } from "./secret-strength.ts";
import type { Mode, Var } from "./vars.ts";

export type Spec = Record<string, Var<unknown>>;

export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: S[K] extends Var<infer T> ? T : never };

/** The loaded configuration of a definition: every variable, typed, plus the mode. */
export type LoadedConfig<D extends { vars: Spec }> = ConfigOf<D["vars"]> & { readonly mode: Mode };

export interface ConfigDefinition<S extends Spec> {
  readonly service: string;
  readonly vars: S;
  /** Rules across variables, e.g. what production mode requires. Return problems as text. */
  readonly check?: (config: ConfigOf<S> & { readonly mode: Mode }) => string[];
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(service: string, problems: readonly string[]) {
    super(`Invalid configuration for ${service}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export const MODE_VAR = "EMAILAUTH_MODE";

export function defineConfig<S extends Spec>(definition: ConfigDefinition<S>): ConfigDefinition<S> {
  return definition;
}

function readMode(env: NodeJS.ProcessEnv, problems: string[]): Mode {
  const raw = env[MODE_VAR];
  if (raw === undefined || raw === "" || raw === "development") return "development";
  if (raw === "production") return "production";
  problems.push(`${MODE_VAR}=${JSON.stringify(raw)}: expected one of: development, production`);
  // "Production" was meant as production: check the rest by its rules, so that this round
  // reports their problems too (the service does not start either way).
  return raw.trim().toLowerCase() === "production" ? "production" : "development";
}

function weakSecretProblems(name: string, value: unknown): string[] {
  const secrets = Array.isArray(value) ? value : [value];
  const problems: string[] = [];
  secrets.forEach((secret, i) => {
    const reason = typeof secret === "string" ? weakSecretReason(secret) : undefined;
    if (!reason) return;
    const which = secrets.length > 1 ? ` (secret ${i + 1} of ${secrets.length})` : "";
    problems.push(`${name}${which} ${reason}; production needs a random one, ${GENERATE_SECRET_HINT}`);
  });
  return problems;
}

export function loadConfig<S extends Spec>(
  definition: ConfigDefinition<S>,
  env: NodeJS.ProcessEnv,
): ConfigOf<S> & { readonly mode: Mode } {
  const problems: string[] = [];
  const refused: string[] = [];
  const mode = readMode(env, problems);
  const values: Record<string, unknown> = { mode };
  for (const [name, v] of Object.entries(definition.vars)) {
    let raw = env[name];
    if (raw === "") raw = undefined;
    raw ??= v.default ?? (mode === "development" ? v.devDefault : undefined);
    if (raw === undefined) {
      if (v.optional) {
        values[name] = undefined;
      } else {
        const why = v.devDefault !== undefined ? " in production mode" : "";
        problems.push(`${name} is required${why}: ${v.description} (${v.allowed})`);
      }
      continue;
    }
    try {
      values[name] = v.parse(raw);
    } catch (err) {
      const shown = v.secret ? "(secret value hidden)" : JSON.stringify(raw);
      problems.push(`${name}=${shown}: ${(err as Error).message}`);
      refused.push(name);
      continue;
    }
    if (v.mustBeRandom && mode === "production") problems.push(...weakSecretProblems(name, values[name]));
  }
  const config = values as ConfigOf<S> & { mode: Mode };
  // The rules across variables run even when some variables were refused (theirs are then
  // undefined), so that one start-up reports every problem. A rule that names a refused
  // variable, or trips over its missing value, has nothing to add to that variable's own
  // problem ("X is required" about an X that was set but refused would mislead).
  if (definition.check) {
    try {
      const mentionsRefused = (p: string) => refused.some((name) => new RegExp(`\\b${name}\\b`).test(p));
      problems.push(...definition.check(config).filter((p) => !mentionsRefused(p)));
    } catch {
      // reported above
    }
  }
  if (problems.length > 0) throw new ConfigError(definition.service, problems);
  return config;
}
