// The gateway's audit events (platform's defineAudit writes them).
import { defineAudit } from "@emailauth/platform";

export const audit = defineAudit([
  /** Signing keys were loaded (at start-up: a rotation shows as a new active kid). */
  "signing_keys.loaded",
]);
