// The persistence service's configuration: every variable it reads, validated at start-up.
import {
  checkInternalTls,
  defineConfig,
  internalTlsVars,
  type LoadedConfig,
  logVars,
  vars,
} from "@emailauth/platform";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const persistenceConfig = defineConfig({
  service: "persistence",
  vars: {
    ...logVars,
    ...internalTlsVars,
    PERSISTENCE_HOST: vars.str({
      default: "127.0.0.1",
      description: "Address the gRPC and operations servers bind to (0.0.0.0 in containers).",
      patternText: "an IP address or host name",
    }),
    PERSISTENCE_PORT: vars.port({ default: "50051", description: "gRPC port (0 picks a free port)." }),
    PERSISTENCE_OPS_PORT: vars.port({
      default: "9101",
      description: "HTTP port of /healthz, /readyz and /metrics (0 picks a free port).",
    }),
    REDIS_URL: vars.optional(
      vars.redisUrl({
        production: "required",
        description:
          "The store: redis://host:6379, rediss:// for TLS, redis+sentinel://s1:26379,s2:26379/mymaster or redis+cluster://n1:6379,n2:6379. Unset (development only): an in-memory store that loses everything on restart.",
      }),
    ),
    REDIS_KEY_PREFIX: vars.str({
      default: "ea:",
      maxLength: 32,
      pattern: /^[A-Za-z0-9:_-]+$/,
      patternText: "1 to 32 characters of letters, digits, ':', '_' or '-'",
      description: "Prefix of every key persistence writes, to share a Redis with other applications.",
    }),
    PERSISTENCE_PEPPER: vars.secret({
      devDefault: "development-only-pepper/not-secret/never-use-in-production",
      description:
        "Keys the digests that index people in the store (no key name contains an email). Never change it: stored people would become unreachable.",
    }),
    PERSISTENCE_CODE_SECRETS: vars.secretList({
      devDefault: "development-only-code-secret/not-secret/never-use-in-production",
      description:
        "Keys the HMAC of one-time codes. Comma-separated: the first signs new codes, the others still verify codes issued before a rotation (drop them 10 minutes after).",
    }),
    CODE_MAX_ATTEMPTS: vars.int({
      default: "5",
      min: 1,
      max: 10,
      description: "Wrong guesses per code before it dies.",
    }),
    EMAIL_MAX_FAILURES: vars.int({
      default: "100",
      min: 10,
      max: 10_000,
      description: "Failed guesses per email, across codes, before the email is locked.",
    }),
    EMAIL_FAILURE_WINDOW: vars.duration({
      default: "24h",
      min: HOUR,
      max: 30 * DAY,
      description: "How long failures count (from the first), and so how long a lock lasts at most.",
    }),
    LIMIT_EMAIL_COOLDOWN: vars.duration({
      default: "60s",
      min: 1000,
      max: HOUR,
      description: "Minimum time between two codes sent to one email.",
    }),
    LIMIT_EMAIL_SENDS_PER_HOUR: vars.int({
      default: "5",
      min: 1,
      max: 1000,
      description: "Codes sent to one email per hour.",
    }),
    LIMIT_IP_SENDS_PER_HOUR: vars.int({
      default: "30",
      min: 1,
      max: 1_000_000,
      description:
        "Codes requested from one end-user IP (IPv6: one /64) per hour, when the client app forwards it.",
    }),
    LIMIT_APP_SENDS_PER_MINUTE: vars.int({
      default: "600",
      min: 1,
      max: 1_000_000,
      description: "Codes one client app may send per minute, unless the app's own setting says otherwise.",
    }),
    LIMIT_GLOBAL_SENDS_PER_MINUTE: vars.int({
      default: "6000",
      min: 1,
      max: 100_000_000,
      description: "Codes the whole service may send per minute.",
    }),
    GUESS_BUDGET_APP_PER_HOUR: vars.int({
      default: "180",
      min: 1,
      max: 1_000_000,
      description:
        "Failed guesses per client app per hour, counted as 6-digit codes (a guess at a code 100 times harder to guess counts 1/100). From a quarter of it, new codes are issued at their longest; from half, only such strong codes are checked; when spent, none until the hour ends. Bounds guessing spread over many emails (SECURITY.md).",
    }),
    GUESS_BUDGET_GLOBAL_PER_HOUR: vars.int({
      default: "360",
      min: 1,
      max: 10_000_000,
      description:
        "The same budget for all client apps together. With the defaults, at most 0.0090 accounts a day are expected to be taken over by guessing, whatever an attacker does (SECURITY.md).",
    }),
    SESSION_IDLE_TTL: vars.duration({
      default: "30d",
      min: 5 * MINUTE,
      max: 365 * DAY,
      description: "A session ends if not refreshed for this long (the refresh token's lifetime).",
    }),
    SESSION_MAX_TTL: vars.duration({
      default: "90d",
      min: HOUR,
      max: 365 * DAY,
      description: "A session ends after this long, however active.",
    }),
    CHALLENGE_RETENTION: vars.duration({
      default: "1h",
      min: 0,
      max: DAY,
      description: "How long the outcome of a login stays readable (GetChallenge) after its code expired.",
    }),
    CLIENT_APP_CACHE_TTL: vars.duration({
      default: "5s",
      min: 0,
      max: MINUTE,
      description:
        "How long a replica caches a client app's record; changes made elsewhere show after at most this.",
    }),
  },
  check: (c) => [
    ...checkInternalTls(c),
    ...(c.mode === "production" && !c.REDIS_URL
      ? ["REDIS_URL is required in production mode (the in-memory store is not durable)"]
      : []),
    ...(c.SESSION_MAX_TTL < c.SESSION_IDLE_TTL
      ? ["SESSION_MAX_TTL must not be shorter than SESSION_IDLE_TTL"]
      : []),
  ],
});

export type PersistenceConfig = LoadedConfig<typeof persistenceConfig>;
