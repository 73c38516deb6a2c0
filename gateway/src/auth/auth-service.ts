// The public AuthService: each method turns a client app's request into calls to persistence
// and the mailer (concurrent where they are independent), and their answers into sessions.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { AppError, type CallOptionsLite, type Logger, normalizeEmail } from "@emailauth/platform";
import {
  type AuthService,
  DeliveryState,
  LoginState,
  RefreshSessionRequestSchema,
  StartLoginRequestSchema,
  VerifyLoginRequestSchema,
} from "@emailauth/proto/auth";
import { DeliveryState as UpstreamDelivery } from "@emailauth/proto/mailer";
import { ChallengeState, type LoginMethod } from "@emailauth/proto/persistence";
import { clientAppOf, REQUEST_ID } from "../edge/context.ts";
import { appError } from "../errors.ts";
import { emailParts, loginMethod } from "../login-methods/index.ts";
import type { KeySet } from "../tokens/key-set.ts";
import type { MailerUpstream, PersistenceUpstream } from "../upstreams.ts";
import { idempotencyOf } from "./idempotency.ts";

export interface AuthServiceDeps {
  persistence: PersistenceUpstream;
  mailer: MailerUpstream;
  keys: KeySet;
  logger: Logger;
  clock?: () => number;
}

const ts = (d: Date | undefined) => (d ? timestampFromDate(d) : undefined);

const LOGIN_STATES: Record<number, LoginState> = {
  [ChallengeState.CHALLENGE_STATE_PENDING]: LoginState.PENDING,
  [ChallengeState.CHALLENGE_STATE_CONSUMED]: LoginState.VERIFIED,
};

const DELIVERY_STATES: Record<number, DeliveryState> = {
  [UpstreamDelivery.DELIVERY_STATE_QUEUED]: DeliveryState.QUEUED,
  [UpstreamDelivery.DELIVERY_STATE_SENDING]: DeliveryState.SENDING,
  [UpstreamDelivery.DELIVERY_STATE_SENT]: DeliveryState.SENT,
  [UpstreamDelivery.DELIVERY_STATE_RETRYING]: DeliveryState.RETRYING,
  [UpstreamDelivery.DELIVERY_STATE_FAILED]: DeliveryState.FAILED,
};

/** The options of a request's upstream calls: its id and its cancellation (startLogin excepted). */
function callOptions(ctx: HandlerContext): CallOptionsLite {
  return { requestId: ctx.values.get(REQUEST_ID), signal: ctx.signal };
}

function emailOf(raw: string): string {
  const result = normalizeEmail(raw);
  if (!result.ok) throw appError("EMAIL_INVALID", { message: `email: ${result.problem}` });
  return result.email;
}

export function createAuthService(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  const clock = deps.clock ?? Date.now;
  const { persistence, mailer, keys } = deps;

  /** What a client app gets for an open session: a new access token and the refresh token. */
  async function sessionTokens(
    appId: string,
    userId: string,
    session: { id: string; idleExpiresAt?: Date | undefined; loginMethod?: LoginMethod },
    refreshToken: string,
  ) {
    const { amr } = loginMethod(session.loginMethod);
    const access = await keys.sign({ sub: userId, aud: appId, sid: session.id, amr }, clock());
    return {
      sessionId: session.id,
      accessToken: access.token,
      accessTokenExpiresAt: timestampFromDate(new Date(access.expiresAt)),
      refreshToken,
      refreshTokenExpiresAt: ts(session.idleExpiresAt),
    };
  }

  return {
    async startLogin(req, ctx) {
      const app = clientAppOf(ctx);
      // Not cancelled when the client app goes away: a login once begun is finished (code issued
      // and email queued) or undone, never left half done. Cancelling the mailer call after the
      // mailer had queued the email would retire a code that is still sent to the person.
      // Deadlines still bound every call.
      const options: CallOptionsLite = { requestId: ctx.values.get(REQUEST_ID) };
      const email = emailOf(req.email);
      const issued = await persistence.call(
        "issueLoginCode",
        {
          clientAppId: app.id,
          email,
          endUserIp: req.endUserIp,
          ...idempotencyOf(ctx, StartLoginRequestSchema, req),
        },
        options,
      );
      // The code and the link token exist only in `issued`: hand them to the mailer, which
      // keeps them sealed.
      try {
        await mailer.call(
          "queueLoginCodeEmail",
          {
            idempotencyKey: issued.challengeId,
            recipient: issued.email,
            ...emailParts(issued),
            locale: req.locale,
            appName: app.settings?.displayName ?? "",
            expiresAt: issued.expiresAt,
            senderAddress: app.settings?.senderAddress ?? "",
          },
          options,
        );
      } catch (err) {
        // No email will carry this code: retire it and give back its send limits, so the
        // person can try again at once instead of waiting out a cooldown for nothing.
        await persistence
          .call("cancelLoginCode", { clientAppId: app.id, challengeId: issued.challengeId }, options)
          .catch((cancelErr: unknown) => {
            deps.logger.warn(
              { requestId: options.requestId, err: cancelErr },
              "could not cancel an unsent login code",
            );
          });
        throw err;
      }
      return {
        challengeId: issued.challengeId,
        expiresAt: ts(issued.expiresAt),
        resendAvailableAt: ts(issued.resendAvailableAt),
      };
    },

    async verifyLogin(req, ctx) {
      const app = clientAppOf(ctx);
      const target =
        req.target.case === "challengeId"
          ? { challengeId: req.target.value }
          : { email: emailOf(req.target.value ?? "") };
      const done = await persistence.call(
        "consumeLoginCode",
        {
          clientAppId: app.id,
          ...target,
          code: req.code,
          linkToken: req.linkToken,
          userAgent: req.userAgent,
          ...idempotencyOf(ctx, VerifyLoginRequestSchema, req),
        },
        callOptions(ctx),
      );
      const user = done.user;
      const session = done.session;
      if (!user || !session) throw appError("INTERNAL");
      return {
        user: { id: user.id, email: user.email, createdAt: ts(user.createdAt) },
        newUser: done.newUser,
        ...(await sessionTokens(app.id, user.id, session, done.refreshToken)),
      };
    },

    async refreshSession(req, ctx) {
      const app = clientAppOf(ctx);
      const refreshed = await persistence.call(
        "refreshSession",
        {
          clientAppId: app.id,
          refreshToken: req.refreshToken,
          ...idempotencyOf(ctx, RefreshSessionRequestSchema, req),
        },
        callOptions(ctx),
      );
      const session = refreshed.session;
      if (!session) throw appError("INTERNAL");
      return {
        userId: session.userId,
        ...(await sessionTokens(app.id, session.userId, session, refreshed.refreshToken)),
      };
    },

    async revokeSession(req, ctx) {
      const app = clientAppOf(ctx);
      const target =
        req.target.case === "sessionId"
          ? { sessionId: req.target.value }
          : { refreshToken: req.target.value ?? "" };
      const { revoked } = await persistence.call(
        "revokeSession",
        { ...target, clientAppId: app.id },
        callOptions(ctx),
      );
      return { revoked };
    },

    async revokeUserSessions(req, ctx) {
      const app = clientAppOf(ctx);
      const { revokedCount } = await persistence.call(
        "revokeUserSessions",
        { userId: req.userId, clientAppId: app.id },
        callOptions(ctx),
      );
      return { revokedCount };
    },

    async getLoginStatus(req, ctx) {
      const app = clientAppOf(ctx);
      const options = callOptions(ctx);
      // Independent questions, asked at once.
      const [challenge, delivery] = await Promise.all([
        persistence.call("getChallenge", { challengeId: req.challengeId }, options),
        mailer.call("getDeliveryStatus", { idempotencyKey: req.challengeId }, options).then(
          (r) => r.status,
          (err: unknown) => {
            if (err instanceof AppError && err.reason === "MESSAGE_NOT_FOUND") return undefined;
            throw err;
          },
        ),
      ]);
      // Another app's login is, for this app, no login at all.
      if (challenge.clientAppId !== app.id) throw appError("CHALLENGE_NOT_FOUND");
      return {
        challengeId: challenge.challengeId,
        loginState: LOGIN_STATES[challenge.state] ?? LoginState.EXPIRED,
        expiresAt: ts(challenge.expiresAt),
        deliveryState: delivery
          ? (DELIVERY_STATES[delivery.state] ?? DeliveryState.UNSPECIFIED)
          : DeliveryState.UNSPECIFIED,
        deliveryAttempts: delivery?.attempts ?? 0,
        nextAttemptAt: ts(delivery?.nextAttemptAt),
        deliveryUpdatedAt: ts(delivery?.updatedAt),
        deliveryError: delivery?.errorClass ?? "",
      };
    },
  };
}
