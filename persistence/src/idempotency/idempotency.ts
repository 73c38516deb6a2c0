// Idempotency keys of the three retryable operations (issue, consume, refresh). A key is scoped
// to (client app, operation) and bound to a fingerprint of the whole request: an HMAC, under a
// key derived from the pepper, of every field the operation receives (the credential it
// presents included) and of the caller's own fingerprint of its request. The store checks the
// record, does the work and records the answer in one atomic step (see the Lua scripts);
// a key given by a caller's client is also claimed app-wide first, so that reusing it for
// another person's request is refused too, not only within one person's slot. The answers
// recorded for retries hold secrets (a code, a refresh token): they are sealed here, and
// only here, before they reach the store.
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from "node:crypto";
import type { Sealer } from "@emailauth/platform";
import { appError } from "../errors.ts";
import type { Idempotency, Store } from "../store/store.ts";

/** How long the answer of an idempotent call is kept for retries. */
export const IDEMPOTENCY_TTL_MS = 10 * 60_000;

export type IdempotentOperation = "issue" | "consume" | "refresh";

/** What a caller says about the idempotency of its request. */
export interface IdempotencyRequest {
  /** "" for none. */
  key: string;
  /** The caller's digest of its own whole request (may be empty). */
  requestFingerprint: Uint8Array;
  /** The caller made the key itself, unique by construction: no app-wide check needed. */
  generated: boolean;
}

export interface Idempotent {
  /**
   * The store's idempotency for one request, or undefined without a key. Throws
   * IDEMPOTENCY_KEY_REUSED when a client-given key already names another request of the app.
   */
  bind(
    operation: IdempotentOperation,
    clientAppId: string,
    fields: readonly string[],
    request: IdempotencyRequest,
  ): Promise<Idempotency | undefined>;
  /** An answer to record for retries, sealed (AES-256-GCM under keys outside the store). */
  seal(answer: string): string;
  /** A recorded answer, opened. */
  open(sealed: string): string;
}

export function createIdempotent(deps: { store: Store; pepper: string; sealer: Sealer }): Idempotent {
  const key: KeyObject = createSecretKey(
    Buffer.from(hkdfSync("sha256", deps.pepper, "emailauth", "idempotency-fingerprint", 32)),
  );
  return {
    async bind(operation, clientAppId, fields, request) {
      if (!request.key) return undefined;
      // JSON: an unambiguous encoding of the field list (no separator can be forged).
      const fingerprint = createHmac("sha256", key)
        .update(
          JSON.stringify([
            operation,
            clientAppId,
            ...fields,
            Buffer.from(request.requestFingerprint).toString("base64"),
          ]),
        )
        .digest("base64url");
      const bound = { key: `${operation}:${request.key}`, fingerprint, ttlMs: IDEMPOTENCY_TTL_MS };
      if (!request.generated) {
        const claim = await deps.store.claimIdempotencyKey({ clientAppId, ...bound });
        if (claim === "different") throw appError("IDEMPOTENCY_KEY_REUSED");
      }
      return bound;
    },
    seal: (answer) => deps.sealer.seal(answer),
    open: (sealed) => deps.sealer.open(sealed),
  };
}
