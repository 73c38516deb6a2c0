// The error mechanism: one error type (a stable reason, its status code, a safe message), and
// the reasons any service may give whatever it does. Each service adds its own contract's
// reasons with defineReasons and throws `appError("REASON")`; the gRPC and Connect layers map
// the reason to the wire. Reasons are stable API: add new ones, never change what one means.

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

export interface ReasonEntry {
  readonly code: Code;
  /** Safe to show to anyone: no internals, no personal data. */
  readonly message: string;
}

/** Reasons by name: a service's own, or a contract's (@emailauth/proto/reasons). */
export type Reasons = Readonly<Record<string, ReasonEntry>>;

/**
 * What any service may answer: input that breaks the rules (email addresses are checked by
 * platform's normalizeEmail everywhere), a limit on requests, outages, time, and the unexpected.
 */
export const platformReasons = {
  INVALID_ARGUMENT: { code: Code.InvalidArgument, message: "The request is not valid." },
  EMAIL_INVALID: { code: Code.InvalidArgument, message: "The email address is not valid." },
  RATE_LIMITED: { code: Code.ResourceExhausted, message: "Too many requests; retry later." },
  UPSTREAM_UNAVAILABLE: { code: Code.Unavailable, message: "The service is unavailable; retry later." },
  DEADLINE_EXCEEDED: { code: Code.DeadlineExceeded, message: "The request took too long." },
  OVERLOADED: { code: Code.ResourceExhausted, message: "The service is overloaded; retry later." },
  CANCELED: { code: Code.Canceled, message: "The request was canceled." },
  UNIMPLEMENTED: { code: Code.Unimplemented, message: "Not implemented." },
  INTERNAL: { code: Code.Internal, message: "Internal error." },
} as const satisfies Reasons;

export type PlatformReason = keyof typeof platformReasons;

export interface AppErrorOptions {
  /** A more precise safe message (e.g. which field is wrong); never personal data. */
  message?: string;
  retryAt?: Date;
  /** The original error, for logs only: never sent. */
  cause?: unknown;
  /**
   * The service that answered with this error, when it was read off a failed call to it: its
   * reason is that service's, for the caller to map before passing anything on.
   */
  upstream?: string;
}

/** The one error type of the mesh: a stable reason, its code, a safe message. */
export class AppError<R extends string = string> extends Error {
  readonly reason: R;
  readonly code: Code;
  readonly retryAt: Date | undefined;
  readonly upstream: string | undefined;

  constructor(reason: R, entry: ReasonEntry, options: AppErrorOptions = {}) {
    super(options.message ?? entry.message, { cause: options.cause });
    this.name = "AppError";
    this.reason = reason;
    this.code = entry.code;
    this.retryAt = options.retryAt;
    this.upstream = options.upstream;
  }
}

/** Refuses, at compile time, a service's reason that would redefine one of platform's. */
type Own<R> = R & { readonly [K in PlatformReason]?: never };

export interface ReasonSet<R extends string> {
  /** Every reason the service may give: its own and platform's. */
  readonly reasons: Readonly<Record<R, ReasonEntry>>;
  appError(reason: R, options?: AppErrorOptions): AppError<R>;
  isReason(value: string): value is R;
}

/** A service's reasons (its contract's) with platform's, and the error constructor typed by them. */
export function defineReasons<const R extends Reasons>(
  own: Own<R>,
): ReasonSet<(keyof R & string) | PlatformReason> {
  type All = (keyof R & string) | PlatformReason;
  const reasons = { ...platformReasons, ...own } as unknown as Record<All, ReasonEntry>;
  return {
    reasons,
    appError: (reason, options) => new AppError(reason, reasons[reason], options),
    isReason: (value): value is All => Object.hasOwn(reasons, value),
  };
}

/** Platform's own reasons, for the code that serves and calls any service. */
export const { appError } = defineReasons<Record<never, ReasonEntry>>({});

/** Anything thrown becomes an AppError; unexpected errors become INTERNAL, kept as the cause. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return appError("INTERNAL", { cause: err });
}
