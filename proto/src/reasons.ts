// The stable error reasons of each contract, with the status each is sent with and a safe
// message: part of the contract like the messages are, so they live beside the .proto files
// whose comments list them. A service gives its own contract's reasons (bound to platform's
// error mechanism in its src/errors.ts); whoever calls it reads them from here, without
// depending on the service's code. The reasons every service may give (INVALID_ARGUMENT,
// EMAIL_INVALID, RATE_LIMITED, outages, deadlines, INTERNAL) are platform's, not repeated here.
// Reasons are stable API: add new ones, never change what one means.
import { status } from "@grpc/grpc-js";

export interface ReasonSpec {
  /** The gRPC status it is sent with (Connect uses the same numbers). */
  readonly code: status;
  /** Safe to show to anyone: no internals, no personal data. */
  readonly message: string;
}

/** emailauth.persistence.v1.PersistenceService. */
export const persistenceReasons = {
  // Client apps
  CLIENT_APP_SETTINGS_INVALID: {
    code: status.INVALID_ARGUMENT,
    message: "The client app settings are not valid.",
  },
  API_KEY_INVALID: { code: status.UNAUTHENTICATED, message: "The API key is missing, unknown or revoked." },
  CLIENT_APP_DISABLED: { code: status.UNAUTHENTICATED, message: "The client app is disabled." },
  CLIENT_APP_NOT_FOUND: { code: status.NOT_FOUND, message: "No such client app." },
  LOGIN_METHOD_NOT_ALLOWED: {
    code: status.FAILED_PRECONDITION,
    message: "This login method is not enabled for the client app.",
  },
  // Login
  IDEMPOTENCY_KEY_REUSED: {
    code: status.FAILED_PRECONDITION,
    message: "This Idempotency-Key was already used with a different request.",
  },
  EMAIL_LOCKED: {
    code: status.RESOURCE_EXHAUSTED,
    message: "Too many failed attempts for this email address; retry later.",
  },
  CODE_INVALID: { code: status.UNAUTHENTICATED, message: "The code or link is wrong or no longer valid." },
  CHALLENGE_NOT_FOUND: { code: status.NOT_FOUND, message: "No such login." },
  // Sessions and users
  SESSION_INVALID: { code: status.UNAUTHENTICATED, message: "The session is not valid." },
  REFRESH_TOKEN_REUSED: {
    code: status.UNAUTHENTICATED,
    message: "The refresh token was already used; the session has been revoked.",
  },
  SESSION_NOT_FOUND: { code: status.NOT_FOUND, message: "No such session." },
  USER_NOT_FOUND: { code: status.NOT_FOUND, message: "No such user." },
  // Infrastructure
  STORE_UNAVAILABLE: { code: status.UNAVAILABLE, message: "The store is unavailable; retry later." },
} as const satisfies Record<string, ReasonSpec>;

/** emailauth.mailer.v1.MailerService. */
export const mailerReasons = {
  MESSAGE_NOT_FOUND: { code: status.NOT_FOUND, message: "No such message." },
  QUEUE_UNAVAILABLE: { code: status.UNAVAILABLE, message: "The mail queue is unavailable; retry later." },
} as const satisfies Record<string, ReasonSpec>;

/**
 * emailauth.auth.v1.AuthService, the public API: the gateway's own reasons, and those of
 * persistence it passes on to client apps as they are (the same entry, so the same message).
 * Client apps see these and platform's; the typed client's ErrorReason lists them all.
 */
export const authReasons = {
  REQUEST_TOO_LARGE: {
    code: status.RESOURCE_EXHAUSTED,
    message: "The request is larger than the gateway accepts.",
  },
  ORIGIN_NOT_ALLOWED: {
    code: status.PERMISSION_DENIED,
    message: "This origin is not allowed for the client app.",
  },
  IDEMPOTENCY_KEY_REUSED: persistenceReasons.IDEMPOTENCY_KEY_REUSED,
  API_KEY_INVALID: persistenceReasons.API_KEY_INVALID,
  LOGIN_METHOD_NOT_ALLOWED: persistenceReasons.LOGIN_METHOD_NOT_ALLOWED,
  EMAIL_LOCKED: persistenceReasons.EMAIL_LOCKED,
  CODE_INVALID: persistenceReasons.CODE_INVALID,
  CHALLENGE_NOT_FOUND: persistenceReasons.CHALLENGE_NOT_FOUND,
  SESSION_INVALID: persistenceReasons.SESSION_INVALID,
  REFRESH_TOKEN_REUSED: persistenceReasons.REFRESH_TOKEN_REUSED,
} as const satisfies Record<string, ReasonSpec>;

export type PersistenceReason = keyof typeof persistenceReasons;
export type MailerReason = keyof typeof mailerReasons;
export type AuthReason = keyof typeof authReasons;
