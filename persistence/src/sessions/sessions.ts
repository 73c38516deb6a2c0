// Sessions after login: refresh with rotating refresh tokens (a reused token revokes the
// session), look up, list, revoke one or all. A disabled or deleted client app's refresh
// tokens stop working.
import { AppError } from "@emailauth/platform";
import type { ClientApps } from "../client-apps/client-apps.ts";
import { ID_PATTERNS, newRefreshToken, sha256, tagOf } from "../crypto/ids.ts";
import { appError, reasons } from "../errors.ts";
import type { IdempotencyRequest, Idempotent } from "../idempotency/idempotency.ts";
import type { SessionRecord, Store } from "../store/store.ts";

/** REFRESH_TOKEN_REUSED, knowing whose session it revoked (for the audit trail; never sent). */
export class ReuseDetected extends AppError {
  readonly sessionId: string;
  readonly userId: string;
  constructor(ids: { sessionId: string; userId: string }) {
    super("REFRESH_TOKEN_REUSED", reasons.REFRESH_TOKEN_REUSED);
    this.sessionId = ids.sessionId;
    this.userId = ids.userId;
  }
}

/** How long a session lives: idle (refreshed within), and at most. */
export interface SessionLifetimes {
  idleMs: number;
  maxMs: number;
}

export interface Sessions {
  refresh(p: {
    clientAppId: string;
    refreshToken: string;
    idempotency: IdempotencyRequest;
  }): Promise<{ session: SessionRecord; refreshToken: string; replayed: boolean }>;
  get(sessionId: string): Promise<SessionRecord>;
  listForUser(p: { userId: string; clientAppId: string }): Promise<SessionRecord[]>;
  revoke(p: { sessionId: string } | { refreshToken: string }, clientAppId: string): Promise<boolean>;
  revokeForUser(p: { userId: string; clientAppId: string }): Promise<number>;
}

export function createSessions(deps: {
  store: Store;
  clientApps: ClientApps;
  clock: () => number;
  lifetimes: SessionLifetimes;
  idempotent: Idempotent;
}): Sessions {
  const { store, clock } = deps;
  const scope = (clientAppId: string) => (clientAppId ? { clientAppId } : {});

  return {
    async refresh({ clientAppId, refreshToken, idempotency }) {
      if (!ID_PATTERNS.refreshToken.test(refreshToken)) throw appError("SESSION_INVALID");
      try {
        await deps.clientApps.getActive(clientAppId);
      } catch {
        throw appError("SESSION_INVALID");
      }
      const idem = await deps.idempotent.bind("refresh", clientAppId, [refreshToken], idempotency);
      const next = newRefreshToken(tagOf(refreshToken));
      const result = await store.refreshSession({
        tokenHash: sha256(refreshToken),
        tag: tagOf(refreshToken),
        newTokenHash: sha256(next),
        clientAppId,
        now: clock(),
        idleTtlMs: deps.lifetimes.idleMs,
        ...(idem && { idempotency: { ...idem, sealedToken: deps.idempotent.seal(next) } }),
      });
      if (!result.ok && result.reason === "REFRESH_TOKEN_REUSED") {
        throw new ReuseDetected({ sessionId: result.sessionId, userId: result.userId });
      }
      if (!result.ok) throw appError(result.reason);
      // A retry of a refresh that happened gets its new token, not a reuse of the old one.
      return {
        session: result.session,
        refreshToken: result.sealedToken ? deps.idempotent.open(result.sealedToken) : next,
        replayed: Boolean(result.sealedToken),
      };
    },

    async get(sessionId) {
      const s = ID_PATTERNS.session.test(sessionId)
        ? await store.getSession({ sessionId, now: clock() })
        : undefined;
      if (!s) throw appError("SESSION_NOT_FOUND");
      return s;
    },

    async listForUser({ userId, clientAppId }) {
      if (!ID_PATTERNS.user.test(userId) || !(await store.getUser(userId))) throw appError("USER_NOT_FOUND");
      const all = await store.listUserSessions({ userId, now: clock() });
      return clientAppId ? all.filter((s) => s.clientAppId === clientAppId) : all;
    },

    async revoke(target, clientAppId) {
      let sessionId: string | undefined;
      if ("sessionId" in target) {
        sessionId = ID_PATTERNS.session.test(target.sessionId) ? target.sessionId : undefined;
      } else if (ID_PATTERNS.refreshToken.test(target.refreshToken)) {
        sessionId = await store.sessionIdOfToken({
          tag: tagOf(target.refreshToken),
          tokenHash: sha256(target.refreshToken),
        });
      }
      return sessionId ? store.revokeSession({ sessionId, ...scope(clientAppId) }) : false;
    },

    async revokeForUser({ userId, clientAppId }) {
      if (!ID_PATTERNS.user.test(userId)) return 0;
      return store.revokeUserSessions({ userId, ...scope(clientAppId) });
    },
  };
}
