// Sessions after login: refresh with rotating refresh tokens (a reused token revokes the
// session), look up, list, revoke one or all. A disabled or deleted client app's refresh
// tokens stop working.
import { appError, type Sealer } from "@emailauth/platform";
import type { ClientApps } from "../client-apps/client-apps.ts";
import { ID_PATTERNS, newRefreshToken, sha256, tagOf } from "../crypto/ids.ts";
import { REPLAY_TTL_MS, type SessionLifetimes } from "../login/login-codes.ts";
import type { SessionRecord, Store } from "../store/store.ts";

export interface Sessions {
  refresh(p: {
    clientAppId: string;
    refreshToken: string;
    idempotencyKey: string;
  }): Promise<{ session: SessionRecord; refreshToken: string }>;
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
  sealer: Sealer;
}): Sessions {
  const { store, clock } = deps;
  const scope = (clientAppId: string) => (clientAppId ? { clientAppId } : {});

  return {
    async refresh({ clientAppId, refreshToken, idempotencyKey }) {
      if (!ID_PATTERNS.refreshToken.test(refreshToken)) throw appError("SESSION_INVALID");
      try {
        await deps.clientApps.getActive(clientAppId);
      } catch {
        throw appError("SESSION_INVALID");
      }
      const tag = tagOf(refreshToken);
      const replayKey = idempotencyKey && `refresh:${idempotencyKey}`;
      if (replayKey) {
        // A retry of a refresh that happened: its new token, not a reuse of the old one.
        const prior = await store.replayed({ tag, clientAppId, key: replayKey });
        if (prior) {
          const r = JSON.parse(prior) as Record<string, string>;
          return {
            refreshToken: deps.sealer.open(r.rt ?? ""),
            session: {
              id: r.sid ?? "",
              userId: r.uid ?? "",
              clientAppId,
              createdAt: Number(r.ca),
              refreshedAt: Number(r.now),
              idleExpiresAt: Number(r.ie),
              expiresAt: Number(r.exp),
              userAgent: r.ua ?? "",
            },
          };
        }
      }
      const next = newRefreshToken(tag);
      const result = await store.refreshSession({
        tokenHash: sha256(refreshToken),
        tag,
        newTokenHash: sha256(next),
        clientAppId,
        now: clock(),
        idleTtlMs: deps.lifetimes.idleMs,
        ...(replayKey && {
          replay: { key: replayKey, ttlMs: REPLAY_TTL_MS, sealedToken: deps.sealer.seal(next) },
        }),
      });
      if (!result.ok) throw appError(result.reason);
      return { session: result.session, refreshToken: next };
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
