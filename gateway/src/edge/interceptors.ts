// What runs between Connect's decoding of a request and the handlers, outermost first:
//   request gate   (before the body is read) Idempotency-Key shape, client-app
//                  authentication, allowed origins, the app's request rate (admission is the
//                  edge's, before Connect: rpc-edge.ts)
//   errors         every error becomes a public one with our reason (public-errors.ts)
//   protovalidate  the fields' rules
// Health and reflection pass the gate: they need no API key.
import type { HandlerContext, Interceptor } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { Logger } from "@emailauth/platform";
import { AuthService } from "@emailauth/proto/auth";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { ClientAppAuthenticator } from "../auth/client-app-auth.ts";
import { appError } from "../errors.ts";
import { CLIENT_ADDRESS, CLIENT_APP, IDEMPOTENCY_KEY, REQUEST_ID, RPC_STATE } from "./context.ts";
import { toConnectError, toPublic, withReason } from "./public-errors.ts";

// Narrower than the internal contracts' key (platform's IDEMPOTENCY_KEY_PATTERN, 128), so a
// client app's key is passed upstream as it is.
const PUBLIC_IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

/** Logs what deserves it, and turns anything thrown into a public ConnectError. */
function publicError(err: unknown, logger: Logger, fields: Record<string, unknown>): ConnectError {
  if (err instanceof ConnectError) return withReason(err);
  const { error, log } = toPublic(err);
  if (log) logger[log]({ ...fields, err: error.cause ?? error }, "request failed");
  return toConnectError(error);
}

export interface RequestGateDeps {
  authenticator: ClientAppAuthenticator;
  /** Requests per second one client app may make to this replica. */
  appRequestsPerSecond: number;
  logger: Logger;
}

/** Runs once the request's headers are in, before its body is read, decompressed or parsed. */
export function createRequestGate(deps: RequestGateDeps): (ctx: HandlerContext) => Promise<void> {
  const perApp = new RateLimiterMemory({ keyPrefix: "app", points: deps.appRequestsPerSecond, duration: 1 });
  return async (ctx) => {
    if (ctx.service.typeName !== AuthService.typeName) return;
    try {
      const key = ctx.requestHeader.get("idempotency-key");
      if (key !== null && !PUBLIC_IDEMPOTENCY_KEY_PATTERN.test(key)) {
        throw appError("INVALID_ARGUMENT", {
          message: "Idempotency-Key: 1 to 100 characters of [A-Za-z0-9._:-]",
        });
      }
      ctx.values.set(IDEMPOTENCY_KEY, key ?? "");
      const app = await deps.authenticator.authenticate(ctx.requestHeader.get("authorization"), {
        requestId: ctx.values.get(REQUEST_ID),
        clientAddress: ctx.values.get(CLIENT_ADDRESS),
      });
      ctx.values.set(CLIENT_APP, app);
      const origin = ctx.requestHeader.get("origin");
      if (origin && !(app.settings?.allowedOrigins ?? []).includes(origin))
        throw appError("ORIGIN_NOT_ALLOWED");
      try {
        await perApp.consume(app.id);
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        throw appError("RATE_LIMITED", { retryAt: new Date(Date.now() + refusal.msBeforeNext) });
      }
    } catch (err) {
      throw publicError(err, deps.logger, { requestId: ctx.values.get(REQUEST_ID), method: ctx.method.name });
    }
  };
}

/** Errors of the handlers (and of protovalidate) as public errors, with our reason. */
export function createErrorInterceptor(deps: { logger: Logger }): Interceptor {
  return (next) => async (req) => {
    const state = req.contextValues.get(RPC_STATE);
    // A unary request has been decoded by now; a stream's messages are decoded later, as the
    // handler reads them, so for streams an error without our reason is still the input's.
    if (!req.stream) state.handlerReached = true;
    state.onHandler?.();
    try {
      return await next(req);
    } catch (err) {
      throw publicError(err, deps.logger, {
        requestId: req.contextValues.get(REQUEST_ID),
        method: req.method.name,
      });
    }
  };
}
