// Issuing and checking one-time login codes: the security defaults of the design, in order.
//   issue:   app enabled -> send limits -> a fresh code, stored as HMAC(secret, challenge ‖ code),
//            bound to its challenge and app, retiring the previous code of (email, app)
//   consume: app enabled -> find the challenge -> one atomic step in the store (count the
//            attempt, compare, consume or count the failure, create the user, open a session)
// Nothing here depends on whether the email belongs to a known user: issuing never looks.
import { appError } from "@emailauth/platform";
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

export interface LoginCodes {
  issue(p: { clientAppId: string; email: string; ipDigest: string | undefined }): Promise<IssuedCode>;
  consume(p: {
    clientAppId: string;
    target: { challengeId: string } | { email: string };
    code: string;
    userAgent: string;
  }): Promise<LoggedIn>;
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
}

export function createLoginCodes(deps: LoginCodesDeps): LoginCodes {
  const { store, clock, rules } = deps;
  const invalid = () => appError("CODE_INVALID");

  return {
    async issue({ clientAppId, email, ipDigest }) {
      const app = await deps.clientApps.getActive(clientAppId);
      const person = deps.peppered.person(email);
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
      });
      if (!result.ok) throw appError("EMAIL_LOCKED", { retryAt: new Date(result.retryAt) });
      return { challengeId, code, expiresAt, resendAvailableAt: taken.resendAvailableAt, email };
    },

    async consume({ clientAppId, target, code, userAgent }) {
      const app = await deps.clientApps.getActive(clientAppId);
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
      });
      if (!result.ok) {
        if (result.reason === "EMAIL_LOCKED")
          throw appError("EMAIL_LOCKED", { retryAt: new Date(result.retryAt) });
        throw invalid();
      }
      return { user: result.user, newUser: result.newUser, session: result.session, refreshToken };
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
