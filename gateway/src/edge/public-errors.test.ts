// What a client app may learn from a failure: the gateway's own errors as they are, upstream
// errors through the allowlist by reason (outages become UPSTREAM_UNAVAILABLE with a retry
// time, anything unexpected INTERNAL), and the public reason's message, never the upstream's.

import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { AppError, platformReasons, type Reasons } from "@emailauth/platform";
import { mailerReasons, persistenceReasons } from "@emailauth/proto/reasons";
import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { appError } from "../errors.ts";
import { reasonOf, toConnectError, toPublic } from "./public-errors.ts";

const upstreamReasons: Reasons = { ...platformReasons, ...persistenceReasons, ...mailerReasons };

/** An AppError as the upstream client makes it: the grpc-js ServiceError as its cause. */
function fromUpstream(reason: string, message = "internal detail: redis at 10.0.0.7") {
  const cause = Object.assign(new Error(message), {
    code: status.UNKNOWN,
    details: message,
    metadata: new Metadata(),
  });
  const entry = upstreamReasons[reason] ?? platformReasons.INTERNAL;
  return new AppError(reason, entry, { message, cause, upstream: "persistence" });
}

describe("toPublic", () => {
  it("keeps the gateway's own refusals, and logs only its faults", () => {
    expect(toPublic(appError("RATE_LIMITED"))).toMatchObject({
      error: { reason: "RATE_LIMITED" },
      log: undefined,
    });
    expect(toPublic(appError("INTERNAL")).log).toBe("error");
    expect(toPublic(new Error("boom"))).toMatchObject({ error: { reason: "INTERNAL" }, log: "error" });
  });

  it("passes the upstream reasons a client app acts on, folds the others", () => {
    for (const reason of [
      "CODE_INVALID",
      "EMAIL_LOCKED",
      "SESSION_INVALID",
      "REFRESH_TOKEN_REUSED",
    ] as const) {
      expect(toPublic(fromUpstream(reason)).error.reason).toBe(reason);
    }
    expect(toPublic(fromUpstream("CLIENT_APP_DISABLED")).error.reason).toBe("API_KEY_INVALID");
    expect(toPublic(fromUpstream("USER_NOT_FOUND"))).toMatchObject({
      error: { reason: "INTERNAL" },
      log: "error",
    });
  });

  it("turns an outage into UPSTREAM_UNAVAILABLE with a time to retry, logged as a warning", () => {
    for (const reason of [
      "STORE_UNAVAILABLE",
      "QUEUE_UNAVAILABLE",
      "DEADLINE_EXCEEDED",
      "OVERLOADED",
    ] as const) {
      const { error, log } = toPublic(fromUpstream(reason));
      expect([reason, error.reason, log]).toEqual([reason, "UPSTREAM_UNAVAILABLE", "warn"]);
      expect(error.retryAt?.getTime()).toBeGreaterThan(Date.now());
    }
  });
});

describe("toConnectError", () => {
  it("says the public reason's message for upstream errors, never the upstream's text", () => {
    const err = toConnectError(toPublic(fromUpstream("CODE_INVALID")).error);
    expect(err.rawMessage).toBe("The code or link is wrong or no longer valid.");
    // What goes on the wire: the message, the metadata, the details.
    const wire = new TextDecoder().decode(errorToJsonBytes(err, {})) + JSON.stringify([...err.metadata]);
    expect(wire).not.toContain("10.0.0.7");
    expect(reasonOf(err)).toBe("CODE_INVALID");
  });

  it("keeps the gateway's own input message, which names the field", () => {
    const err = toConnectError(appError("INVALID_ARGUMENT", { message: "email: too long" }));
    expect(err.rawMessage).toBe("email: too long");
  });

  it("sends the retry time as the detail's retryAt and as Retry-After, in whole seconds", () => {
    const err = toConnectError(appError("RATE_LIMITED", { retryAt: new Date(Date.now() + 2_500) }));
    expect(err.metadata.get("retry-after")).toBe("3");
  });
});
