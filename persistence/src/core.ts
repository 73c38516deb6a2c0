// The persistence domain assembled from its dependencies: what the gRPC handlers serve, and
// what the store contract tests exercise against each driver.
import { createSealer } from "@emailauth/platform";
import { type ClientApps, createClientApps } from "./client-apps/client-apps.ts";
import { createCodeMac, createPeppered, type Peppered } from "./crypto/secrets.ts";
import { createIdempotent } from "./idempotency/idempotency.ts";
import type { GuessBudget } from "./limits/guess-budget.ts";
import type { SendLimits } from "./limits/send-limits.ts";
import { createLoginCodes, type LoginCodes, type SessionLifetimes } from "./login/login-codes.ts";
import { createSessions, type Sessions } from "./sessions/sessions.ts";
import type { EmailSendLimits, LoginRules, Store } from "./store/store.ts";
import { createUsers, type Users } from "./users/users.ts";

export interface PersistenceCore {
  readonly store: Store;
  readonly peppered: Peppered;
  readonly clientApps: ClientApps;
  readonly login: LoginCodes;
  readonly sessions: Sessions;
  readonly users: Users;
}

export interface PersistenceCoreDeps {
  store: Store;
  /** Send limits across people (per IP, app, global). */
  limits: SendLimits;
  /** Send limits of one email, applied by the store's issue step. */
  emailLimits: EmailSendLimits;
  budget: GuessBudget;
  pepper: string;
  codeSecrets: readonly string[];
  clock: () => number;
  rules: LoginRules;
  sessionLifetimes: SessionLifetimes;
  clientAppCacheTtlMs: number;
}

export function createPersistenceCore(deps: PersistenceCoreDeps): PersistenceCore {
  const { store, clock } = deps;
  const peppered = createPeppered(deps.pepper);
  const clientApps = createClientApps({ store, clock, cacheTtlMs: deps.clientAppCacheTtlMs });
  // Keys of answers kept for idempotent retries: the code secrets (rotating), another purpose.
  const idempotent = createIdempotent({
    store,
    pepper: deps.pepper,
    sealer: createSealer(deps.codeSecrets, "idempotent-replay"),
  });
  return {
    store,
    peppered,
    clientApps,
    login: createLoginCodes({
      store,
      clientApps,
      limits: deps.limits,
      emailLimits: deps.emailLimits,
      budget: deps.budget,
      idempotent,
      peppered,
      codeMac: createCodeMac(deps.codeSecrets),
      clock,
      rules: deps.rules,
      sessions: deps.sessionLifetimes,
    }),
    sessions: createSessions({
      store,
      clientApps,
      clock,
      lifetimes: deps.sessionLifetimes,
      idempotent,
    }),
    users: createUsers({ store, peppered }),
  };
}
