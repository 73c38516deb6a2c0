// What a client app may learn from a failure. Errors raised by the gateway itself are already
// meant for the public (its reasons are the public API's, errors.ts). Errors from persistence or
// the mailer (whole calls, or one request of a batch) go through an allowlist by reason: the
// ones a client app must act on pass, outages become UPSTREAM_UNAVAILABLE, and anything else
// becomes INTERNAL. Messages are always the public reason's (never the upstream's), and
// nothing internal (causes, stacks, addresses) is sent.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import { AppError, Code, type PlatformReason } from "@emailauth/platform";
import { ErrorDetailSchema } from "@emailauth/proto/auth-common";
import type { MailerReason, PersistenceReason } from "@emailauth/proto/reasons";
import { appError, isReason, type PublicReason, reasons } from "../errors.ts";

/** What persistence and the mailer may answer with: their contracts' reasons and platform's. */
type UpstreamReason = PersistenceReason | MailerReason | PlatformReason;

const FROM_UPSTREAM: Partial<Record<UpstreamReason, PublicReason>> = {
  RATE_LIMITED: "RATE_LIMITED",
  EMAIL_LOCKED: "EMAIL_LOCKED",
  EMAIL_INVALID: "EMAIL_INVALID",
  CODE_INVALID: "CODE_INVALID",
  CHALLENGE_NOT_FOUND: "CHALLENGE_NOT_FOUND",
  LOGIN_METHOD_NOT_ALLOWED: "LOGIN_METHOD_NOT_ALLOWED",
  SESSION_INVALID: "SESSION_INVALID",
  REFRESH_TOKEN_REUSED: "REFRESH_TOKEN_REUSED",
  IDEMPOTENCY_KEY_REUSED: "IDEMPOTENCY_KEY_REUSED",
  API_KEY_INVALID: "API_KEY_INVALID",
  CLIENT_APP_DISABLED: "API_KEY_INVALID",
  CLIENT_APP_NOT_FOUND: "API_KEY_INVALID",
  // The gateway validates every field first; an upstream that still refuses one means the two
  // sets of rules disagree (a bug to fix, logged), but the input is what it refused.
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  STORE_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  QUEUE_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  UPSTREAM_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  DEADLINE_EXCEEDED: "UPSTREAM_UNAVAILABLE",
  OVERLOADED: "UPSTREAM_UNAVAILABLE",
  CANCELED: "CANCELED",
};

/** How long a client app is told to wait after an outage of the mesh. */
const UNAVAILABLE_RETRY_MS = 1000;

/** The error a client app gets for `err`, and whether (and how loudly) to log it. */
export function toPublic(err: unknown): { error: AppError; log: "error" | "warn" | undefined } {
  if (!(err instanceof AppError)) return { error: appError("INTERNAL", { cause: err }), log: "error" };
  if (err.upstream === undefined)
    return { error: err, log: err.code === Code.Internal ? "error" : undefined };
  const reason = FROM_UPSTREAM[err.reason as UpstreamReason] ?? "INTERNAL";
  const retryAt =
    err.retryAt ??
    (reason === "UPSTREAM_UNAVAILABLE" ? new Date(Date.now() + UNAVAILABLE_RETRY_MS) : undefined);
  return {
    error: appError(reason, { ...(retryAt && { retryAt }), cause: err }),
    log:
      reason === "INTERNAL"
        ? "error"
        : reason === "UPSTREAM_UNAVAILABLE" || err.reason === "INVALID_ARGUMENT"
          ? "warn"
          : undefined,
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
  // The reason's message, except for the gateway's own input errors, whose message names the field.
  const message =
    (err.reason === "INVALID_ARGUMENT" || err.reason === "EMAIL_INVALID") && err.upstream === undefined
      ? err.message
      : (isReason(err.reason) ? reasons[err.reason] : reasons.INTERNAL).message;
  return new ConnectError(message.toWellFormed(), err.code as number as ConnectCode, metadata, [
    { desc: ErrorDetailSchema, value: detail },
  ]);
}

/** Reasons for errors that Connect or protovalidate raise themselves, by status code. */
const LOCAL_REASONS: Partial<Record<number, PublicReason>> = {
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.ResourceExhausted]: "REQUEST_TOO_LARGE",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.Canceled]: "CANCELED",
  [Code.Unimplemented]: "UNIMPLEMENTED",
};

type Details = NonNullable<ConstructorParameters<typeof ConnectError>[3]>;

/** The reason of an error, if it carries our ErrorDetail. */
export function reasonOf(err: ConnectError): string | undefined {
  return err.findDetails(ErrorDetailSchema)[0]?.reason;
}

/**
 * Gives an error raised by Connect or protovalidate (a field breaking its rules) the same
 * ErrorDetail every other error has. Its message is kept: it names the field and the rule.
 */
export function withReason(err: ConnectError): ConnectError {
  if (reasonOf(err) !== undefined) return err;
  const reason = LOCAL_REASONS[err.code] ?? "INTERNAL";
  const kept = err.details.filter((d) => "desc" in d) as Details;
  // Well-formed: a message can echo input, and a lone surrogate breaks gRPC's status header.
  return new ConnectError(err.rawMessage.toWellFormed(), err.code, err.metadata, [
    ...kept,
    { desc: ErrorDetailSchema, value: create(ErrorDetailSchema, { reason }) },
  ]);
}

/**
 * An error Connect raised while reading the request, before any of our code ran: a body that
 * is not valid protobuf or JSON, a compression that fails, a GET query that does not decode.
 * Connect reports some of these as `internal`; they are the caller's, so they become
 * `invalid_argument`. Statuses the protocol mandates are kept (`unimplemented` for an unknown
 * compression, `deadline_exceeded` for the caller's own timeout, `resource_exhausted` for a
 * body over the size limit), with our reason added.
 */
export function fromDecodeError(err: ConnectError): ConnectError {
  if (reasonOf(err) !== undefined) return err;
  if (err.code !== Code.Internal) return withReason(err);
  return withReason(
    new ConnectError(`the request could not be decoded: ${err.rawMessage}`, Code.InvalidArgument as number),
  );
}
