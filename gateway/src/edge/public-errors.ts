// What a client app may learn from a failure. Errors raised by the gateway itself are already
// meant for the public. Errors from persistence or the mailer go through an allowlist by
// reason: the ones a client app must act on pass, outages become UPSTREAM_UNAVAILABLE, and
// anything else becomes INTERNAL. Messages are always the catalog's (never the upstream's), and
// nothing internal (causes, stacks, addresses) is sent.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import { AppError, appError, Code, catalog, isServiceError, type Reason } from "@emailauth/platform";
import { ErrorDetailSchema } from "@emailauth/proto/auth-common";

const FROM_UPSTREAM: Partial<Record<Reason, Reason>> = {
  RATE_LIMITED: "RATE_LIMITED",
  EMAIL_LOCKED: "EMAIL_LOCKED",
  EMAIL_INVALID: "EMAIL_INVALID",
  CODE_INVALID: "CODE_INVALID",
  CHALLENGE_NOT_FOUND: "CHALLENGE_NOT_FOUND",
  SESSION_INVALID: "SESSION_INVALID",
  REFRESH_TOKEN_REUSED: "REFRESH_TOKEN_REUSED",
  API_KEY_INVALID: "API_KEY_INVALID",
  CLIENT_APP_DISABLED: "API_KEY_INVALID",
  CLIENT_APP_NOT_FOUND: "API_KEY_INVALID",
  STORE_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  QUEUE_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  UPSTREAM_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  DEADLINE_EXCEEDED: "UPSTREAM_UNAVAILABLE",
  OVERLOADED: "UPSTREAM_UNAVAILABLE",
  CANCELED: "CANCELED",
};

/** The error a client app gets for `err`, and whether it is a fault to log. */
export function toPublic(err: unknown): { error: AppError; fault: boolean } {
  if (!(err instanceof AppError)) return { error: appError("INTERNAL", { cause: err }), fault: true };
  const fromUpstream = isServiceError(err.cause);
  if (!fromUpstream) return { error: err, fault: err.code === Code.Internal };
  const reason = FROM_UPSTREAM[err.reason] ?? "INTERNAL";
  return {
    error: appError(reason, { ...(err.retryAt && { retryAt: err.retryAt }), cause: err }),
    fault: reason === "INTERNAL" || reason === "UPSTREAM_UNAVAILABLE",
  };
}

export function toConnectError(err: AppError): ConnectError {
  const metadata = new Headers();
  if (err.retryAt) {
    metadata.set("retry-after", String(Math.max(1, Math.ceil((err.retryAt.getTime() - Date.now()) / 1000))));
  }
  const detail = create(ErrorDetailSchema, {
    reason: err.reason,
    ...(err.retryAt && { retryAt: timestampFromDate(err.retryAt) }),
  });
  // The catalog's message, except for the gateway's own input errors, whose message names the field.
  const message =
    err.reason === "INVALID_ARGUMENT" || err.reason === "EMAIL_INVALID"
      ? err.message
      : catalog[err.reason].message;
  return new ConnectError(message, err.code as number as ConnectCode, metadata, [
    { desc: ErrorDetailSchema, value: detail },
  ]);
}

/** Reasons for errors that Connect or protovalidate raise themselves, by status code. */
const LOCAL_REASONS: Partial<Record<number, Reason>> = {
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.Canceled]: "CANCELED",
  [Code.Unimplemented]: "UNIMPLEMENTED",
};

type Details = NonNullable<ConstructorParameters<typeof ConnectError>[3]>;

/**
 * Gives an error raised by Connect's handlers or protovalidate (a field breaking its rules)
 * the same ErrorDetail every other error has. Its message is kept: it names the field and the
 * rule. (A body that is not JSON or is too large is refused before any interceptor runs: that
 * answer has the status code and message only.)
 */
export function withReason(err: ConnectError): ConnectError {
  if (err.findDetails(ErrorDetailSchema).length > 0) return err;
  const reason = LOCAL_REASONS[err.code] ?? "INTERNAL";
  const kept = err.details.filter((d) => "desc" in d) as Details;
  return new ConnectError(err.rawMessage, err.code, err.metadata, [
    ...kept,
    { desc: ErrorDetailSchema, value: create(ErrorDetailSchema, { reason }) },
  ]);
}
