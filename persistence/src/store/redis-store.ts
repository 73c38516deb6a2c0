// The Redis driver of the store: standalone, Sentinel or Cluster (whatever client it is given).
// Every operation that must be atomic is one Lua script (see scripts/ and keys.ts); reads are
// plain commands. No KEYS, no SCAN on the hot path; every expiring datum has a TTL.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { endSpan, SpanKind, tracing } from "@emailauth/platform";
import { closeRedisClient, type RedisClient } from "@emailauth/platform/redis";
import { tagOf } from "../crypto/ids.ts";
import { appsPrefix, personPrefix } from "./keys.ts";
import {
  type ChallengeRecord,
  type ChallengeRef,
  type ChallengeState,
  type ClientAppRecord,
  type ClientAppSettingsRecord,
  type ConsumeParams,
  type ConsumeResult,
  type IssueParams,
  type IssueResult,
  loginMethodOf,
  loginMethodsOf,
  MAX_GUESS_WEIGHT,
  type RefreshParams,
  type RefreshResult,
  type SessionRecord,
  type Store,
  type UserRecord,
} from "./store.ts";

const SCRIPTS = {
  issueChallenge: 1,
  consumeChallenge: 1,
  refreshSession: 1,
  revokeSession: 1,
  revokeUserSessions: 1,
  listUserSessions: 1,
  deleteUser: 1,
  createClientApp: 3,
  findClientAppByKey: 1,
  updateClientApp: 1,
  rotateClientAppKey: 1,
  deleteClientApp: 2,
  cancelChallenge: 1,
  findLiveChallenge: 1,
} as const;

type ScriptName = keyof typeof SCRIPTS;
type Reply = string | number | null | Reply[];

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function loadScripts(
  client: RedisClient,
): (name: ScriptName, keys: string[], args: (string | number)[]) => Promise<Reply> {
  const dir = join(import.meta.dirname, "scripts");
  const lib = readFileSync(join(dir, "lib.lua"), "utf8");
  for (const [name, numberOfKeys] of Object.entries(SCRIPTS)) {
    const body = readFileSync(join(dir, `${kebab(name)}.lua`), "utf8");
    client.defineCommand(`ea_${name}`, { numberOfKeys, lua: `${lib}\n${body}` });
  }
  const commands = client as unknown as Record<string, (...args: (string | number)[]) => Promise<Reply>>;
  return (name, keys, args) => {
    const run = () =>
      (commands[`ea_${name}`] as (...a: (string | number)[]) => Promise<Reply>)(...keys, ...args);
    if (!tracing().enabled) return run();
    // A span per script (one Redis round trip). Its name and the operation only: keys and
    // arguments are derived from people's addresses and secrets.
    const span = tracing().tracer.startSpan(`redis ${name}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        "db.system.name": "redis",
        "db.operation.name": "EVALSHA",
        "db.stored_procedure.name": name,
      },
    });
    return run().then(
      (reply) => {
        endSpan(span, { code: "ok" });
        return reply;
      },
      (err: unknown) => {
        endSpan(span, { code: "error" });
        throw err;
      },
    );
  };
}

const STATES: Record<string, ChallengeState> = {
  p: "pending",
  c: "consumed",
  s: "superseded",
  x: "exhausted",
  n: "canceled",
};

function pairs(flat: Reply): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(flat)) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

export function parseSettings(json: string): ClientAppSettingsRecord {
  const s = JSON.parse(json) as Partial<ClientAppSettingsRecord>;
  return {
    displayName: String(s.displayName ?? ""),
    senderAddress: String(s.senderAddress ?? ""),
    codeAlphabet: s.codeAlphabet === "alphanumeric" ? "alphanumeric" : "digits",
    codeLength: Number(s.codeLength ?? 6),
    codeTtlSeconds: Number(s.codeTtlSeconds ?? 600),
    allowedOrigins: Array.isArray(s.allowedOrigins) ? s.allowedOrigins.map(String) : [],
    sendsPerMinute: Number(s.sendsPerMinute ?? 0),
    loginMethods: loginMethodsOf(s.loginMethods),
    linkUrl: String(s.linkUrl ?? ""),
  };
}

function appFrom(h: Record<string, string>): ClientAppRecord | undefined {
  if (!h.id) return undefined;
  return {
    id: h.id,
    settings: parseSettings(h.settings ?? "{}"),
    keyPrefix: h.kp ?? "",
    disabled: h.dis === "1",
    createdAt: Number(h.ca),
    updatedAt: Number(h.ua),
  };
}

/** A stored guess weight; a challenge recorded without one counts as the weakest code. */
function weightOf(raw: string): number {
  const w = Number(raw);
  return raw !== "" && Number.isFinite(w) && w > 0 ? w : MAX_GUESS_WEIGHT;
}

export interface RedisStoreOptions {
  client: RedisClient;
  /** Prefix of every key, e.g. "ea:". */
  prefix: string;
}

export function createRedisStore(options: RedisStoreOptions): Store {
  const { client, prefix } = options;
  const run = loadScripts(client);
  const P = (id: string) => personPrefix(prefix, tagOf(id));
  const A = appsPrefix(prefix);

  const sessionFrom = (sid: string, uid: string, f: string[]): SessionRecord => ({
    id: sid,
    userId: uid,
    clientAppId: f[0] ?? "",
    createdAt: Number(f[1]),
    refreshedAt: Number(f[2]),
    idleExpiresAt: Number(f[3]),
    expiresAt: Number(f[4]),
    userAgent: f[5] ?? "",
    loginMethod: loginMethodOf(f[6]),
  });

  const userFrom = (h: Record<string, string>): UserRecord | undefined =>
    h.id
      ? {
          id: h.id,
          email: h.em ?? "",
          createdAt: Number(h.ca),
          lastLoginAt: h.ll ? Number(h.ll) : undefined,
        }
      : undefined;

  return {
    kind: "redis",

    async claimIdempotencyKey(p) {
      // One key per (app, key) for the whole app, in any slot: a key name of fixed length.
      const name = createHash("sha256").update(`${p.clientAppId}\0${p.key}`).digest("base64url");
      const previous = await client.set(`${prefix}ik:${name}`, p.fingerprint, "PX", p.ttlMs, "NX", "GET");
      if (previous === null) return "new";
      return previous === p.fingerprint ? "same" : "different";
    },

    async issueChallenge(p: IssueParams): Promise<IssueResult> {
      const pp = personPrefix(prefix, p.tag);
      const r = (await run(
        "issueChallenge",
        [`${pp}c:${p.challengeId}`],
        [
          pp,
          p.challengeId,
          p.clientAppId,
          p.digest,
          p.email,
          p.kid,
          JSON.stringify(p.proofMacs),
          p.now,
          p.expiresAt,
          p.rules.challengeRetentionMs,
          p.rules.maxFailures,
          p.emailLimits.cooldownMs,
          p.emailLimits.perHour,
          p.guessWeight,
          p.refusedUntil ?? 0,
          p.idempotency?.key ?? "",
          p.idempotency?.fingerprint ?? "",
          p.idempotency?.sealedAnswer ?? "",
          p.idempotency?.ttlMs ?? 0,
        ],
      )) as string[];
      switch (r[0]) {
        case "OK":
          return { ok: true, supersededChallengeId: r[1] || undefined, resendAvailableAt: Number(r[2]) };
        case "REPLAY":
          return { ok: true, replay: { sealedAnswer: r[1] ?? "", resendAvailableAt: Number(r[2]) } };
        case "EMAIL_LOCKED":
        case "RATE_LIMITED":
          return { ok: false, reason: r[0], retryAt: Number(r[1]) };
        default:
          return { ok: false, reason: "IDEMPOTENCY_KEY_REUSED" };
      }
    },

    async findChallenge(p): Promise<ChallengeRef | undefined> {
      const guessable = (challengeId: string, [app, st, exp, w]: (string | null)[]) =>
        app === p.clientAppId && st === "p" && Number(exp) > p.now
          ? { challengeId, guessWeight: weightOf(w ?? "") }
          : undefined;
      if ("challengeId" in p) {
        const c = `${P(p.challengeId)}c:${p.challengeId}`;
        return guessable(p.challengeId, await client.hmget(c, "app", "st", "exp", "w"));
      }
      const pp = personPrefix(prefix, p.tag);
      const found = await run("findLiveChallenge", [`${pp}l:${p.clientAppId}:${p.digest}`], [pp]);
      if (!Array.isArray(found)) return undefined;
      return guessable(
        String(found[0]),
        found.slice(1).map((x) => (x === null ? null : String(x))),
      );
    },

    async consumeChallenge(p: ConsumeParams): Promise<ConsumeResult> {
      const pp = personPrefix(prefix, p.tag);
      const r = (await run(
        "consumeChallenge",
        [`${pp}c:${p.challengeId ?? ""}`],
        [
          pp,
          p.clientAppId,
          p.now,
          JSON.stringify(p.macs),
          p.rules.maxAttempts,
          p.rules.maxFailures,
          p.rules.failureWindowMs,
          p.newUserId,
          p.session.id,
          p.session.refreshTokenHash,
          p.session.idleTtlMs,
          p.session.maxTtlMs,
          p.session.userAgent,
          p.challengeId ?? "",
          p.idempotency?.key ?? "",
          p.idempotency?.fingerprint ?? "",
          p.idempotency?.sealedToken ?? "",
          p.idempotency?.ttlMs ?? 0,
          p.refusedUntil ?? 0,
          p.method,
        ],
      )) as string[];
      const [status, uid = "", email = "", created, isNew, sid = "", idle, exp] = r;
      const loggedIn = (at: number) => ({
        newUser: isNew === "1",
        user: { id: uid, email, createdAt: Number(created), lastLoginAt: at },
        session: {
          id: sid,
          userId: uid,
          clientAppId: p.clientAppId,
          createdAt: at,
          refreshedAt: at,
          idleExpiresAt: Number(idle),
          expiresAt: Number(exp),
          userAgent: p.session.userAgent,
          loginMethod: p.method,
        },
      });
      switch (status) {
        case "OK":
          return {
            ok: true,
            ...loggedIn(p.now),
            guess: { succeeded: true, weight: weightOf(r[8] ?? ""), priorFailures: Number(r[9]) },
          };
        case "REPLAY":
          return { ok: true, ...loggedIn(Number(r[9])), sealedToken: r[8] ?? "" };
        case "CODE_INVALID":
          return r.length > 1
            ? {
                ok: false,
                reason: "CODE_INVALID",
                guess: { succeeded: false, weight: weightOf(r[1] ?? ""), priorFailures: 0 },
              }
            : { ok: false, reason: "CODE_INVALID" };
        case "EMAIL_LOCKED":
        case "RATE_LIMITED":
          return { ok: false, reason: status, retryAt: Number(r[1]) };
        case "SESSION_INVALID":
          return { ok: false, reason: "SESSION_INVALID" };
        default:
          return { ok: false, reason: "IDEMPOTENCY_KEY_REUSED" };
      }
    },

    async getChallenge(p): Promise<ChallengeRecord | undefined> {
      const [app, exp, iss, att, st] = await client.hmget(
        `${P(p.challengeId)}c:${p.challengeId}`,
        "app",
        "exp",
        "iss",
        "att",
        "st",
      );
      if (!app || !st) return undefined;
      const expiresAt = Number(exp);
      let state = STATES[st] ?? "expired";
      if (state === "pending" && expiresAt <= p.now) state = "expired";
      const attempts = Number(att);
      return {
        id: p.challengeId,
        clientAppId: app,
        state,
        issuedAt: Number(iss),
        expiresAt,
        failedAttempts: state === "consumed" ? attempts - 1 : attempts,
      };
    },

    async cancelChallenge(p) {
      const pp = P(p.challengeId);
      const d = await run(
        "cancelChallenge",
        [`${pp}c:${p.challengeId}`],
        [pp, p.clientAppId, p.challengeId, p.now],
      );
      return typeof d === "string" ? d : undefined;
    },

    async refreshSession(p: RefreshParams): Promise<RefreshResult> {
      const pp = personPrefix(prefix, p.tag);
      const r = (await run(
        "refreshSession",
        [`${pp}rt:${p.tokenHash}`],
        [
          pp,
          p.newTokenHash,
          p.clientAppId,
          p.now,
          p.idleTtlMs,
          p.idempotency?.key ?? "",
          p.idempotency?.fingerprint ?? "",
          p.idempotency?.sealedToken ?? "",
          p.idempotency?.ttlMs ?? 0,
        ],
      )) as string[];
      const [status, sid = "", uid = "", created, idle, exp, ua = ""] = r;
      if (status === "REFRESH_TOKEN_REUSED")
        return { ok: false, reason: status, sessionId: sid, userId: uid };
      if (status !== "OK" && status !== "REPLAY") {
        return { ok: false, reason: status === "IDEMPOTENCY_KEY_REUSED" ? status : "SESSION_INVALID" };
      }
      return {
        ok: true,
        session: {
          id: sid,
          userId: uid,
          clientAppId: p.clientAppId,
          createdAt: Number(created),
          refreshedAt: status === "REPLAY" ? Number(r[8]) : p.now,
          idleExpiresAt: Number(idle),
          expiresAt: Number(exp),
          userAgent: ua,
          loginMethod: loginMethodOf(status === "REPLAY" ? r[9] : r[7]),
        },
        ...(status === "REPLAY" && { sealedToken: r[7] ?? "" }),
      };
    },

    async getSession(p) {
      const f = await client.hmget(
        `${P(p.sessionId)}s:${p.sessionId}`,
        "uid",
        "app",
        "ca",
        "ref",
        "ie",
        "exp",
        "ua",
        "lm",
      );
      const [uid, ...rest] = f;
      if (!uid) return undefined;
      const s = sessionFrom(
        p.sessionId,
        uid,
        rest.map((x) => x ?? ""),
      );
      return s.idleExpiresAt > p.now && s.expiresAt > p.now ? s : undefined;
    },

    async listUserSessions(p) {
      const pp = P(p.userId);
      const flat = (await run("listUserSessions", [`${pp}us:${p.userId}`], [pp])) as string[];
      const out: SessionRecord[] = [];
      for (let i = 0; i + 7 < flat.length; i += 8) {
        const s = sessionFrom(flat[i] ?? "", p.userId, flat.slice(i + 1, i + 8));
        if (s.idleExpiresAt > p.now && s.expiresAt > p.now) out.push(s);
      }
      return out.sort((a, b) => b.createdAt - a.createdAt);
    },

    async revokeSession(p) {
      const pp = P(p.sessionId);
      const n = await run("revokeSession", [`${pp}s:${p.sessionId}`], [pp, p.sessionId, p.clientAppId ?? ""]);
      return n === 1;
    },

    async sessionIdOfToken(p) {
      const v = await client.get(`${personPrefix(prefix, p.tag)}rt:${p.tokenHash}`);
      return v ? v.replace(/:old$/, "") : undefined;
    },

    async revokeUserSessions(p) {
      const pp = P(p.userId);
      return Number(await run("revokeUserSessions", [`${pp}us:${p.userId}`], [pp, p.clientAppId ?? ""]));
    },

    async getUser(userId) {
      return userFrom(await client.hgetall(`${P(userId)}u:${userId}`));
    },

    async findUser(p) {
      const pp = personPrefix(prefix, p.tag);
      const uid = await client.get(`${pp}idx:${p.digest}`);
      return uid ? userFrom(await client.hgetall(`${pp}u:${uid}`)) : undefined;
    },

    async deleteUser(userId) {
      const pp = P(userId);
      const d = await run("deleteUser", [`${pp}u:${userId}`], [pp, userId]);
      return typeof d === "string" ? { deleted: true, digest: d } : { deleted: false, digest: undefined };
    },

    async createClientApp(app, keyHash) {
      await run(
        "createClientApp",
        [`${A}a:${app.id}`, `${A}k:${keyHash}`, `${A}all`],
        [app.id, JSON.stringify(app.settings), app.keyPrefix, keyHash, app.createdAt],
      );
    },

    async getClientApp(id) {
      return appFrom(await client.hgetall(`${A}a:${id}`));
    },

    async findClientAppByKeyHash(keyHash) {
      return appFrom(pairs(await run("findClientAppByKey", [`${A}k:${keyHash}`], [A])));
    },

    async listClientApps(p) {
      const [next, ids] = await client.sscan(`${A}all`, p.cursor || "0", "COUNT", p.count);
      const apps = await Promise.all(ids.map((id) => client.hgetall(`${A}a:${id}`)));
      return {
        apps: apps.map(appFrom).filter((a): a is ClientAppRecord => a !== undefined),
        nextCursor: next === "0" ? "" : next,
      };
    },

    async updateClientAppSettings(id, settings, now) {
      return appFrom(
        pairs(
          await run("updateClientApp", [`${A}a:${id}`], ["settings", JSON.stringify(settings), "ua", now]),
        ),
      );
    },

    async rotateClientAppKey(id, p) {
      return appFrom(
        pairs(
          await run("rotateClientAppKey", [`${A}a:${id}`], [A, p.keyHash, p.keyPrefix, p.graceMs, p.now]),
        ),
      );
    },

    async setClientAppDisabled(id, disabled, now) {
      return appFrom(
        pairs(await run("updateClientApp", [`${A}a:${id}`], ["dis", disabled ? "1" : "0", "ua", now])),
      );
    },

    async deleteClientApp(id) {
      return (await run("deleteClientApp", [`${A}a:${id}`, `${A}all`], [A, id])) === 1;
    },

    async ping() {
      await client.ping();
    },

    async close() {
      await closeRedisClient(client);
    },
  };
}
