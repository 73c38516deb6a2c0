// The PersistenceService RPCs: validate the request, call the domain, map records to
// messages. Errors are AppErrors of its reasons (errors.ts); the gRPC layer puts them on the wire.
import { AppError, type AsyncHandlers, addressLimitKey } from "@emailauth/platform";
import {
  ChallengeState,
  type ChallengeState as ChallengeStateValue,
  type ClientApp,
  type ClientAppSettings,
  CodeAlphabet,
  LoginMethod,
  type PersistenceServiceServer,
  type Session,
  type User,
} from "@emailauth/proto/persistence";
import { z } from "zod";
import { audit } from "../audit.ts";
import type { ClientAppSettingsInput } from "../client-apps/client-apps.ts";
import type { PersistenceCore } from "../core.ts";
import type { Peppered } from "../crypto/secrets.ts";
import { appError } from "../errors.ts";
import { ReuseDetected } from "../sessions/sessions.ts";
import type {
  ChallengeRecord,
  ClientAppRecord,
  LoginMethodName,
  SessionRecord,
  UserRecord,
} from "../store/store.ts";
import { emailOf, fields, idempotencyOf, parse } from "./requests.ts";

const date = (ms: number) => new Date(ms);

/** The contract's LoginMethod values of the store's method names, and back. */
const METHODS: Record<LoginMethodName, LoginMethod> = {
  code: LoginMethod.LOGIN_METHOD_CODE,
  link: LoginMethod.LOGIN_METHOD_LINK,
};
const methodNamed = (value: number): LoginMethodName | undefined =>
  (Object.keys(METHODS) as LoginMethodName[]).find((name) => METHODS[name] === value);

export function toUser(u: UserRecord): User {
  return {
    id: u.id,
    email: u.email,
    createdAt: date(u.createdAt),
    ...(u.lastLoginAt !== undefined && { lastLoginAt: date(u.lastLoginAt) }),
  };
}

export function toSession(s: SessionRecord): Session {
  return {
    id: s.id,
    userId: s.userId,
    clientAppId: s.clientAppId,
    createdAt: date(s.createdAt),
    refreshedAt: date(s.refreshedAt),
    idleExpiresAt: date(s.idleExpiresAt),
    expiresAt: date(s.expiresAt),
    userAgent: s.userAgent,
    loginMethod: METHODS[s.loginMethod],
  };
}

function toClientApp(a: ClientAppRecord): ClientApp {
  return {
    id: a.id,
    settings: {
      ...a.settings,
      codeAlphabet:
        a.settings.codeAlphabet === "alphanumeric"
          ? CodeAlphabet.CODE_ALPHABET_ALPHANUMERIC
          : CodeAlphabet.CODE_ALPHABET_DIGITS,
      loginMethods: a.settings.loginMethods.map((m) => METHODS[m]),
    },
    keyPrefix: a.keyPrefix,
    disabled: a.disabled,
    createdAt: date(a.createdAt),
    updatedAt: date(a.updatedAt),
  };
}

const STATES: Record<ChallengeRecord["state"], ChallengeStateValue> = {
  pending: ChallengeState.CHALLENGE_STATE_PENDING,
  consumed: ChallengeState.CHALLENGE_STATE_CONSUMED,
  expired: ChallengeState.CHALLENGE_STATE_EXPIRED,
  superseded: ChallengeState.CHALLENGE_STATE_SUPERSEDED,
  exhausted: ChallengeState.CHALLENGE_STATE_EXHAUSTED,
  canceled: ChallengeState.CHALLENGE_STATE_CANCELED,
};

const settingsSchema = z.object({
  // Shapes only: the bounds are validateSettings' (client-apps.ts), checked after trimming.
  displayName: z.string(),
  senderAddress: z.string(),
  codeAlphabet: z.number().int(),
  codeLength: z.number().int().min(0).max(100),
  codeTtlSeconds: z.number().int().min(0).max(86_400),
  allowedOrigins: z.array(z.string().max(255)).max(20),
  sendsPerMinute: z.number().int().min(0),
  loginMethods: z.array(z.number().int()).max(8),
  linkUrl: z.string(),
});

function settingsInput(settings: ClientAppSettings | undefined): ClientAppSettingsInput {
  if (!settings) throw appError("CLIENT_APP_SETTINGS_INVALID", { message: "settings: required" });
  const s = parse(settingsSchema, settings);
  const alphabets: Record<number, ClientAppSettingsInput["codeAlphabet"]> = {
    [CodeAlphabet.CODE_ALPHABET_UNSPECIFIED]: undefined,
    [CodeAlphabet.CODE_ALPHABET_DIGITS]: "digits",
    [CodeAlphabet.CODE_ALPHABET_ALPHANUMERIC]: "alphanumeric",
  };
  if (!(s.codeAlphabet in alphabets)) {
    throw appError("CLIENT_APP_SETTINGS_INVALID", { message: "code_alphabet: unknown value" });
  }
  const loginMethods = s.loginMethods.map(methodNamed);
  if (!loginMethods.every((m) => m !== undefined)) {
    throw appError("CLIENT_APP_SETTINGS_INVALID", { message: "login_methods: unknown value" });
  }
  return { ...s, codeAlphabet: alphabets[s.codeAlphabet], loginMethods };
}

function ipDigestOf(peppered: Peppered, ip: string): string | undefined {
  const key = addressLimitKey(ip);
  return key ? peppered.ipDigest(key) : undefined;
}

// Every request's schema, built once: zod compiles a schema the first time it parses, so
// building them per call would compile on every request.
const requests = {
  issueLoginCode: z.object({
    clientAppId: fields.clientAppId,
    email: fields.email,
    endUserIp: fields.endUserIp,
    idempotencyKey: fields.idempotencyKey,
    requestFingerprint: fields.requestFingerprint,
    idempotencyKeyGenerated: fields.idempotencyKeyGenerated,
  }),
  consumeLoginCode: z.object({
    clientAppId: fields.clientAppId,
    challengeId: fields.challengeId.optional(),
    email: fields.email.optional(),
    code: z.union([z.literal(""), fields.code]),
    linkToken: z.union([z.literal(""), fields.linkToken]),
    userAgent: fields.userAgent,
    idempotencyKey: fields.idempotencyKey,
    requestFingerprint: fields.requestFingerprint,
    idempotencyKeyGenerated: fields.idempotencyKeyGenerated,
  }),
  cancelLoginCode: z.object({ clientAppId: fields.clientAppId, challengeId: fields.challengeId }),
  getChallenge: z.object({ challengeId: fields.challengeId }),
  refreshSession: z.object({
    clientAppId: fields.clientAppId,
    refreshToken: fields.refreshToken,
    idempotencyKey: fields.idempotencyKey,
    requestFingerprint: fields.requestFingerprint,
    idempotencyKeyGenerated: fields.idempotencyKeyGenerated,
  }),
  getSession: z.object({ sessionId: fields.sessionId }),
  listUserSessions: z.object({ userId: fields.userId, clientAppId: fields.optionalClientAppId }),
  revokeSession: z.object({
    sessionId: fields.sessionId.optional(),
    refreshToken: fields.refreshToken.optional(),
    clientAppId: fields.optionalClientAppId,
  }),
  revokeUserSessions: z.object({ userId: fields.userId, clientAppId: fields.optionalClientAppId }),
  getUser: z.object({ userId: fields.userId }),
  findUserByEmail: z.object({ email: fields.email }),
  deleteUser: z.object({ userId: fields.userId }),
  authenticateClientApp: z.object({ apiKey: fields.apiKey }),
  getClientApp: z.object({ clientAppId: fields.clientAppId }),
  listClientApps: z.object({ pageSize: z.number().int().min(0).max(1000), pageToken: z.string().max(64) }),
  updateClientApp: z.object({ clientAppId: fields.clientAppId }),
  rotateClientAppKey: z.object({
    clientAppId: fields.clientAppId,
    graceSeconds: z.number().int().min(0).max(604_800),
  }),
  disableClientApp: z.object({ clientAppId: fields.clientAppId }),
  enableClientApp: z.object({ clientAppId: fields.clientAppId }),
  deleteClientApp: z.object({ clientAppId: fields.clientAppId }),
};

/** The batch methods are served by the unary ones (server.ts, serveBatch). */
type BatchMethods = "issueLoginCodes" | "consumeLoginCodes";

export function createPersistenceHandlers(
  core: PersistenceCore,
): Omit<AsyncHandlers<PersistenceServiceServer>, BatchMethods> {
  return {
    async issueLoginCode(req, ctx) {
      const r = parse(requests.issueLoginCode, req);
      const issued = await core.login
        .issue({
          clientAppId: r.clientAppId,
          email: emailOf(r.email),
          ipDigest: ipDigestOf(core.peppered, r.endUserIp),
          idempotency: idempotencyOf(r),
        })
        .catch((err: unknown) => {
          // A code refused for a locked address: the lock at work (the address is not logged).
          if (err instanceof AppError && err.reason === "EMAIL_LOCKED") {
            audit(ctx.logger, "email.locked", { clientAppId: r.clientAppId });
          }
          throw err;
        });
      // A retry answered from the record is not a new fact.
      if (!issued.replayed) {
        audit(ctx.logger, "login_code.issued", {
          clientAppId: r.clientAppId,
          challengeId: issued.challengeId,
        });
      }
      return {
        challengeId: issued.challengeId,
        code: issued.code,
        linkToken: issued.linkToken,
        linkUrl: issued.linkUrl,
        expiresAt: date(issued.expiresAt),
        resendAvailableAt: date(issued.resendAvailableAt),
        email: issued.email,
      };
    },

    async consumeLoginCode(req, ctx) {
      const r = parse(requests.consumeLoginCode, req);
      let target: { challengeId: string } | { email: string };
      if (r.challengeId !== undefined) target = { challengeId: r.challengeId };
      else if (r.email !== undefined) target = { email: emailOf(r.email) };
      else throw appError("INVALID_ARGUMENT", { message: "target: challenge_id or email is required" });
      const challengeId = "challengeId" in target ? target.challengeId : undefined;
      if ((r.code === "") === (r.linkToken === ""))
        throw appError("INVALID_ARGUMENT", { message: "proof: exactly one of code and link_token" });
      if (r.linkToken !== "" && !challengeId)
        throw appError("INVALID_ARGUMENT", { message: "link_token: goes with challenge_id, not email" });
      const proof =
        r.code !== ""
          ? { method: "code" as const, value: r.code }
          : { method: "link" as const, value: r.linkToken };
      const done = await core.login
        .consume({
          clientAppId: r.clientAppId,
          target,
          proof,
          userAgent: r.userAgent,
          idempotency: idempotencyOf(r),
        })
        .catch((err: unknown) => {
          if (err instanceof AppError) {
            const event =
              err.reason === "CODE_INVALID"
                ? "login.verification_failed"
                : err.reason === "EMAIL_LOCKED"
                  ? "email.locked"
                  : err.reason === "RATE_LIMITED"
                    ? "login.verification_throttled"
                    : undefined;
            if (event)
              audit(ctx.logger, event, {
                clientAppId: r.clientAppId,
                ...(challengeId && { challengeId }),
                loginMethod: proof.method,
              });
          }
          throw err;
        });
      if (!done.replayed) {
        const ids = { clientAppId: r.clientAppId, userId: done.user.id };
        if (done.newUser) audit(ctx.logger, "user.created", ids);
        audit(ctx.logger, "session.opened", {
          ...ids,
          sessionId: done.session.id,
          newUser: done.newUser,
          loginMethod: proof.method,
        });
      }
      return {
        user: toUser(done.user),
        newUser: done.newUser,
        session: toSession(done.session),
        refreshToken: done.refreshToken,
      };
    },

    async cancelLoginCode(req) {
      const r = parse(requests.cancelLoginCode, req);
      return { canceled: await core.login.cancel(r) };
    },

    async getChallenge(req) {
      const r = parse(requests.getChallenge, req);
      const c = await core.login.getChallenge(r.challengeId);
      return {
        challengeId: c.id,
        clientAppId: c.clientAppId,
        state: STATES[c.state],
        issuedAt: date(c.issuedAt),
        expiresAt: date(c.expiresAt),
        failedAttempts: c.failedAttempts,
      };
    },

    async refreshSession(req, ctx) {
      const r = parse(requests.refreshSession, req);
      const refreshed = await core.sessions
        .refresh({ clientAppId: r.clientAppId, refreshToken: r.refreshToken, idempotency: idempotencyOf(r) })
        .catch((err: unknown) => {
          if (err instanceof ReuseDetected) {
            audit(ctx.logger, "session.reuse_detected", {
              clientAppId: r.clientAppId,
              userId: err.userId,
              sessionId: err.sessionId,
            });
          }
          throw err;
        });
      if (!refreshed.replayed) {
        audit(ctx.logger, "session.refreshed", {
          clientAppId: r.clientAppId,
          userId: refreshed.session.userId,
          sessionId: refreshed.session.id,
        });
      }
      return { session: toSession(refreshed.session), refreshToken: refreshed.refreshToken };
    },

    async getSession(req) {
      const r = parse(requests.getSession, req);
      return { session: toSession(await core.sessions.get(r.sessionId)) };
    },

    async listUserSessions(req) {
      const r = parse(requests.listUserSessions, req);
      return { sessions: (await core.sessions.listForUser(r)).map(toSession) };
    },

    async revokeSession(req, ctx) {
      const r = parse(requests.revokeSession, req);
      const target =
        r.sessionId !== undefined
          ? { sessionId: r.sessionId }
          : r.refreshToken !== undefined
            ? { refreshToken: r.refreshToken }
            : undefined;
      if (!target)
        throw appError("INVALID_ARGUMENT", { message: "target: session_id or refresh_token is required" });
      const revoked = await core.sessions.revoke(target, r.clientAppId);
      if (revoked) {
        audit(ctx.logger, "session.revoked", {
          ...(r.clientAppId && { clientAppId: r.clientAppId }),
          ...("sessionId" in target && { sessionId: target.sessionId }),
        });
      }
      return { revoked };
    },

    async revokeUserSessions(req, ctx) {
      const r = parse(requests.revokeUserSessions, req);
      const count = await core.sessions.revokeForUser(r);
      if (count > 0) {
        audit(ctx.logger, "user.sessions_revoked", {
          userId: r.userId,
          ...(r.clientAppId && { clientAppId: r.clientAppId }),
          count,
        });
      }
      return { revokedCount: count };
    },

    async getUser(req) {
      const r = parse(requests.getUser, req);
      return { user: toUser(await core.users.get(r.userId)) };
    },

    async findUserByEmail(req) {
      const r = parse(requests.findUserByEmail, req);
      return { user: toUser(await core.users.findByEmail(emailOf(r.email))) };
    },

    async deleteUser(req, ctx) {
      const r = parse(requests.deleteUser, req);
      const deleted = await core.users.delete(r.userId);
      if (deleted) audit(ctx.logger, "user.deleted", { userId: r.userId });
      return { deleted };
    },

    async createClientApp(req, ctx) {
      const { app, apiKey } = await core.clientApps.create(settingsInput(req.settings));
      audit(ctx.logger, "client_app.created", { clientAppId: app.id });
      return { clientApp: toClientApp(app), apiKey };
    },

    async authenticateClientApp(req) {
      const r = parse(requests.authenticateClientApp, req);
      return { clientApp: toClientApp(await core.clientApps.authenticate(r.apiKey)) };
    },

    async getClientApp(req) {
      const r = parse(requests.getClientApp, req);
      return { clientApp: toClientApp(await core.clientApps.get(r.clientAppId)) };
    },

    async listClientApps(req) {
      const r = parse(requests.listClientApps, req);
      const page = await core.clientApps.list(r);
      return { clientApps: page.apps.map(toClientApp), nextPageToken: page.nextPageToken };
    },

    async updateClientApp(req, ctx) {
      const r = parse(requests.updateClientApp, req);
      const app = await core.clientApps.update(r.clientAppId, settingsInput(req.settings));
      audit(ctx.logger, "client_app.updated", { clientAppId: r.clientAppId });
      return { clientApp: toClientApp(app) };
    },

    async rotateClientAppKey(req, ctx) {
      const r = parse(requests.rotateClientAppKey, req);
      const { app, apiKey } = await core.clientApps.rotateKey(r.clientAppId, r.graceSeconds);
      audit(ctx.logger, "client_app.key_rotated", { clientAppId: r.clientAppId });
      return { clientApp: toClientApp(app), apiKey };
    },

    async disableClientApp(req, ctx) {
      const r = parse(requests.disableClientApp, req);
      const app = await core.clientApps.setDisabled(r.clientAppId, true);
      audit(ctx.logger, "client_app.disabled", { clientAppId: r.clientAppId });
      return { clientApp: toClientApp(app) };
    },

    async enableClientApp(req, ctx) {
      const r = parse(requests.enableClientApp, req);
      const app = await core.clientApps.setDisabled(r.clientAppId, false);
      audit(ctx.logger, "client_app.enabled", { clientAppId: r.clientAppId });
      return { clientApp: toClientApp(app) };
    },

    async deleteClientApp(req, ctx) {
      const r = parse(requests.deleteClientApp, req);
      const deleted = await core.clientApps.delete(r.clientAppId);
      if (deleted) audit(ctx.logger, "client_app.deleted", { clientAppId: r.clientAppId });
      return { deleted };
    },
  };
}
