// Issuing and checking one-time login codes: the security defaults of the design, in order.
//   issue:   app enabled -> send limits -> a fresh code, stored as HMAC(secret, challenge ‖ code),
//            bound to its challenge and app, retiring the previous code of (email, app)
//   consume: app enabled -> find the challenge -> one atomic step in the store (count the
//            attempt, compare, consume or count the failure, create the user, open a session)
// Nothing here depends on whether the email belongs to a known user: issuing never looks.
import { appError, type Sealer } from "@emailauth/platform";
import type { ClientApps } from "../client-apps/client-apps.ts";
import {
  ID_PATTERNS,
  newChallengeId,
  newRefreshToken,
  newSessionId,
  newUserId,
  sha256,
  tagOf,
} from "../crypto/ids.ts";
import type { CodeMac, Peppered } from "../crypto/secrets.ts";
import type { ChallengeRecord, LoginRules, SessionRecord, Store, UserRecord } from "../store/store.ts";
import { generateCode, normalizeTypedCode } from "./codes.ts";
import type { SendLimits } from "./send-limits.ts";

export interface SessionLifetimes {
  idleMs: number;
  maxMs: number;
}

export interface IssuedCode {
  challengeId: string;
  code: string;
  expiresAt: number;
  resendAvailableAt: number;
  email: string;
}

export interface LoggedIn {
  user: UserRecord;
  newUser: boolean;
  session: SessionRecord;
  refreshToken: string;
}

/** How long the answer of an idempotent call is kept for retries. */
export const REPLAY_TTL_MS = 10 * 60_000;

export interface LoginCodes {
  issue(p: {
    clientAppId: string;
    email: string;
    ipDigest: string | undefined;
    idempotencyKey: string;
  }): Promise<IssuedCode>;
  consume(p: {
    clientAppId: string;
    target: { challengeId: string } | { email: string };
    code: string;
    userAgent: string;
    idempotencyKey: string;
  }): Promise<LoggedIn>;
  cancel(p: { clientAppId: string; challengeId: string }): Promise<boolean>;
  getChallenge(challengeId: string): Promise<ChallengeRecord>;
}

export interface LoginCodesDeps {
  store: Store;
  clientApps: ClientApps;
  limits: SendLimits;
  peppered: Peppered;
  codeMac: CodeMac;
  clock: () => number;
  rules: LoginRules;
  sessions: SessionLifetimes;
  /** Seals the secrets kept for idempotent retries. */
  sealer: Sealer;
}

export function createLoginCodes(deps: LoginCodesDeps): LoginCodes {
  const { store, clock, rules } = deps;
  const invalid = () => appError("CODE_INVALID");

  return {
    async issue({ clientAppId, email, ipDigest, idempotencyKey }) {
      const app = await deps.clientApps.getActive(clientAppId);
      const person = deps.peppered.person(email);
      // Answers are kept per operation: one key reused for another call must not cross over.
      const replayKey = idempotencyKey && `issue:${idempotencyKey}`;
      if (replayKey) {
        const prior = await store.replayed({ tag: person.tag, clientAppId, key: replayKey });
        if (prior) return JSON.parse(deps.sealer.open(prior)) as IssuedCode;
      }
      const taken = await deps.limits.take({
        emailDigest: person.digest,
        ipDigest,
        clientAppId,
        appPerMinute: app.settings.sendsPerMinute,
      });
      if (!taken.ok) throw appError("RATE_LIMITED", { retryAt: new Date(taken.retryAt) });

      const now = clock();
      const code = generateCode(app.settings.codeAlphabet, app.settings.codeLength);
      const challengeId = newChallengeId(person.tag);
      const expiresAt = now + app.settings.codeTtlSeconds * 1000;
      const kid = deps.codeMac.currentKid;
      const answer: IssuedCode = {
        challengeId,
        code,
        expiresAt,
        resendAvailableAt: taken.resendAvailableAt,
        email,
      };
      const result = await store.issueChallenge({
        tag: person.tag,
        digest: person.digest,
        email,
        clientAppId,
        challengeId,
        kid,
        mac: deps.codeMac.macs(challengeId, code)[kid] as string,
        now,
        expiresAt,
        rules,
        ...(replayKey && {
          replay: { key: replayKey, ttlMs: REPLAY_TTL_MS, value: deps.sealer.seal(JSON.stringify(answer)) },
        }),
      });
      if (!result.ok) throw appError("EMAIL_LOCKED", { retryAt: new Date(result.retryAt) });
      return answer;
    },

    async consume({ clientAppId, target, code, userAgent, idempotencyKey }) {
      const app = await deps.clientApps.getActive(clientAppId);
      const replayKey = idempotencyKey && `consume:${idempotencyKey}`;
      if (replayKey) {
        const tag =
          "challengeId" in target ? tagOf(target.challengeId) : deps.peppered.person(target.email).tag;
        const prior = await store.replayed({ tag, clientAppId, key: replayKey });
        if (prior) return loggedInFrom(prior, clientAppId, userAgent, deps.sealer);
      }
      let challengeId: string | undefined;
      if ("challengeId" in target) {
        if (!ID_PATTERNS.challenge.test(target.challengeId)) throw invalid();
        challengeId = target.challengeId;
      } else {
        const person = deps.peppered.person(target.email);
        challengeId = await store.liveChallengeId({ tag: person.tag, digest: person.digest, clientAppId });
        if (!challengeId) throw invalid();
      }
      const tag = tagOf(challengeId);
      const typed = normalizeTypedCode(code, app.settings.codeAlphabet);
      const refreshToken = newRefreshToken(tag);
      const result = await store.consumeChallenge({
        challengeId,
        clientAppId,
        macs: deps.codeMac.macs(challengeId, typed),
        now: clock(),
        rules,
        newUserId: newUserId(tag),
        session: {
          id: newSessionId(tag),
          refreshTokenHash: sha256(refreshToken),
          idleTtlMs: deps.sessions.idleMs,
          maxTtlMs: deps.sessions.maxMs,
          userAgent,
        },
        ...(replayKey && {
          replay: { key: replayKey, ttlMs: REPLAY_TTL_MS, sealedToken: deps.sealer.seal(refreshToken) },
        }),
      });
      if (!result.ok) {
        if (result.reason === "EMAIL_LOCKED")
          throw appError("EMAIL_LOCKED", { retryAt: new Date(result.retryAt) });
        throw invalid();
      }
      return { user: result.user, newUser: result.newUser, session: result.session, refreshToken };
    },

    async cancel({ clientAppId, challengeId }) {
      if (!ID_PATTERNS.challenge.test(challengeId)) return false;
      const digest = await store.cancelChallenge({ challengeId, clientAppId });
      if (!digest) return false;
      const app = await deps.clientApps.getActive(clientAppId).catch(() => undefined);
      await deps.limits.refund({
        emailDigest: digest,
        clientAppId,
        appPerMinute: app?.settings.sendsPerMinute ?? 0,
      });
      return true;
    },

    async getChallenge(challengeId) {
      const found = ID_PATTERNS.challenge.test(challengeId)
        ? await store.getChallenge({ challengeId, now: clock() })
        : undefined;
      if (!found) throw appError("CHALLENGE_NOT_FOUND");
      return found;
    },
  };
}

/** Rebuilds a login's answer from what the consume step recorded for its idempotency key. */
function loggedInFrom(recorded: string, clientAppId: string, userAgent: string, sealer: Sealer): LoggedIn {
  const r = JSON.parse(recorded) as Record<string, string>;
  const now = Number(r.now);
  return {
    user: { id: r.uid ?? "", email: r.em ?? "", createdAt: Number(r.uca), lastLoginAt: now },
    newUser: r.new === "1",
    session: {
      id: r.sid ?? "",
      userId: r.uid ?? "",
      clientAppId,
      createdAt: now,
      refreshedAt: now,
      idleExpiresAt: Number(r.ie),
      expiresAt: Number(r.exp),
      userAgent,
    },
    refreshToken: sealer.open(r.rt ?? ""),
  };
}
