// The gateway's error boundary: whatever a handler throws becomes a ConnectError chosen from
// the catalog by reason. Upstream messages, causes and stack traces never reach a client app;
// the cause is logged instead. Errors carry an ErrorDetail (reason, retry time) and, when a
// retry time is known, a Retry-After header.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Code as ConnectCode, ConnectError, type Interceptor } from "@connectrpc/connect";
import { type AppError, Code, catalog, type Logger, toAppError } from "@emailauth/platform";
import { ErrorDetailSchema } from "@emailauth/proto/auth-common";

export function toConnectError(err: AppError): ConnectError {
  const metadata = new Headers();
  if (err.retryAt) {
    metadata.set("retry-after", String(Math.max(1, Math.ceil((err.retryAt.getTime() - Date.now()) / 1000))));
  }
  const detail = create(ErrorDetailSchema, {
    reason: err.reason,
    ...(err.retryAt && { retryAt: timestampFromDate(err.retryAt) }),
  });
  // The public message is the catalog's, except for input errors whose message names the field.
  const message = err.code === Code.InvalidArgument ? err.message : catalog[err.reason].message;
  return new ConnectError(message, err.code as number as ConnectCode, metadata, [
    { desc: ErrorDetailSchema, value: detail },
  ]);
}

export function createErrorInterceptor(deps: { logger: Logger }): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      // Raised here (e.g. by the validation interceptor), safe as it is.
      if (err instanceof ConnectError) throw err;
      const appErr = toAppError(err);
      if (appErr.code === Code.Internal) {
        deps.logger.error({ err: appErr.cause ?? appErr, method: req.method.name }, "request failed");
      }
      throw toConnectError(appErr);
    }
  };
}
