// The audit trail: one log line per security-relevant fact, written at info through the call's
// logger (keep LOG_LEVEL at info or lower in production to keep them). Each line has
// `"msg":"audit"`, a stable `audit` event name (below; new names may be added, none will
// change meaning), the ids it concerns, and the request id of the call (the call's logger
// carries it). Never a secret: no email address, code, API key or token; people are named by
// their user id only. A log pipeline routes these lines on `msg == "audit"`.
import type { Logger } from "./logger.ts";

export const AUDIT_EVENTS = [
  /** A one-time code was issued and its email queued (StartLogin). */
  "login_code.issued",
  /** A code was checked and did not match (or was expired, used, unknown). */
  "login.verification_failed",
  /** A code refused (StartLogin) or a verification refused because the address is locked. */
  "email.locked",
  /** A verification refused because a failed-guess budget is spent (SECURITY.md). */
  "login.verification_throttled",
  /** A person logged in for the first time: their user was created. */
  "user.created",
  /** A login succeeded and a session was opened. */
  "session.opened",
  /** A refresh token was traded for a new pair. */
  "session.refreshed",
  /** A used refresh token came back: the whole session was revoked. */
  "session.reuse_detected",
  /** One session was logged out. */
  "session.revoked",
  /** Every session of a user (in one app, or all) was logged out. */
  "user.sessions_revoked",
  /** A user and everything about them was erased. */
  "user.deleted",
  "client_app.created",
  "client_app.updated",
  "client_app.key_rotated",
  "client_app.disabled",
  "client_app.enabled",
  "client_app.deleted",
  /** Signing keys were loaded (at start-up: a rotation shows as a new active kid). */
  "signing_keys.loaded",
] as const;

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export interface AuditFields {
  clientAppId?: string;
  userId?: string;
  sessionId?: string;
  challengeId?: string;
  newUser?: boolean;
  count?: number;
  reason?: string;
  activeKid?: string;
  kids?: string[];
  /** The login method of a verification or a new session ("code", "link"). */
  method?: string;
}

export function audit(logger: Logger, event: AuditEvent, fields: AuditFields = {}): void {
  logger.info({ audit: event, ...fields }, "audit");
}
