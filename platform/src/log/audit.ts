// The audit trail: one log line per security-relevant fact, written at info through the call's
// logger (keep LOG_LEVEL at info or lower in production to keep them). Each line has
// `"msg":"audit"`, a stable `audit` event name (each service declares its own with
// defineAudit; new names may be added, none will change meaning), the ids it concerns, and the
// request id of the call (the call's logger carries it). Never a secret: no email address,
// code, API key or token; people are named by their user id only. A log pipeline routes these
// lines on `msg == "audit"`.
import type { Logger } from "./logger.ts";

/** Ids and facts only: what the line is about, never a secret. */
export type AuditFields = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;

export interface Audit<E extends string> {
  /** Every event name this service may write, for log pipelines and tests. */
  readonly events: readonly E[];
  (logger: Logger, event: E, fields?: AuditFields): void;
}

/** A service's audit function, typed by its own event names. */
export function defineAudit<const E extends string>(events: readonly E[]): Audit<E> {
  const write = (logger: Logger, event: E, fields: AuditFields = {}) => {
    logger.info({ audit: event, ...fields }, "audit");
  };
  return Object.assign(write, { events });
}
