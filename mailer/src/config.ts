// The mailer service's configuration: every variable it reads, validated at start-up.
import {
  checkInternalTls,
  defineConfig,
  EMAIL_MAX_LENGTH,
  internalTlsVars,
  type LoadedConfig,
  logVars,
  vars,
} from "@emailauth/platform";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const mailerConfig = defineConfig({
  service: "mailer",
  vars: {
    ...logVars,
    ...internalTlsVars,
    MAILER_HOST: vars.str({
      default: "127.0.0.1",
      description: "Address the gRPC and HTTP servers bind to (0.0.0.0 in containers).",
      patternText: "an IP address or host name",
    }),
    MAILER_PORT: vars.port({ default: "50052", description: "gRPC port (0 picks a free port)." }),
    MAILER_HTTP_PORT: vars.port({
      default: "9102",
      description:
        "HTTP port of /healthz, /readyz, /metrics and, in development, the inbox at /inbox (0 picks a free port).",
    }),
    REDIS_URL: vars.optional(
      vars.redisUrl({
        production: "required (or MAILER_REDIS_URL)",
        description:
          "Redis for the durable mail queue (same forms as persistence's REDIS_URL). Unset (development only): an in-process queue that loses queued emails on restart.",
      }),
    ),
    MAILER_REDIS_URL: vars.optional(
      vars.redisUrl({
        description: "A Redis for the mail queue other than REDIS_URL, if the queue should live apart.",
      }),
    ),
    MAILER_QUEUE_PREFIX: vars.str({
      default: "ea:{mail}",
      maxLength: 64,
      pattern: /^[A-Za-z0-9:_-]*\{[A-Za-z0-9:_-]+\}[A-Za-z0-9:_-]*$/,
      patternText:
        "letters, digits, ':', '_', '-' with one {hash tag} (Redis Cluster keeps the queue in its slot)",
      description: "Key prefix of the mail queue.",
    }),
    MAILER_QUEUE_KEYS: vars.secretList({
      devDefault: "development-only-queue-key/not-secret/never-use-in-production",
      description:
        "Encrypt each queued email's recipient and code in Redis (AES-256-GCM). Comma-separated: the first encrypts, all decrypt (rotation).",
    }),
    SMTP_URL: vars.optional(
      vars.url({
        protocols: ["smtp", "smtps"],
        secret: true,
        production: "required",
        description:
          "The SMTP relay: smtp://user:pass@host:587 (STARTTLS; ?requireTLS=true to insist) or smtps://user:pass@host:465. Unset (development only): the built-in development inbox catches every email.",
      }),
    ),
    SMTP_POOL_SIZE: vars.int({
      default: "5",
      min: 1,
      max: 100,
      description: "SMTP connections kept open to the relay.",
    }),
    MAILER_CONCURRENCY: vars.int({
      default: "50",
      min: 1,
      max: 1000,
      description: "Emails being sent at once.",
    }),
    MAILER_MAX_ATTEMPTS: vars.int({
      default: "8",
      min: 1,
      max: 50,
      description: "Delivery attempts per email before it is marked failed.",
    }),
    MAILER_RETRY_BASE: vars.duration({
      default: "2s",
      min: 10,
      max: 10 * MINUTE,
      description: "Wait before the first retry; it doubles each time (with jitter).",
    }),
    MAILER_JOB_LOCK: vars.duration({
      default: "30s",
      min: 500,
      max: 10 * MINUTE,
      description:
        "How long a worker holds an email it is sending; after a crash, others take it over after this.",
    }),
    MAILER_STATUS_RETENTION: vars.duration({
      default: "24h",
      min: MINUTE,
      max: 30 * 24 * HOUR,
      description: "How long a sent or failed email's status (and its idempotency key) is kept.",
    }),
    MAILER_FROM: vars.str({
      devDefault: "Sign-in <no-reply@localhost>",
      maxLength: 320,
      pattern: /^([^<>\r\n]{1,64} <)?[^\s@<>]{1,64}@[A-Za-z0-9.-]{1,253}>?$/,
      patternText: "an address, or Name <address>",
      description: "The default From of login emails (a client app can set its own sender address).",
    }),
    MAILER_ENVELOPE_FROM: vars.optional(
      vars.str({
        maxLength: EMAIL_MAX_LENGTH,
        pattern: /^[^\s@<>]{1,64}@[A-Za-z0-9.-]{1,253}$/,
        patternText: "an email address",
        description: "Envelope sender (Return-Path) for bounces, when it must differ from From.",
      }),
    ),
    MAILER_DEFAULT_LOCALE: vars.str({
      default: "en",
      maxLength: 35,
      pattern: /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/,
      patternText: "a BCP 47 language tag with templates (en, es, or one from MAILER_TEMPLATES_DIR)",
      description: "Language of emails when the person's language has no templates.",
    }),
    MAILER_TEMPLATES_DIR: vars.optional(
      vars.dirPath({
        description:
          "A folder of login-code.<locale>.<subject|text|html>.mustache files that override or add templates.",
      }),
    ),
    MAILER_DKIM_DOMAIN: vars.optional(vars.str({ maxLength: 253, description: "DKIM signing domain (d=)." })),
    MAILER_DKIM_SELECTOR: vars.optional(vars.str({ maxLength: 63, description: "DKIM selector (s=)." })),
    MAILER_DKIM_PRIVATE_KEY_FILE: vars.optional(
      vars.filePath({ description: "PEM private key for DKIM signing." }),
    ),
    MAILER_DEV_SMTP_PORT: vars.port({
      default: "2525",
      description:
        "Development inbox only: the port of the SMTP server that catches emails (0 picks a free port).",
    }),
  },
  check: (c) => {
    const problems = checkInternalTls(c);
    if (c.mode === "production") {
      if (!c.SMTP_URL)
        problems.push("SMTP_URL is required in production mode (the development inbox delivers nothing)");
      if (!c.REDIS_URL && !c.MAILER_REDIS_URL) {
        problems.push(
          "REDIS_URL or MAILER_REDIS_URL is required in production mode (the in-process queue is not durable)",
        );
      }
    }
    const dkim = [c.MAILER_DKIM_DOMAIN, c.MAILER_DKIM_SELECTOR, c.MAILER_DKIM_PRIVATE_KEY_FILE].filter(
      Boolean,
    ).length;
    if (dkim !== 0 && dkim !== 3) {
      problems.push("MAILER_DKIM_DOMAIN, MAILER_DKIM_SELECTOR and MAILER_DKIM_PRIVATE_KEY_FILE go together");
    }
    return problems;
  },
});

export type MailerConfig = LoadedConfig<typeof mailerConfig>;
