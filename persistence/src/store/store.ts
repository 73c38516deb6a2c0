// The storage contract of persistence: domain operations, each atomic where the security
// rules need it (issue, consume, refresh, erase). Two drivers implement it — Redis (Lua
// scripts, standalone/Sentinel/Cluster) and memory (the embedded default) — and one contract
// test suite (persistence/test/store-contract.ts) runs unchanged against both.
//
// Times are epoch milliseconds passed in by the caller (its clock), so that both drivers apply
// the same rules and tests can move time.

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
}

export interface ChallengeRecord {
  id: string;
  clientAppId: string;
  state: ChallengeState;
  issuedAt: number;
  expiresAt: number;
  failedAttempts: number;
}

export type CodeAlphabetSetting = "digits" | "alphanumeric";

export interface ClientAppSettingsRecord {
  displayName: string;
  senderAddress: string;
  codeAlphabet: CodeAlphabetSetting;
  codeLength: number;
  codeTtlSeconds: number;
  allowedOrigins: string[];
  /** 0: the configured default. */
  sendsPerMinute: number;
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
 * The answer of an idempotent call, recorded with the operation itself (atomically) so that a
 * retry with the same key gets it back. Secrets in it are sealed by the caller.
 */
export interface ReplayRecord {
  key: string;
  ttlMs: number;
}

export interface IssueParams {
  tag: string;
  digest: string;
  email: string;
  clientAppId: string;
  challengeId: string;
  kid: string;
  mac: string;
  now: number;
  expiresAt: number;
  rules: LoginRules;
  /** With an idempotency key: the whole answer, sealed, to record. */
  replay?: ReplayRecord & { value: string };
}

export type IssueResult =
  | { ok: true; supersededChallengeId: string | undefined }
  | { ok: false; reason: "EMAIL_LOCKED"; retryAt: number };

export interface NewSession {
  id: string;
  refreshTokenHash: string;
  idleTtlMs: number;
  maxTtlMs: number;
  userAgent: string;
}

export interface ConsumeParams {
  challengeId: string;
  clientAppId: string;
  /** MAC of the typed code under each configured key, by key id. */
  macs: Record<string, string>;
  now: number;
  rules: LoginRules;
  /** Used if this login creates the user. */
  newUserId: string;
  session: NewSession;
  /** With an idempotency key: the refresh token, sealed, recorded with the outcome. */
  replay?: ReplayRecord & { sealedToken: string };
}

export type ConsumeResult =
  | { ok: true; user: UserRecord; newUser: boolean; session: SessionRecord }
  | { ok: false; reason: "CODE_INVALID" }
  | { ok: false; reason: "EMAIL_LOCKED"; retryAt: number };

export interface RefreshParams {
  tokenHash: string;
  /** Tag of the token (its slot). */
  tag: string;
  newTokenHash: string;
  clientAppId: string;
  now: number;
  idleTtlMs: number;
  /** With an idempotency key: the new refresh token, sealed, recorded with the outcome. */
  replay?: ReplayRecord & { sealedToken: string };
}

export type RefreshResult =
  | { ok: true; session: SessionRecord }
  | { ok: false; reason: "SESSION_INVALID" | "REFRESH_TOKEN_REUSED" };

export interface Store {
  readonly kind: "memory" | "redis";

  issueChallenge(p: IssueParams): Promise<IssueResult>;
  /** The pending challenge of (email, app), if any. */
  liveChallengeId(p: { tag: string; digest: string; clientAppId: string }): Promise<string | undefined>;
  consumeChallenge(p: ConsumeParams): Promise<ConsumeResult>;
  getChallenge(p: { challengeId: string; now: number }): Promise<ChallengeRecord | undefined>;
  /** Retires a pending challenge; returns the email digest when it did. */
  cancelChallenge(p: { challengeId: string; clientAppId: string }): Promise<string | undefined>;
  /**
   * What an idempotent call recorded under this key (raw: the issue answer sealed, or the
   * consume/refresh outcome as JSON with the token sealed), if it is still kept.
   */
  replayed(p: { tag: string; clientAppId: string; key: string }): Promise<string | undefined>;

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
