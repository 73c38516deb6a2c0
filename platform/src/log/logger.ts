// The one way the mesh logs: pino, NDJSON to stdout (or a given stream), object first and a
// static message second, errors under `err`. Secrets are kept out centrally:
// - `redact` censors fields that hold secrets or personal data wherever they are nested
//   (paths below), so a whole request object logged by mistake still leaks nothing;
// - every string that is logged (message, fields, error message and stack) goes through
//   `scrubText`, which masks email addresses and token-shaped strings.
import { type DestinationStream, type Logger, type LoggerOptions, pino, stdSerializers } from "pino";
import { scrubText, scrubValue } from "./scrub.ts";

export type { Logger } from "pino";

const SECRET_FIELDS = [
  "code",
  "email",
  "recipient",
  "to",
  "apiKey",
  "api_key",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "token",
  "password",
  "secret",
  "authorization",
  "cookie",
  "mac",
];

/** Fields censored at the top level and up to two levels down. */
export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  'headers["authorization"]',
  'req.headers["authorization"]',
  'req.headers["cookie"]',
];

export interface LoggerDeps {
  /** The service name, on every line as `service`. */
  service: string;
  level?: string;
  /** Where lines go; stdout when omitted. Tests pass a log sink. */
  destination?: DestinationStream;
}

export function createLogger(deps: LoggerDeps): Logger {
  const options: LoggerOptions = {
    level: deps.level ?? "info",
    base: { service: deps.service },
    messageKey: "msg",
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    serializers: {
      err: (err: Error) => scrubValue(stdSerializers.err(err)),
    },
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => scrubValue(object) as Record<string, unknown>,
    },
    hooks: {
      // The message is the second argument by convention and should be static, but scrub it
      // anyway: a message built by interpolation must not leak either.
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === "string" ? scrubText(a) : a));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  return deps.destination ? pino(options, deps.destination) : pino(options);
}
