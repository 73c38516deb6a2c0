// The one way the mesh logs: pino, NDJSON to stdout (or a given stream), object first and a
// static message second, errors under `err`. Secrets are kept out centrally, in one pass over
// everything logged (fields, child bindings, errors, the message):
// - fields that hold secrets or personal data (SECRET_FIELDS: code, email, apiKey, tokens...)
//   are censored at any depth, so a whole request object logged by mistake leaks nothing;
// - every string goes through `scrubText`, which masks email addresses and token shapes.
// (pino's own path-based `redact` did the first part too, but cost 7x a plain log line and
// reached only the depths spelled out in its paths.)
import { type DestinationStream, type Logger, type LoggerOptions, pino, stdSerializers } from "pino";
import { scrubText, scrubValue } from "./scrub.ts";

export type { Logger } from "pino";

export interface LoggerDeps {
  /** The service name, on every line as `service`. */
  service: string;
  level?: string;
  /** Where lines go; stdout when omitted. Tests pass a log sink. */
  destination?: DestinationStream;
}

// An error's `code` names what went wrong (ECONNREFUSED, ERR_STREAM_DESTROYED, an SMTP
// client's EAUTH) and operators need it: kept when it has that shape, censored otherwise like every
// other `code` field (no code path puts a one-time code on an Error; a digit code would still
// be censored if one did).
const ERROR_CODE = /^(?:ERR_[A-Z0-9_]+|E[A-Z_]{3,20})$/;

function serializeError(err: Error): unknown {
  const serialized = stdSerializers.err(err);
  const scrubbed = scrubValue(serialized) as Record<string, unknown>;
  const code = (serialized as { code?: unknown }).code;
  if (typeof code === "string" && ERROR_CODE.test(code)) scrubbed.code = code;
  return scrubbed;
}

export function createLogger(deps: LoggerDeps): Logger {
  const options: LoggerOptions = {
    level: deps.level ?? "info",
    base: { service: deps.service },
    messageKey: "msg",
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
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
  const logger = deps.destination ? pino(options, deps.destination) : pino(options);
  // pino keeps child bindings out of `formatters`: scrub them where children are made. A child
  // is made from its parent's prototype, so every descendant goes through this too.
  const pinoChild = logger.child;
  logger.child = function child(this: Logger, bindings, childOptions) {
    return pinoChild.call(this, scrubValue(bindings) as typeof bindings, childOptions);
  } as Logger["child"];
  return logger;
}
