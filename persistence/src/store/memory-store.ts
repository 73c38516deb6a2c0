// The in-memory driver of the store: the embedded default for a first run (no Redis needed).
// It follows the Redis driver rule for rule — the same contract tests run against both — but
// lives in one process and loses everything on restart: never use it in production (the
// configuration refuses it there). JavaScript runs one operation at a time, so each method
// below is as atomic as the Lua script it mirrors.
import { tagOf } from "../crypto/ids.ts";
import type {
  ChallengeRecord,
  ChallengeRef,
  ClientAppRecord,
  ConsumeParams,
  ConsumeResult,
  IssueParams,
  IssueResult,
  LoginMethodName,
  RefreshParams,
  RefreshResult,
  SessionRecord,
  Store,
  UserRecord,
} from "./store.ts";

interface Challenge {
  app: string;
  digest: string;
  email: string;
  kid: string;
  /** The MAC of the proof of each login method; emptied once the challenge is closed. */
  proofMacs: Partial<Record<LoginMethodName, string>>;
  issuedAt: number;
  expiresAt: number;
  attempts: number;
  state: "p" | "c" | "s" | "x" | "n";
  purgeAt: number;
  guessWeight: number;
}

/** What an idempotent call recorded (see the Lua scripts: the same fields). */
type Recorded =
  | { op: "issue"; challengeId: string; sealedAnswer: string; resendAvailableAt: number }
  | {
      op: "consume";
      ok: true;
      user: UserRecord;
      newUser: boolean;
      session: SessionRecord;
      sealedToken: string;
      tokenHash: string;
    }
  | { op: "consume"; ok: false }
  | { op: "refresh"; session: SessionRecord; sealedToken: string; tokenHash: string };

interface Session {
  userId: string;
  app: string;
  createdAt: number;
  refreshedAt: number;
  idleExpiresAt: number;
  expiresAt: number;
  userAgent: string;
  loginMethod: LoginMethodName;
  tokens: Set<string>;
}

interface User {
  id: string;
  email: string;
  digest: string;
  createdAt: number;
  lastLoginAt: number | undefined;
}

const personKey = (tag: string, digest: string) => `${tag}:${digest}`;

export function createMemoryStore(options: { clock?: () => number } = {}): Store {
  const clock = options.clock ?? Date.now;
  const challenges = new Map<string, Challenge>();
  const live = new Map<string, { challengeId: string; expiresAt: number }>();
  const failures = new Map<string, { count: number; resetAt: number }>();
  const emailIndex = new Map<string, string>();
  const users = new Map<string, User>();
  const userSessions = new Map<string, Set<string>>();
  const sessions = new Map<string, Session>();
  const tokens = new Map<string, { sessionId: string; old: boolean; expiresAt: number }>();
  const apps = new Map<string, { record: ClientAppRecord; keyHash: string }>();
  const appKeys = new Map<string, { appId: string; expiresAt: number }>();
  // Answers of idempotent calls, by "<tag>:<app>:<key>", with their request's fingerprint and
  // the email digest they belong to (for erasure).
  const records = new Map<
    string,
    { fingerprint: string; recorded: Recorded; expiresAt: number; digest: string }
  >();
  const recordKey = (tag: string, app: string, key: string) => `${tag}:${app}:${key}`;
  // Client-given idempotency keys, app-wide: "<app>\0<key>" -> fingerprint.
  const claims = new Map<string, { fingerprint: string; expiresAt: number }>();
  // Per-email send limits: the cooldown's end, and the hourly count with its window's end.
  const cooldowns = new Map<string, number>();
  const hourly = new Map<string, { sent: number; windowEnd: number }>();

  const liveKey = (tag: string, app: string, digest: string) => `${tag}:${app}:${digest}`;

  /** The record of an idempotent call, if kept; "different" if it names another request. */
  const recordOf = (tag: string, app: string, key: string, fingerprint: string, now: number) => {
    const r = records.get(recordKey(tag, app, key));
    if (!r || r.expiresAt <= now) return undefined;
    return r.fingerprint === fingerprint ? r.recorded : "different";
  };
  const record = (
    tag: string,
    app: string,
    digest: string,
    now: number,
    idem: { key: string; fingerprint: string; ttlMs: number } | undefined,
    recorded: Recorded,
  ) => {
    if (!idem) return;
    records.set(recordKey(tag, app, idem.key), {
      fingerprint: idem.fingerprint,
      recorded,
      expiresAt: now + idem.ttlMs,
      digest,
    });
  };
  /** See session_stands in lib.lua. */
  const sessionStands = (sessionId: string, tokenHash: string, now: number) => {
    const s = sessions.get(sessionId);
    const t = tokens.get(tokenHash);
    return (
      s !== undefined &&
      s.idleExpiresAt > now &&
      s.expiresAt > now &&
      t !== undefined &&
      !t.old &&
      t.sessionId === sessionId &&
      t.expiresAt > now
    );
  };

  const failuresOf = (tag: string, digest: string, now: number) => {
    const f = failures.get(personKey(tag, digest));
    if (!f || f.resetAt <= now) return undefined;
    return f;
  };

  const revoke = (sessionId: string): boolean => {
    const s = sessions.get(sessionId);
    if (!s) return false;
    for (const h of s.tokens) tokens.delete(h);
    sessions.delete(sessionId);
    userSessions.get(s.userId)?.delete(sessionId);
    return true;
  };

  const liveSession = (sessionId: string, now: number) => {
    const s = sessions.get(sessionId);
    if (!s) return undefined;
    if (s.idleExpiresAt <= now || s.expiresAt <= now) {
      if (s.idleExpiresAt <= now) revoke(sessionId); // Redis would have expired the record
      return undefined;
    }
    return s;
  };

  const toSession = (id: string, s: Session): SessionRecord => ({
    id,
    userId: s.userId,
    clientAppId: s.app,
    createdAt: s.createdAt,
    refreshedAt: s.refreshedAt,
    idleExpiresAt: s.idleExpiresAt,
    expiresAt: s.expiresAt,
    userAgent: s.userAgent,
    loginMethod: s.loginMethod,
  });

  const toUser = (u: User): UserRecord => ({
    id: u.id,
    email: u.email,
    createdAt: u.createdAt,
    lastLoginAt: u.lastLoginAt,
  });

  const copyApp = (a: ClientAppRecord): ClientAppRecord => structuredClone(a);

  // Expired entries are removed as Redis would remove them (lazily on access, and here by a
  // periodic sweep so memory stays bounded).
  const sweep = () => {
    const now = clock();
    for (const [id, c] of challenges) if (c.purgeAt <= now) challenges.delete(id);
    for (const [k, l] of live) if (l.expiresAt <= now) live.delete(k);
    for (const [k, f] of failures) if (f.resetAt <= now) failures.delete(k);
    for (const [id, s] of sessions) if (s.idleExpiresAt <= now || s.expiresAt <= now) revoke(id);
    for (const [h, t] of tokens) if (t.expiresAt <= now) tokens.delete(h);
    for (const [h, k] of appKeys) if (k.expiresAt <= now) appKeys.delete(h);
    for (const [k, r] of records) if (r.expiresAt <= now) records.delete(k);
    for (const [k, c] of claims) if (c.expiresAt <= now) claims.delete(k);
    for (const [k, until] of cooldowns) if (until <= now) cooldowns.delete(k);
    for (const [k, h] of hourly) if (h.windowEnd <= now) hourly.delete(k);
  };
  const sweeper = setInterval(sweep, 60_000);
  sweeper.unref();

  return {
    kind: "memory",

    async claimIdempotencyKey(p) {
      const k = `${p.clientAppId}\0${p.key}`;
      const now = clock();
      const claim = claims.get(k);
      if (!claim || claim.expiresAt <= now) {
        claims.set(k, { fingerprint: p.fingerprint, expiresAt: now + p.ttlMs });
        return "new";
      }
      return claim.fingerprint === p.fingerprint ? "same" : "different";
    },

    async issueChallenge(p: IssueParams): Promise<IssueResult> {
      const idem = p.idempotency;
      if (idem) {
        const prior = recordOf(p.tag, p.clientAppId, idem.key, idem.fingerprint, p.now);
        if (prior === "different") return { ok: false, reason: "IDEMPOTENCY_KEY_REUSED" };
        if (prior?.op === "issue") {
          // A code canceled because its email could not be queued no longer stands.
          if (challenges.get(prior.challengeId)?.state !== "n") {
            return {
              ok: true,
              replay: { sealedAnswer: prior.sealedAnswer, resendAvailableAt: prior.resendAvailableAt },
            };
          }
          records.delete(recordKey(p.tag, p.clientAppId, idem.key));
        }
      }
      const f = failuresOf(p.tag, p.digest, p.now);
      if (f && f.count >= p.rules.maxFailures)
        return { ok: false, reason: "EMAIL_LOCKED", retryAt: f.resetAt };

      const pk = personKey(p.tag, p.digest);
      let retry = p.refusedUntil ?? 0;
      const coolUntil = cooldowns.get(pk) ?? 0;
      if (coolUntil > p.now) retry = Math.max(retry, coolUntil);
      let window = hourly.get(pk);
      if (!window || window.windowEnd <= p.now) window = { sent: 0, windowEnd: p.now + 3_600_000 };
      if (window.sent >= p.emailLimits.perHour) retry = Math.max(retry, window.windowEnd);
      if (retry > 0) return { ok: false, reason: "RATE_LIMITED", retryAt: retry };

      const lk = liveKey(p.tag, p.clientAppId, p.digest);
      const old = live.get(lk);
      const oldId = old && old.expiresAt > p.now ? old.challengeId : undefined;
      const oldChallenge = oldId ? challenges.get(oldId) : undefined;
      if (oldChallenge?.state === "p") {
        oldChallenge.state = "s";
        oldChallenge.proofMacs = {};
      }
      challenges.set(p.challengeId, {
        app: p.clientAppId,
        digest: p.digest,
        email: p.email,
        kid: p.kid,
        proofMacs: { ...p.proofMacs },
        issuedAt: p.now,
        expiresAt: p.expiresAt,
        attempts: 0,
        state: "p",
        purgeAt: p.expiresAt + p.rules.challengeRetentionMs,
        guessWeight: p.guessWeight,
      });
      live.set(lk, { challengeId: p.challengeId, expiresAt: p.expiresAt });

      let resendAvailableAt = p.now;
      if (p.emailLimits.cooldownMs > 0) {
        resendAvailableAt = p.now + p.emailLimits.cooldownMs;
        cooldowns.set(pk, resendAvailableAt);
      }
      hourly.set(pk, { sent: window.sent + 1, windowEnd: window.windowEnd });
      if (window.sent + 1 >= p.emailLimits.perHour)
        resendAvailableAt = Math.max(resendAvailableAt, window.windowEnd);
      record(p.tag, p.clientAppId, p.digest, p.now, idem, {
        op: "issue",
        challengeId: p.challengeId,
        sealedAnswer: idem?.sealedAnswer ?? "",
        resendAvailableAt,
      });
      return { ok: true, supersededChallengeId: oldId, resendAvailableAt };
    },

    async findChallenge(p): Promise<ChallengeRef | undefined> {
      let challengeId: string | undefined;
      if ("challengeId" in p) challengeId = p.challengeId;
      else {
        const l = live.get(liveKey(p.tag, p.clientAppId, p.digest));
        challengeId = l && l.expiresAt > p.now ? l.challengeId : undefined;
      }
      const c = challengeId ? challenges.get(challengeId) : undefined;
      const guessable = c && c.app === p.clientAppId && c.state === "p" && c.expiresAt > p.now;
      return challengeId && guessable ? { challengeId, guessWeight: c.guessWeight } : undefined;
    },

    async consumeChallenge(p: ConsumeParams): Promise<ConsumeResult> {
      const idem = p.idempotency;
      if (idem) {
        const prior = recordOf(p.tag, p.clientAppId, idem.key, idem.fingerprint, p.now);
        if (prior === "different") return { ok: false, reason: "IDEMPOTENCY_KEY_REUSED" };
        if (prior?.op === "consume") {
          if (!prior.ok) return { ok: false, reason: "CODE_INVALID" };
          if (!sessionStands(prior.session.id, prior.tokenHash, p.now))
            return { ok: false, reason: "SESSION_INVALID" };
          return {
            ok: true,
            user: { ...prior.user },
            newUser: prior.newUser,
            session: { ...prior.session },
            sealedToken: prior.sealedToken,
          };
        }
      }
      if (p.refusedUntil) return { ok: false, reason: "RATE_LIMITED", retryAt: p.refusedUntil };
      const c = p.challengeId ? challenges.get(p.challengeId) : undefined;
      if (!p.challengeId || !c || c.purgeAt <= p.now || c.app !== p.clientAppId)
        return { ok: false, reason: "CODE_INVALID" };
      const challengeId = p.challengeId;
      const tag = tagOf(challengeId);
      const pk = personKey(tag, c.digest);
      const f = failuresOf(tag, c.digest, p.now);
      if (f && f.count >= p.rules.maxFailures)
        return { ok: false, reason: "EMAIL_LOCKED", retryAt: f.resetAt };
      if (c.state !== "p" || c.expiresAt <= p.now) return { ok: false, reason: "CODE_INVALID" };

      c.attempts += 1;
      const close = (state: "c" | "x") => {
        c.state = state;
        c.proofMacs = {};
        const lk = liveKey(tag, c.app, c.digest);
        if (live.get(lk)?.challengeId === challengeId) live.delete(lk);
      };
      // Compared with the proof of the presented method only (absent: the app does not use it).
      const proof = c.proofMacs[p.method];
      if (proof === undefined || p.macs[c.kid] !== proof) {
        if (f) f.count += 1;
        else failures.set(pk, { count: 1, resetAt: p.now + p.rules.failureWindowMs });
        if (c.attempts >= p.rules.maxAttempts) close("x");
        record(tag, p.clientAppId, c.digest, p.now, idem, { op: "consume", ok: false });
        return {
          ok: false,
          reason: "CODE_INVALID",
          guess: { succeeded: false, weight: c.guessWeight, priorFailures: 0 },
        };
      }
      close("c");
      failures.delete(pk);

      let userId = emailIndex.get(pk);
      let newUser = false;
      if (!userId) {
        userId = p.newUserId;
        emailIndex.set(pk, userId);
        users.set(userId, {
          id: userId,
          email: c.email,
          digest: c.digest,
          createdAt: p.now,
          lastLoginAt: undefined,
        });
        newUser = true;
      }
      const user = users.get(userId) as User;
      user.lastLoginAt = p.now;

      const expiresAt = p.now + p.session.maxTtlMs;
      const session: Session = {
        userId,
        app: p.clientAppId,
        createdAt: p.now,
        refreshedAt: p.now,
        idleExpiresAt: Math.min(p.now + p.session.idleTtlMs, expiresAt),
        expiresAt,
        userAgent: p.session.userAgent,
        loginMethod: p.method,
        tokens: new Set([p.session.refreshTokenHash]),
      };
      sessions.set(p.session.id, session);
      tokens.set(p.session.refreshTokenHash, {
        sessionId: p.session.id,
        old: false,
        expiresAt: session.idleExpiresAt,
      });
      const set = userSessions.get(userId) ?? new Set<string>();
      set.add(p.session.id);
      userSessions.set(userId, set);
      const result = { newUser, user: toUser(user), session: toSession(p.session.id, session) };
      record(tag, p.clientAppId, c.digest, p.now, idem, {
        op: "consume",
        ok: true,
        ...structuredClone(result),
        sealedToken: idem?.sealedToken ?? "",
        tokenHash: p.session.refreshTokenHash,
      });
      return {
        ok: true,
        ...result,
        guess: { succeeded: true, weight: c.guessWeight, priorFailures: c.attempts - 1 },
      };
    },

    async getChallenge(p): Promise<ChallengeRecord | undefined> {
      const c = challenges.get(p.challengeId);
      if (!c || c.purgeAt <= p.now) return undefined;
      const states = { p: "pending", c: "consumed", s: "superseded", x: "exhausted", n: "canceled" } as const;
      const state = c.state === "p" && c.expiresAt <= p.now ? "expired" : states[c.state];
      return {
        id: p.challengeId,
        clientAppId: c.app,
        state,
        issuedAt: c.issuedAt,
        expiresAt: c.expiresAt,
        failedAttempts: state === "consumed" ? c.attempts - 1 : c.attempts,
      };
    },

    async cancelChallenge(p) {
      const c = challenges.get(p.challengeId);
      if (!c || c.app !== p.clientAppId || c.state !== "p" || c.expiresAt <= p.now) return undefined;
      c.state = "n";
      c.proofMacs = {};
      const tag = tagOf(p.challengeId);
      const lk = liveKey(tag, c.app, c.digest);
      if (live.get(lk)?.challengeId === p.challengeId) live.delete(lk);
      const pk = personKey(tag, c.digest);
      cooldowns.delete(pk);
      const window = hourly.get(pk);
      if (window && window.sent > 0) window.sent -= 1;
      return c.digest;
    },

    async refreshSession(p: RefreshParams): Promise<RefreshResult> {
      const idem = p.idempotency;
      if (idem) {
        const prior = recordOf(p.tag, p.clientAppId, idem.key, idem.fingerprint, p.now);
        if (prior === "different") return { ok: false, reason: "IDEMPOTENCY_KEY_REUSED" };
        if (prior?.op === "refresh") {
          if (!sessionStands(prior.session.id, prior.tokenHash, p.now))
            return { ok: false, reason: "SESSION_INVALID" };
          return { ok: true, session: { ...prior.session }, sealedToken: prior.sealedToken };
        }
      }
      const t = tokens.get(p.tokenHash);
      if (!t || t.expiresAt <= p.now) return { ok: false, reason: "SESSION_INVALID" };
      const s = sessions.get(t.sessionId);
      if (!s || s.app !== p.clientAppId) return { ok: false, reason: "SESSION_INVALID" };
      if (t.old) {
        revoke(t.sessionId);
        return { ok: false, reason: "REFRESH_TOKEN_REUSED", sessionId: t.sessionId, userId: s.userId };
      }
      if (s.idleExpiresAt <= p.now || s.expiresAt <= p.now) return { ok: false, reason: "SESSION_INVALID" };
      t.old = true;
      t.expiresAt = s.expiresAt;
      s.refreshedAt = p.now;
      s.idleExpiresAt = Math.min(p.now + p.idleTtlMs, s.expiresAt);
      s.tokens.add(p.newTokenHash);
      tokens.set(p.newTokenHash, { sessionId: t.sessionId, old: false, expiresAt: s.idleExpiresAt });
      const session = toSession(t.sessionId, s);
      record(p.tag, p.clientAppId, users.get(s.userId)?.digest ?? "", p.now, idem, {
        op: "refresh",
        session: { ...session },
        sealedToken: idem?.sealedToken ?? "",
        tokenHash: p.newTokenHash,
      });
      return { ok: true, session };
    },

    async getSession(p) {
      const s = liveSession(p.sessionId, p.now);
      return s ? toSession(p.sessionId, s) : undefined;
    },

    async listUserSessions(p) {
      const out: SessionRecord[] = [];
      for (const id of userSessions.get(p.userId) ?? []) {
        const s = liveSession(id, p.now);
        if (s) out.push(toSession(id, s));
      }
      return out.sort((a, b) => b.createdAt - a.createdAt);
    },

    async revokeSession(p) {
      const s = liveSession(p.sessionId, clock());
      if (!s || (p.clientAppId && s.app !== p.clientAppId)) return false;
      return revoke(p.sessionId);
    },

    async sessionIdOfToken(p) {
      const t = tokens.get(p.tokenHash);
      return t && t.expiresAt > clock() ? t.sessionId : undefined;
    },

    async revokeUserSessions(p) {
      let count = 0;
      for (const id of [...(userSessions.get(p.userId) ?? [])]) {
        const s = liveSession(id, clock());
        if (!s) continue;
        if (!p.clientAppId || s.app === p.clientAppId) count += revoke(id) ? 1 : 0;
      }
      return count;
    },

    async getUser(userId) {
      const u = users.get(userId);
      return u ? toUser(u) : undefined;
    },

    async findUser(p) {
      const id = emailIndex.get(personKey(p.tag, p.digest));
      const u = id ? users.get(id) : undefined;
      return u ? toUser(u) : undefined;
    },

    async deleteUser(userId) {
      const u = users.get(userId);
      if (!u) return { deleted: false, digest: undefined };
      const tag = tagOf(userId);
      for (const id of userSessions.get(userId) ?? []) revoke(id);
      userSessions.delete(userId);
      for (const [id, c] of challenges) if (c.digest === u.digest && tagOf(id) === tag) challenges.delete(id);
      for (const k of live.keys()) if (k.startsWith(`${tag}:`) && k.endsWith(`:${u.digest}`)) live.delete(k);
      const pk = personKey(tag, u.digest);
      if (emailIndex.get(pk) === userId) emailIndex.delete(pk);
      failures.delete(pk);
      cooldowns.delete(pk);
      hourly.delete(pk);
      for (const [k, r] of records) if (r.digest === u.digest && k.startsWith(`${tag}:`)) records.delete(k);
      users.delete(userId);
      return { deleted: true, digest: u.digest };
    },

    async createClientApp(app, keyHash) {
      apps.set(app.id, { record: copyApp(app), keyHash });
      appKeys.set(keyHash, { appId: app.id, expiresAt: Number.POSITIVE_INFINITY });
    },

    async getClientApp(id) {
      const a = apps.get(id);
      return a ? copyApp(a.record) : undefined;
    },

    async findClientAppByKeyHash(keyHash) {
      const k = appKeys.get(keyHash);
      if (!k || k.expiresAt <= clock()) return undefined;
      const a = apps.get(k.appId);
      return a ? copyApp(a.record) : undefined;
    },

    async listClientApps(p) {
      const ids = [...apps.keys()].sort();
      const start = p.cursor ? ids.findIndex((id) => id > p.cursor) : 0;
      const page = start < 0 ? [] : ids.slice(start, start + p.count);
      const last = page.at(-1);
      const more = last !== undefined && ids.at(-1) !== last;
      return {
        apps: page.map((id) => copyApp((apps.get(id) as { record: ClientAppRecord }).record)),
        nextCursor: more ? last : "",
      };
    },

    async updateClientAppSettings(id, settings, now) {
      const a = apps.get(id);
      if (!a) return undefined;
      a.record.settings = structuredClone(settings);
      a.record.updatedAt = now;
      return copyApp(a.record);
    },

    async rotateClientAppKey(id, p) {
      const a = apps.get(id);
      if (!a) return undefined;
      const old = appKeys.get(a.keyHash);
      if (old) {
        if (p.graceMs > 0) old.expiresAt = Math.min(old.expiresAt, p.now + p.graceMs);
        else appKeys.delete(a.keyHash);
      }
      appKeys.set(p.keyHash, { appId: id, expiresAt: Number.POSITIVE_INFINITY });
      a.keyHash = p.keyHash;
      a.record.keyPrefix = p.keyPrefix;
      a.record.updatedAt = p.now;
      return copyApp(a.record);
    },

    async setClientAppDisabled(id, disabled, now) {
      const a = apps.get(id);
      if (!a) return undefined;
      a.record.disabled = disabled;
      a.record.updatedAt = now;
      return copyApp(a.record);
    },

    async deleteClientApp(id) {
      const a = apps.get(id);
      if (!a) return false;
      appKeys.delete(a.keyHash);
      apps.delete(id);
      return true;
    },

    async ping() {},

    async close() {
      clearInterval(sweeper);
    },
  };
}
