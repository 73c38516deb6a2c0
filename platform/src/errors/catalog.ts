// The error catalog: every reason the mesh can give, once, with its status code and a safe
// public message. Services throw `appError("REASON")`; the gRPC and Connect layers map the
// reason to the wire. Reasons are stable API: add new ones, never change what one means.

/** gRPC status codes (Connect uses the same numbers). */
export const Code = {
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

export type Code = (typeof Code)[keyof typeof Code];

interface Entry {
  readonly code: Code;
  /** Safe to show to anyone: no internals, no personal data. */
  readonly message: string;
}

export const catalog = {
  // Input
  INVALID_ARGUMENT: { code: Code.InvalidArgument, message: "The request is not valid." },
  EMAIL_INVALID: { code: Code.InvalidArgument, message: "The email address is not valid." },
  REQUEST_TOO_LARGE: {
    code: Code.ResourceExhausted,
    message: "The request is larger than the gateway accepts.",
  },
  IDEMPOTENCY_KEY_REUSED: {
    code: Code.FailedPrecondition,
    message: "This Idempotency-Key was already used with a different request.",
  },
  CLIENT_APP_SETTINGS_INVALID: {
    code: Code.InvalidArgument,
    message: "The client app settings are not valid.",
  },
  // Client apps
  API_KEY_INVALID: { code: Code.Unauthenticated, message: "The API key is missing, unknown or revoked." },
  CLIENT_APP_DISABLED: { code: Code.Unauthenticated, message: "The client app is disabled." },
  CLIENT_APP_NOT_FOUND: { code: Code.NotFound, message: "No such client app." },
  ORIGIN_NOT_ALLOWED: {
    code: Code.PermissionDenied,
    message: "This origin is not allowed for the client app.",
  },
  // Login
  RATE_LIMITED: { code: Code.ResourceExhausted, message: "Too many requests; retry later." },
  EMAIL_LOCKED: {
    code: Code.ResourceExhausted,
    message: "Too many failed attempts for this email address; retry later.",
  },
  CODE_INVALID: { code: Code.Unauthenticated, message: "The code is wrong or no longer valid." },
  CHALLENGE_NOT_FOUND: { code: Code.NotFound, message: "No such login." },
  LOGIN_METHOD_NOT_ALLOWED: {
    code: Code.FailedPrecondition,
    message: "This login method is not enabled for the client app.",
  },
  // Sessions and users
  SESSION_INVALID: { code: Code.Unauthenticated, message: "The session is not valid." },
  REFRESH_TOKEN_REUSED: {
    code: Code.Unauthenticated,
    message: "The refresh token was already used; the session has been revoked.",
  },
  SESSION_NOT_FOUND: { code: Code.NotFound, message: "No such session." },
  USER_NOT_FOUND: { code: Code.NotFound, message: "No such user." },
  // Mail
  MESSAGE_NOT_FOUND: { code: Code.NotFound, message: "No such message." },
  // Infrastructure
  STORE_UNAVAILABLE: { code: Code.Unavailable, message: "The store is unavailable; retry later." },
  QUEUE_UNAVAILABLE: { code: Code.Unavailable, message: "The mail queue is unavailable; retry later." },
  UPSTREAM_UNAVAILABLE: { code: Code.Unavailable, message: "The service is unavailable; retry later." },
  DEADLINE_EXCEEDED: { code: Code.DeadlineExceeded, message: "The request took too long." },
  OVERLOADED: { code: Code.ResourceExhausted, message: "The service is overloaded; retry later." },
  CANCELED: { code: Code.Canceled, message: "The request was canceled." },
  UNIMPLEMENTED: { code: Code.Unimplemented, message: "Not implemented." },
  INTERNAL: { code: Code.Internal, message: "Internal error." },
} as const satisfies Record<string, Entry>;

export type Reason = keyof typeof catalog;

export function isReason(value: string): value is Reason {
  return Object.hasOwn(catalog, value);
}

export interface AppErrorOptions {
  /** A more precise safe message (e.g. which field is wrong); never personal data. */
  message?: string;
  retryAt?: Date;
  /** The original error, for logs only: never sent. */
  cause?: unknown;
}

/** The one error type of the mesh: a stable reason, its code, a safe message. */
export class AppError extends Error {
  readonly reason: Reason;
  readonly code: Code;
  readonly retryAt: Date | undefined;

  constructor(reason: Reason, options: AppErrorOptions = {}) {
    super(options.message ?? catalog[reason].message, { cause: options.cause });
    this.name = "AppError";
    this.reason = reason;
    this.code = catalog[reason].code;
    this.retryAt = options.retryAt;
  }
}

export function appError(reason: Reason, options?: AppErrorOptions): AppError {
  return new AppError(reason, options);
}

/** Anything thrown becomes an AppError; unexpected errors become INTERNAL, kept as the cause. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError("INTERNAL", { cause: err });
}
