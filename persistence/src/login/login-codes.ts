// Issuing and checking one-time login proofs (codes, magic-link tokens: login/methods/): the
// security defaults of the design, in order.
//   issue:   app enabled -> idempotency key claimed -> limits across people (IP, app, global)
//            -> one atomic step in the store (a retry's recorded answer, the email's lock and
//            send limits, a fresh proof per login method of the app stored as HMAC(secret,
//            challenge ‖ proof) bound to its challenge and app, retiring the previous challenge
//            of (email, app), the answer recorded)
//   consume: app enabled and using the method -> idempotency key claimed -> the challenge
//            found -> its guess taken from
//            the guess budgets -> one atomic step in the store (a retry's recorded answer, count
//            the attempt, compare, consume or count the failure, create the user, open a
//            session) -> the guess settled with the budgets
// Nothing here depends on whether the email belongs to a known user: issuing never looks.
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
import type { IdempotencyRequest, Idempotent } from "../idempotency/idempotency.ts";
import type { GuessBudget } from "../limits/guess-budget.ts";
import { guessWeight } from "../limits/guess-weight.ts";
import type { SendLimits } from "../limits/send-limits.ts";
import type { SessionLifetimes } from "../sessions/sessions.ts";
import type {
  ChallengeRecord,
  ChallengeRef,
  EmailSendLimits,
  LoginMethodName,
  LoginRules,
  SessionRecord,
  Store,
  UserRecord,
} from "../store/store.ts";
import { LOGIN_METHODS } from "./methods/index.ts";

export type { SessionLifetimes };

export interface IssuedCode {
  challengeId: string;
  /** "" when the app does not use codes. */
  code: string;
  /** The magic link's token; "" when the app does not use links. */
  linkToken: string;
  /** The page the link opens (the app's link_url when the token was made); "" without one. */
  linkUrl: string;
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
    /** The presented proof: a typed code, or a link token (with a challenge id). */
    proof: { method: LoginMethodName; value: string };
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
      const { settings } = app;
      // Only methods a later version added (and this one dropped when reading): nothing to send.
      if (settings.loginMethods.length === 0) throw appError("LOGIN_METHOD_NOT_ALLOWED");
      const idem = await deps.idempotent.bind("issue", clientAppId, [email, ipDigest ?? ""], idempotency);
      const person = deps.peppered.person(email);
      const usesCode = settings.loginMethods.includes("code");
      const hardened = usesCode && (await deps.budget.underPressure(clientAppId));
      const spanning = { ipDigest, clientAppId, appPerMinute: app.settings.sendsPerMinute };
      const taken = await deps.limits.take(spanning);

      const now = clock();
      const challengeId = newChallengeId(person.tag);
      const kid = deps.codeMac.currentKid;
      const proofs: Partial<Record<LoginMethodName, string>> = {};
      const proofMacs: Partial<Record<LoginMethodName, string>> = {};
      for (const method of settings.loginMethods) {
        const proof = LOGIN_METHODS[method].newProof(settings, hardened);
        proofs[method] = proof;
        proofMacs[method] = deps.codeMac.macs(challengeId, proof)[kid] as string;
      }
      const answer: RecordedIssue = {
        challengeId,
        code: proofs.code ?? "",
        linkToken: proofs.link ?? "",
        linkUrl: proofs.link ? settings.linkUrl : "",
        expiresAt: now + settings.codeTtlSeconds * 1000,
        email,
      };
      // On a failure to reach the store, the limits taken stay taken: the step may have run.
      const result = await store.issueChallenge({
        tag: person.tag,
        digest: person.digest,
        email,
        clientAppId,
        challengeId,
        kid,
        proofMacs,
        now,
        expiresAt: answer.expiresAt,
        rules,
        emailLimits: deps.emailLimits,
        // A guess at a challenge weighs as one at its code; a link token alone cannot be
        // guessed (the least weight).
        guessWeight: usesCode ? guessWeight(settings.codeAlphabet, answer.code.length) : 1,
        ...(!taken.ok && { refusedUntil: taken.retryAt }),
        ...(idem && {
          idempotency: { ...idem, sealedAnswer: deps.idempotent.seal(JSON.stringify(answer)) },
        }),
      });
      if (result.ok && !("replay" in result))
        return { ...answer, resendAvailableAt: result.resendAvailableAt };
      // No code was sent by this call: what it took from the limits goes back.
      if (taken.ok) await deps.limits.refund(spanning);
      if (result.ok) {
        const recorded = JSON.parse(deps.idempotent.open(result.replay.sealedAnswer)) as RecordedIssue;
        // Answers recorded before links existed have no link token.
        return {
          ...recorded,
          linkToken: recorded.linkToken ?? "",
          linkUrl: recorded.linkUrl ?? "",
          resendAvailableAt: result.replay.resendAvailableAt,
          replayed: true,
        };
      }
      if (result.reason === "IDEMPOTENCY_KEY_REUSED") throw appError(result.reason);
      throw appError(result.reason, { retryAt: new Date(result.retryAt) });
    },

    async consume({ clientAppId, target, proof, userAgent, idempotency }) {
      const app = await deps.clientApps.getActive(clientAppId);
      // The app's current settings decide, not those its challenge was issued under: an app
      // that stops using a method stops its pending proofs too.
      if (!app.settings.loginMethods.includes(proof.method)) throw appError("LOGIN_METHOD_NOT_ALLOWED");
      const byId = "challengeId" in target;
      if (byId && !ID_PATTERNS.challenge.test(target.challengeId)) throw invalid();
      const idem = await deps.idempotent.bind(
        "consume",
        clientAppId,
        [
          byId ? `challenge:${target.challengeId}` : `email:${target.email}`,
          // A code as it always was (records in flight across an upgrade); other proofs named.
          proof.method === "code" ? proof.value : `${proof.method}:${proof.value}`,
          userAgent,
        ],
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
          method: proof.method,
          macs: challengeId
            ? deps.codeMac.macs(challengeId, LOGIN_METHODS[proof.method].canonical(proof.value, app.settings))
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
          ...(idem && { idempotency: { ...idem, sealedToken: deps.idempotent.seal(refreshToken) } }),
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
          refreshToken: result.sealedToken ? deps.idempotent.open(result.sealedToken) : refreshToken,
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
