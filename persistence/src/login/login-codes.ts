// Issuing and checking one-time login codes: the security defaults of the design, in order.
//   issue:   app enabled -> idempotency key claimed -> limits across people (IP, app, global)
//            -> one atomic step in the store (a retry's recorded answer, the email's lock and
//            send limits, a fresh code stored as HMAC(secret, challenge ‖ code) bound to its
//            challenge and app, retiring the previous code of (email, app), the answer recorded)
//   consume: app enabled -> idempotency key claimed -> the code found -> its guess taken from
//            the guess budgets -> one atomic step in the store (a retry's recorded answer, count
//            the attempt, compare, consume or count the failure, create the user, open a
//            session) -> the guess settled with the budgets
// Nothing here depends on whether the email belongs to a known user: issuing never looks.
import type { Sealer } from "@emailauth/platform";
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
import { appError } from "../errors.ts";
import type { SessionLifetimes } from "../sessions/sessions.ts";
import type {
  ChallengeRecord,
  ChallengeRef,
  EmailSendLimits,
  LoginRules,
  SessionRecord,
  Store,
  UserRecord,
} from "../store/store.ts";
import { generateCode, normalizeTypedCode } from "./codes.ts";
import type { GuessBudget } from "./guess-budget.ts";
import { guessWeight, hardenedLength } from "./guess-weight.ts";
import type { IdempotencyRequest, Idempotent } from "./idempotency.ts";
import type { SendLimits } from "./send-limits.ts";

export type { SessionLifetimes };

export interface IssuedCode {
  challengeId: string;
  code: string;
  expiresAt: number;
  resendAvailableAt: number;
  email: string;
  /** The recorded answer of an earlier call with the same idempotency key: nothing new happened. */
  replayed?: boolean;
}

export interface LoggedIn {
  user: UserRecord;
  newUser: boolean;
  session: SessionRecord;
  refreshToken: string;
  /** The recorded answer of an earlier call with the same idempotency key: nothing new happened. */
  replayed?: boolean;
}

export interface LoginCodes {
  issue(p: {
    clientAppId: string;
    email: string;
    ipDigest: string | undefined;
    idempotency: IdempotencyRequest;
  }): Promise<IssuedCode>;
  consume(p: {
    clientAppId: string;
    target: { challengeId: string } | { email: string };
    code: string;
    userAgent: string;
    idempotency: IdempotencyRequest;
  }): Promise<LoggedIn>;
  cancel(p: { clientAppId: string; challengeId: string }): Promise<boolean>;
  getChallenge(challengeId: string): Promise<ChallengeRecord>;
}

export interface LoginCodesDeps {
  store: Store;
  clientApps: ClientApps;
  limits: SendLimits;
  emailLimits: EmailSendLimits;
  budget: GuessBudget;
  idempotent: Idempotent;
  peppered: Peppered;
  codeMac: CodeMac;
  clock: () => number;
  rules: LoginRules;
  sessions: SessionLifetimes;
  /** Seals the secrets kept for idempotent retries. */
  sealer: Sealer;
}

/** The answer recorded for a retried issue (sealed: it holds the code). */
type RecordedIssue = Omit<IssuedCode, "resendAvailableAt">;

export function createLoginCodes(deps: LoginCodesDeps): LoginCodes {
  const { store, clock, rules } = deps;
  const invalid = () => appError("CODE_INVALID");
  const verifying = new Map<string, Promise<void>>();
  /** Runs `work` after every earlier work for `key` on this replica; tells it whether it waited. */
  const oneAtATime = async <T>(key: string, work: (waited: boolean) => Promise<T>): Promise<T> => {
    const before = verifying.get(key);
    const { promise: mine, resolve: release } = Promise.withResolvers<void>();
    verifying.set(key, mine);
    try {
      if (before) await before;
      return await work(before !== undefined);
    } finally {
      release();
      if (verifying.get(key) === mine) verifying.delete(key);
    }
  };

  return {
    async issue({ clientAppId, email, ipDigest, idempotency }) {
      const app = await deps.clientApps.getActive(clientAppId);
      const idem = await deps.idempotent.bind("issue", clientAppId, [email, ipDigest ?? ""], idempotency);
      const person = deps.peppered.person(email);
      const { codeAlphabet } = app.settings;
      // While guessing is under pressure, codes are issued at their longest (guess-budget.ts).
      const length = (await deps.budget.underPressure(clientAppId))
        ? hardenedLength(codeAlphabet)
        : app.settings.codeLength;
      const spanning = { ipDigest, clientAppId, appPerMinute: app.settings.sendsPerMinute };
      const taken = await deps.limits.take(spanning);

      const now = clock();
      const code = generateCode(codeAlphabet, length);
      const challengeId = newChallengeId(person.tag);
      const answer: RecordedIssue = {
        challengeId,
        code,
        expiresAt: now + app.settings.codeTtlSeconds * 1000,
        email,
      };
      const kid = deps.codeMac.currentKid;
      // On a failure to reach the store, the limits taken stay taken: the step may have run.
      const result = await store.issueChallenge({
        tag: person.tag,
        digest: person.digest,
        email,
        clientAppId,
        challengeId,
        kid,
        mac: deps.codeMac.macs(challengeId, code)[kid] as string,
        now,
        expiresAt: answer.expiresAt,
        rules,
        emailLimits: deps.emailLimits,
        guessWeight: guessWeight(codeAlphabet, length),
        ...(!taken.ok && { refusedUntil: taken.retryAt }),
        ...(idem && {
          idempotency: { ...idem, sealedAnswer: deps.sealer.seal(JSON.stringify(answer)) },
        }),
      });
      if (result.ok && !("replay" in result))
        return { ...answer, resendAvailableAt: result.resendAvailableAt };
      // No code was sent by this call: what it took from the limits goes back.
      if (taken.ok) await deps.limits.refund(spanning);
      if (result.ok) {
        const recorded = JSON.parse(deps.sealer.open(result.replay.sealedAnswer)) as RecordedIssue;
        return { ...recorded, resendAvailableAt: result.replay.resendAvailableAt, replayed: true };
      }
      if (result.reason === "IDEMPOTENCY_KEY_REUSED") throw appError(result.reason);
      throw appError(result.reason, { retryAt: new Date(result.retryAt) });
    },

    async consume({ clientAppId, target, code, userAgent, idempotency }) {
      const app = await deps.clientApps.getActive(clientAppId);
      const byId = "challengeId" in target;
      if (byId && !ID_PATTERNS.challenge.test(target.challengeId)) throw invalid();
      const idem = await deps.idempotent.bind(
        "consume",
        clientAppId,
        [byId ? `challenge:${target.challengeId}` : `email:${target.email}`, code, userAgent],
        idempotency,
      );
      const person = byId ? undefined : deps.peppered.person(target.email);
      const tag = byId ? tagOf(target.challengeId) : (person?.tag as string);
      // Only a code that can still be guessed (pending, unexpired, this app's) takes a guess's
      // weight from the budgets; any other gets CODE_INVALID, or its replay, for free.
      const lookup = () =>
        store.findChallenge({
          ...(byId ? target : { tag, digest: person?.digest as string }),
          clientAppId,
          now: clock(),
        });
      const found = await lookup();
      // Nothing to check and nothing to replay.
      if (!found && !idem) throw invalid();
      const refreshToken = newRefreshToken(tag);
      const check = async (ref: ChallengeRef | undefined) => {
        const reservation = ref ? await deps.budget.reserve(clientAppId, ref.guessWeight) : undefined;
        const challengeId = ref?.challengeId;
        const outcome = await store.consumeChallenge({
          tag,
          challengeId,
          clientAppId,
          macs: challengeId
            ? deps.codeMac.macs(challengeId, normalizeTypedCode(code, app.settings.codeAlphabet))
            : {},
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
          ...(reservation && !reservation.ok && { refusedUntil: reservation.retryAt }),
          ...(idem && { idempotency: { ...idem, sealedToken: deps.sealer.seal(refreshToken) } }),
        });
        if (reservation?.ok) await reservation.settle("guess" in outcome ? outcome.guess : undefined);
        return outcome;
      };
      // Verifications of one code run one at a time on this replica: concurrent duplicates
      // would each hold a guess's weight for at most one real guess. One that waited looks again.
      const result = found
        ? await oneAtATime(found.challengeId, async (waited) => check(waited ? await lookup() : found))
        : await check(undefined);
      if (result.ok) {
        return {
          user: result.user,
          newUser: result.newUser,
          session: result.session,
          refreshToken: result.sealedToken ? deps.sealer.open(result.sealedToken) : refreshToken,
          replayed: Boolean(result.sealedToken),
        };
      }
      if (result.reason === "EMAIL_LOCKED" || result.reason === "RATE_LIMITED")
        throw appError(result.reason, { retryAt: new Date(result.retryAt) });
      if (result.reason === "CODE_INVALID") throw invalid();
      throw appError(result.reason);
    },

    async cancel({ clientAppId, challengeId }) {
      if (!ID_PATTERNS.challenge.test(challengeId)) return false;
      const digest = await store.cancelChallenge({ challengeId, clientAppId, now: clock() });
      if (!digest) return false;
      const app = await deps.clientApps.getActive(clientAppId).catch(() => undefined);
      await deps.limits.refund({
        ipDigest: undefined,
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
