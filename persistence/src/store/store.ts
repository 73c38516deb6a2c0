// The storage contract of persistence: domain operations, each atomic where the security
// rules need it (issue, consume, refresh, erase). Two drivers implement it — Redis (Lua
// scripts, standalone/Sentinel/Cluster) and memory (the embedded default) — and one contract
// test suite (persistence/test/store-contract.ts) runs unchanged against both.
//
// Times are epoch milliseconds passed in by the caller (its clock), so that both drivers apply
// the same rules and tests can move time.
import type { RedisClient } from "@emailauth/platform/redis";

export type ChallengeState = "pending" | "consumed" | "expired" | "superseded" | "exhausted" | "canceled";

export interface UserRecord {
  id: string;
  email: string;
  createdAt: number;
  lastLoginAt: number | undefined;
}

export interface SessionRecord {
  id: string;
  userId: string;
  clientAppId: string;
  createdAt: number;
  refreshedAt: number;
  idleExpiresAt: number;
  expiresAt: number;
  userAgent: string;
  /** How the email was proved when the session opened (sessions from before: "code"). */
  loginMethod: LoginMethodName;
}

export interface ChallengeRecord {
  id: string;
  clientAppId: string;
  state: ChallengeState;
  issuedAt: number;
  expiresAt: number;
  failedAttempts: number;
}

/** The characters a client app's codes are made of: defined here once, used by login/ too. */
export type CodeAlphabet = "digits" | "alphanumeric";

/** The code lengths a client app's settings allow, per alphabet (and the default). */
export const CODE_LENGTHS: Readonly<Record<CodeAlphabet, { min: number; max: number; default: number }>> = {
  digits: { min: 6, max: 10, default: 6 },
  alphanumeric: { min: 8, max: 12, default: 8 },
};

/**
 * What one wrong guess at the weakest code the settings allow (6 digits) weighs in the guess
 * budgets (limits/guess-weight.ts); a challenge stored without a weight counts as that.
 */
export const MAX_GUESS_WEIGHT = 1_000_000;

/** Where the rate-limit counters live: the store's Redis, or this process. */
export type LimitsBackend = { kind: "memory" } | { kind: "redis"; client: RedisClient; prefix: string };

/**
 * The ways of proving an email (login/methods/ has one module each). A challenge keeps one
 * proof (its MAC) per method of its app, and is consumed by the first one presented.
 */
export const LOGIN_METHOD_NAMES = ["code", "link"] as const;
export type LoginMethodName = (typeof LOGIN_METHOD_NAMES)[number];

/** A stored method name; records from before login methods existed were codes. */
export function loginMethodOf(raw: unknown): LoginMethodName {
  return LOGIN_METHOD_NAMES.find((m) => m === raw) ?? "code";
}

/**
 * An app's stored methods. Names this version does not know (a rollback) are dropped, never
 * read as codes: an app that used only those ends up with none, and issues nothing.
 */
export function loginMethodsOf(raw: unknown): LoginMethodName[] {
  if (!Array.isArray(raw)) return ["code"]; // apps saved before login methods existed
  return LOGIN_METHOD_NAMES.filter((m) => raw.includes(m));
}

export interface ClientAppSettingsRecord {
  displayName: string;
  senderAddress: string;
  codeAlphabet: CodeAlphabet;
  codeLength: number;
  codeTtlSeconds: number;
  allowedOrigins: string[];
  /** 0: the configured default. */
  sendsPerMinute: number;
  /** At least one, each once. */
  loginMethods: LoginMethodName[];
  /** The page magic links open; "" without links. */
  linkUrl: string;
}

export interface ClientAppRecord {
  id: string;
  settings: ClientAppSettingsRecord;
  keyPrefix: string;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

/** The security limits the atomic steps apply. */
export interface LoginRules {
  /** Wrong guesses per code before it dies. */
  maxAttempts: number;
  /** Failures per email (across codes) before the email is locked... */
  maxFailures: number;
  /** ...counted in a window that starts at the first failure. */
  failureWindowMs: number;
  /** How long a challenge's outcome stays readable after it expires. */
  challengeRetentionMs: number;
}

/**
 * An idempotent call's key and the fingerprint of the request it names. The driver keeps the
 * record in the person's slot, checks it, does the work and records the answer in one atomic
 * step: a retry gets the first answer, a concurrent duplicate waits its turn, and a key used
 * with another request (another fingerprint) is refused.
 */
export interface Idempotency {
  /** "<operation>:<key>" (the driver scopes it to the client app). */
  key: string;
  /** HMAC of the whole request (see idempotency/idempotency.ts). */
  fingerprint: string;
  ttlMs: number;
}

/** The limits on sending codes to one email, applied in the issue step itself. */
export interface EmailSendLimits {
  /** 0: no cooldown. */
  cooldownMs: number;
  perHour: number;
}

export interface IssueParams {
  tag: string;
  digest: string;
  email: string;
  clientAppId: string;
  challengeId: string;
  kid: string;
  /** The MAC (under `kid`) of the challenge's proof for each of its login methods. */
  proofMacs: Partial<Record<LoginMethodName, string>>;
  now: number;
  expiresAt: number;
  rules: LoginRules;
  emailLimits: EmailSendLimits;
  /** What one failed guess at this code weighs in the guess budgets (see limits/guess-budget.ts). */
  guessWeight: number;
  /**
   * Set when a limit outside the person (per IP, app, global) refused the send: only a replay
   * may answer; otherwise RATE_LIMITED until then (or later, if an email limit says so).
   */
  refusedUntil?: number;
  /** With an idempotency key: the whole answer, sealed, to record. */
  idempotency?: Idempotency & { sealedAnswer: string };
}

export type IssueResult =
  | { ok: true; resendAvailableAt: number; supersededChallengeId: string | undefined }
  /** The recorded answer of an earlier call with the same key and request. */
  | { ok: true; replay: { sealedAnswer: string; resendAvailableAt: number } }
  | { ok: false; reason: "EMAIL_LOCKED" | "RATE_LIMITED"; retryAt: number }
  | { ok: false; reason: "IDEMPOTENCY_KEY_REUSED" };

export interface NewSession {
  id: string;
  refreshTokenHash: string;
  idleTtlMs: number;
  maxTtlMs: number;
  userAgent: string;
}

/** A code to check, found before the atomic step (its guess weight decides the budget). */
export interface ChallengeRef {
  challengeId: string;
  guessWeight: number;
}

export interface ConsumeParams {
  /** The person's slot: the challenge's tag, or the tag of the email it was looked up by. */
  tag: string;
  /** Undefined when no code was found (looked up by email): only a replay can answer. */
  challengeId: string | undefined;
  clientAppId: string;
  /** The method of the presented proof: it is compared with that method's proof only. */
  method: LoginMethodName;
  /** MAC of the presented proof (typed code, link token) under each configured key, by key id. */
  macs: Record<string, string>;
  now: number;
  rules: LoginRules;
  /** Used if this login creates the user. */
  newUserId: string;
  session: NewSession;
  /** Set when a guess budget is spent: only a replay may answer; otherwise RATE_LIMITED. */
  refusedUntil?: number;
  /** With an idempotency key: the refresh token, sealed, recorded with the outcome. */
  idempotency?: Idempotency & { sealedToken: string };
}

/** What became of the guess, for the guess budgets: absent when no attempt was counted. */
export interface GuessOutcome {
  succeeded: boolean;
  weight: number;
  /** Wrong guesses this code had before (given back to the budgets once it is used). */
  priorFailures: number;
}

export type ConsumeResult =
  | {
      ok: true;
      user: UserRecord;
      newUser: boolean;
      session: SessionRecord;
      guess?: GuessOutcome;
      /** A replay: the recorded refresh token, sealed (the answer still stands). */
      sealedToken?: string;
    }
  | { ok: false; reason: "CODE_INVALID"; guess?: GuessOutcome }
  | { ok: false; reason: "EMAIL_LOCKED" | "RATE_LIMITED"; retryAt: number }
  /** A replay whose session was revoked, expired or refreshed since. */
  | { ok: false; reason: "SESSION_INVALID" }
  | { ok: false; reason: "IDEMPOTENCY_KEY_REUSED" };

export interface RefreshParams {
  tokenHash: string;
  /** Tag of the token (its slot). */
  tag: string;
  newTokenHash: string;
  clientAppId: string;
  now: number;
  idleTtlMs: number;
  /** With an idempotency key: the new refresh token, sealed, recorded with the outcome. */
  idempotency?: Idempotency & { sealedToken: string };
}

export type RefreshResult =
  | { ok: true; session: SessionRecord; sealedToken?: string }
  | { ok: false; reason: "SESSION_INVALID" | "IDEMPOTENCY_KEY_REUSED" }
  /** A used token came back: the session it names was revoked (for the audit trail). */
  | { ok: false; reason: "REFRESH_TOKEN_REUSED"; sessionId: string; userId: string };

export interface Store {
  readonly kind: "memory" | "redis";

  /**
   * Binds a client-given idempotency key to a request for the whole app (the atomic steps
   * bind it within one person's slot): "new" the first time, "same" for the same fingerprint,
   * "different" when the key already names another request.
   */
  claimIdempotencyKey(p: {
    clientAppId: string;
    key: string;
    fingerprint: string;
    ttlMs: number;
  }): Promise<"new" | "same" | "different">;
  issueChallenge(p: IssueParams): Promise<IssueResult>;
  /**
   * A code that can still be guessed: by id, or the live one of (email, app); pending,
   * unexpired and of the calling app, or undefined.
   */
  findChallenge(
    p: ({ challengeId: string } | { tag: string; digest: string }) & { clientAppId: string; now: number },
  ): Promise<ChallengeRef | undefined>;
  consumeChallenge(p: ConsumeParams): Promise<ConsumeResult>;
  getChallenge(p: { challengeId: string; now: number }): Promise<ChallengeRecord | undefined>;
  /**
   * Retires a pending challenge and gives back the per-email send limits it took; returns the
   * email digest when it did.
   */
  cancelChallenge(p: { challengeId: string; clientAppId: string; now: number }): Promise<string | undefined>;

  refreshSession(p: RefreshParams): Promise<RefreshResult>;
  getSession(p: { sessionId: string; now: number }): Promise<SessionRecord | undefined>;
  listUserSessions(p: { userId: string; now: number }): Promise<SessionRecord[]>;
  revokeSession(p: { sessionId: string; clientAppId?: string }): Promise<boolean>;
  /** The session of a refresh token (current or already rotated), if any. */
  sessionIdOfToken(p: { tag: string; tokenHash: string }): Promise<string | undefined>;
  revokeUserSessions(p: { userId: string; clientAppId?: string }): Promise<number>;

  getUser(userId: string): Promise<UserRecord | undefined>;
  findUser(p: { tag: string; digest: string }): Promise<UserRecord | undefined>;
  /** Erases the person: returns the email digest it had, for the caller's own cleanup. */
  deleteUser(userId: string): Promise<{ deleted: boolean; digest: string | undefined }>;

  createClientApp(app: ClientAppRecord, keyHash: string): Promise<void>;
  getClientApp(id: string): Promise<ClientAppRecord | undefined>;
  findClientAppByKeyHash(keyHash: string): Promise<ClientAppRecord | undefined>;
  listClientApps(p: {
    cursor: string;
    count: number;
  }): Promise<{ apps: ClientAppRecord[]; nextCursor: string }>;
  updateClientAppSettings(
    id: string,
    settings: ClientAppSettingsRecord,
    now: number,
  ): Promise<ClientAppRecord | undefined>;
  rotateClientAppKey(
    id: string,
    p: { keyHash: string; keyPrefix: string; graceMs: number; now: number },
  ): Promise<ClientAppRecord | undefined>;
  setClientAppDisabled(id: string, disabled: boolean, now: number): Promise<ClientAppRecord | undefined>;
  deleteClientApp(id: string): Promise<boolean>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
