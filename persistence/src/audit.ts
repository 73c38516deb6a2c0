// Persistence's audit events: the facts of logins, sessions, users and client apps
// (platform's defineAudit writes them; see its comment for the line's shape).
import { defineAudit } from "@emailauth/platform";

export const audit = defineAudit([
  /** A one-time code (and link) was issued and its email queued (StartLogin). */
  "login_code.issued",
  /** A code or link token was checked and did not match (or was expired, used, unknown). */
  "login.verification_failed",
  /** A code refused (StartLogin) or a verification refused because the address is locked. */
  "email.locked",
  /** A verification refused because a failed-guess budget is spent (SECURITY.md). */
  "login.verification_throttled",
  /** A person logged in for the first time: their user was created. */
  "user.created",
  /** A login succeeded and a session was opened (with its login method). */
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
]);
