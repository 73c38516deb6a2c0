// Serves a batch method (SendNotes: many SendNote requests in one call) with the
// unary method's own handler, run for every request at once. Each request is exactly the unary
// call it stands for: same validation, rules, atomicity and idempotency, its own request id in
// the logs, its own metrics under the unary method's name, and its own result. Running them
// concurrently lets ioredis send their commands in one pipelined round trip (auto-pipelining
// groups what is issued in the same tick, per node on a Cluster). One request that fails
// (refused, invalid, even a fault) is that request's result, never its neighbours'.
import { appError, toAppError } from "../errors/catalog.ts";
import {
  type AsyncUnary,
  BATCH,
  type CallContext,
  type HandlerDeps,
  reportFailed,
  reportServed,
  validRequestId,
} from "./handlers.ts";

/** The most requests one batch call may carry. */
export const MAX_BATCH = 128;

export interface BatchRequest<Req> {
  requests: Req[];
  /** Parallel to requests; may be shorter (the batch's own id is used). */
  requestIds: string[];
}

/** A request's result: its response, or the error the unary call would have returned. */
export interface BatchResult<Res> {
  response?: Res | undefined;
  error?: { reason: string; retryAt?: Date | undefined } | undefined;
}

export function serveBatch<Req, Res>(
  /** The unary method's name, for metrics and logs ("SendNote"). */
  method: string,
  unary: AsyncUnary<Req, Res>,
  deps: HandlerDeps,
): AsyncUnary<BatchRequest<Req>, { results: BatchResult<Res>[] }> {
  const serve: AsyncUnary<BatchRequest<Req>, { results: BatchResult<Res>[] }> = async (batch, ctx) => {
    if (batch.requests.length === 0 || batch.requests.length > MAX_BATCH) {
      throw appError("INVALID_ARGUMENT", { message: `a batch carries 1 to ${MAX_BATCH} requests` });
    }
    const results = await Promise.all(
      batch.requests.map(async (request, i): Promise<BatchResult<Res>> => {
        const started = performance.now();
        const requestId = validRequestId(batch.requestIds[i]) ?? ctx.requestId;
        let logger: CallContext["logger"] | undefined;
        const item: CallContext = {
          requestId,
          get logger() {
            logger ??= deps.logger.child({ requestId, method });
            return logger;
          },
          // The batch's: made only if a handler asks for it (see handlers.ts).
          get signal() {
            return ctx.signal;
          },
          deadline: ctx.deadline,
          metadata: ctx.metadata,
        };
        deps.metrics.inFlight.inc();
        try {
          const response = await unary(request, item);
          reportServed(method, started, item, deps);
          return { response };
        } catch (err) {
          const appErr = toAppError(err);
          reportFailed(method, started, appErr, item, deps);
          return { error: { reason: appErr.reason, retryAt: appErr.retryAt } };
        } finally {
          deps.metrics.inFlight.dec();
        }
      }),
    );
    return { results };
  };
  return Object.assign(serve, { [BATCH]: true });
}
