// The gateway's interceptors, outermost first:
//   edge   request id, public error mapping, CORS response headers, access log, metrics
//   guard  load shedding, client-app authentication, allowed origins, per-app request rate
// then protovalidate, then the handlers. Health and reflection need no API key.

import { randomUUID } from "node:crypto";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { appError, codeName, type Logger, type Metrics } from "@emailauth/platform";
import { AuthService } from "@emailauth/proto/auth";
import { ErrorDetailSchema } from "@emailauth/proto/auth-common";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { ClientAppAuthenticator } from "../auth/client-app-auth.ts";
import { CLIENT_APP, IDEMPOTENCY_KEY, REQUEST_ID } from "./context.ts";
import { decorate } from "./cors.ts";
import { toConnectError, toPublic, withReason } from "./public-errors.ts";

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

export function createEdgeInterceptor(deps: { logger: Logger; metrics: Metrics }): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const given = req.header.get("x-request-id");
    const requestId = given && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
    req.contextValues.set(REQUEST_ID, requestId);
    const clientKey = req.header.get("idempotency-key");
    if (clientKey !== null && !IDEMPOTENCY_KEY_PATTERN.test(clientKey)) {
      throw toConnectError(
        appError("INVALID_ARGUMENT", { message: "Idempotency-Key: 1 to 100 characters of [A-Za-z0-9._:-]" }),
      );
    }
    req.contextValues.set(IDEMPOTENCY_KEY, clientKey ? `c:${clientKey}` : `r:${requestId}`);
    const origin = req.header.get("origin");
    const method = req.method.name;
    deps.metrics.inFlight.inc();
    const finish = (code: number, reason?: string) => {
      deps.metrics.inFlight.dec();
      const seconds = (performance.now() - started) / 1000;
      const status = codeName(code);
      deps.metrics.requests.inc({ method, code: status });
      deps.metrics.requestDuration.observe({ method, code: status }, seconds);
      if (req.service.typeName === AuthService.typeName) {
        const app = req.contextValues.get(CLIENT_APP);
        deps.logger.info(
          {
            requestId,
            method,
            status,
            ...(reason && { reason }),
            ms: Math.round(seconds * 1000),
            clientAppId: app?.id,
          },
          "request",
        );
      }
    };
    try {
      const res = await next(req);
      res.header.set("x-request-id", requestId);
      decorate(res.header, origin);
      finish(0);
      return res;
    } catch (err) {
      let out: ConnectError;
      let reason: string | undefined;
      if (err instanceof ConnectError) {
        // Raised by Connect or protovalidate here: meant for the caller, given a reason.
        out = withReason(err);
        reason = errorReasonOf(out);
      } else {
        const { error, fault } = toPublic(err);
        if (fault) deps.logger.error({ requestId, method, err: error.cause ?? error }, "request failed");
        out = toConnectError(error);
        reason = error.reason;
      }
      out.metadata.set("x-request-id", requestId);
      decorate(out.metadata, origin);
      finish(out.code, reason);
      throw out;
    }
  };
}

function errorReasonOf(err: ConnectError): string | undefined {
  return err.findDetails(ErrorDetailSchema)[0]?.reason;
}

export interface GuardDeps {
  authenticator: ClientAppAuthenticator;
  /** Requests served at once before new ones are refused with OVERLOADED. */
  maxInFlight: number;
  /** Requests per second one client app may make to this replica. */
  appRequestsPerSecond: number;
}

export function createGuardInterceptor(deps: GuardDeps): Interceptor {
  let inFlight = 0;
  const perApp = new RateLimiterMemory({ keyPrefix: "app", points: deps.appRequestsPerSecond, duration: 1 });
  return (next) => async (req) => {
    if (req.service.typeName !== AuthService.typeName) return next(req);
    if (inFlight >= deps.maxInFlight) {
      // Shed load early and cheaply, before any upstream call.
      throw appError("OVERLOADED", { retryAt: new Date(Date.now() + 1000) });
    }
    inFlight++;
    try {
      const app = await deps.authenticator.authenticate(req.header.get("authorization"), {
        requestId: req.contextValues.get(REQUEST_ID),
      });
      req.contextValues.set(CLIENT_APP, app);
      const origin = req.header.get("origin");
      if (origin && !(app.settings?.allowedOrigins ?? []).includes(origin))
        throw appError("ORIGIN_NOT_ALLOWED");
      try {
        await perApp.consume(app.id);
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        throw appError("RATE_LIMITED", { retryAt: new Date(Date.now() + refusal.msBeforeNext) });
      }
      return await next(req);
    } finally {
      inFlight--;
    }
  };
}
