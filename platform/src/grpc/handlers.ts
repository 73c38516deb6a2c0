// Turns async handlers `(request, ctx) => Promise<response>` into grpc-js unary handlers, with
// the cross-cutting work done once: request id, per-call logger, cancellation as an
// AbortSignal, deadline, errors mapped by their reason, metrics, and a log line.
import { randomUUID } from "node:crypto";
import type {
  handleUnaryCall,
  Metadata,
  ServerUnaryCall,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { context, propagation } from "@opentelemetry/api";
import { type AppError, appError, Code, toAppError } from "../errors/catalog.ts";
import { toGrpcError } from "../errors/grpc-status.ts";
import type { Logger } from "../log/logger.ts";
import { codeName, type Metrics } from "../metrics/metrics.ts";
import { endSpan, metadataGetter, SpanKind, trace, tracing } from "../tracing/tracing.ts";

export const REQUEST_ID_KEY = "x-request-id";
/** Marks a batch method's handler (serveBatch), whose requests are counted one by one. */
export const BATCH = Symbol("batch");
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export interface CallContext {
  /** Carried from the public edge through every service; on every log line of the call. */
  readonly requestId: string;
  readonly logger: Logger;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal: AbortSignal;
  readonly deadline: Date | undefined;
  readonly metadata: Metadata;
}

export type AsyncUnary<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;

/** One async handler per method of a ts-proto `XServiceServer` (its index signature dropped). */
export type AsyncHandlers<S> = {
  [K in keyof S as string extends K ? never : K]: S[K] extends handleUnaryCall<infer Req, infer Res>
    ? AsyncUnary<Req, Res>
    : never;
};

export interface HandlerDeps {
  logger: Logger;
  metrics: Metrics;
}

/** Accepts the caller's request id if it is well-formed, or makes one. */
export function requestIdFrom(metadata: Metadata): string {
  return validRequestId(metadata.get(REQUEST_ID_KEY)[0]) ?? randomUUID();
}

/** The given request id if it is well-formed (it goes into logs). */
export function validRequestId(given: unknown): string | undefined {
  return typeof given === "string" && REQUEST_ID_PATTERN.test(given) ? given : undefined;
}

function deadlineOf(call: ServerUnaryCall<unknown, unknown>): Date | undefined {
  const d = call.getDeadline();
  if (d instanceof Date) return d;
  return Number.isFinite(d) ? new Date(d) : undefined;
}

function wrap<Req, Res>(
  method: string,
  handler: AsyncUnary<Req, Res>,
  deps: HandlerDeps,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    const requestId = requestIdFrom(call.metadata);
    // The AbortController is made only if a handler asks for the signal: aborting one builds a
    // DOMException with a stack trace, too costly to do for every call.
    let controller: AbortController | undefined;
    let cancelled = false;
    call.once("cancelled", () => {
      cancelled = true;
      controller?.abort();
    });
    const deadline = deadlineOf(call as ServerUnaryCall<unknown, unknown>);
    let logger: Logger | undefined;
    const ctx: CallContext = {
      requestId,
      get logger() {
        logger ??= deps.logger.child({ requestId, method });
        return logger;
      },
      get signal() {
        if (!controller) {
          controller = new AbortController();
          if (cancelled) controller.abort();
        }
        return controller.signal;
      },
      deadline,
      metadata: call.metadata,
    };
    if (deadline && deadline.getTime() <= Date.now()) {
      // The caller has given up already (the request sat in a stalled process): acting now
      // would do work nobody waits for, possibly after the caller compensated for it.
      callback(toGrpcError(appError("DEADLINE_EXCEEDED")));
      return;
    }
    // A batch counts its requests, not itself (batch-handler.ts): the gauge is work in progress.
    const counted = !(BATCH in handler);
    if (counted) deps.metrics.inFlight.inc();
    // A server span in the caller's trace (its `traceparent`), when tracing is on.
    const span = tracing().enabled
      ? tracing().tracer.startSpan(
          method,
          {
            kind: SpanKind.SERVER,
            attributes: { "rpc.system": "grpc", "rpc.method": method, "emailauth.request_id": requestId },
          },
          propagation.extract(context.active(), call.metadata, metadataGetter),
        )
      : undefined;
    const run = () => handler(call.request, ctx);
    (span ? context.with(trace.setSpan(context.active(), span), run) : run()).then(
      (response) => {
        if (counted) deps.metrics.inFlight.dec();
        reportServed(method, started, ctx, deps);
        if (span) endSpan(span, { code: "ok" });
        callback(null, response);
      },
      (err: unknown) => {
        if (counted) deps.metrics.inFlight.dec();
        const appErr = toAppError(err);
        reportFailed(method, started, appErr, ctx, deps);
        if (span) endSpan(span, { code: codeName(appErr.code), reason: appErr.reason });
        callback(toGrpcError(appErr));
      },
    );
  };
}

const observe = (method: string, started: number, code: number, deps: HandlerDeps) => {
  const seconds = (performance.now() - started) / 1000;
  const label = codeName(code);
  deps.metrics.requests.inc({ method, code: label });
  deps.metrics.requestDuration.observe({ method, code: label }, seconds);
  return seconds;
};

/** Metrics and (at debug) a log line for a call, or a batch's item, that succeeded. */
export function reportServed(method: string, started: number, ctx: CallContext, deps: HandlerDeps): void {
  const seconds = observe(method, started, 0, deps);
  // Checked first: building the call's child logger is not free, and debug is usually off.
  if (deps.logger.isLevelEnabled("debug")) {
    ctx.logger.debug({ status: "ok", ms: Math.round(seconds * 1000) }, "call served");
  }
}

/** Metrics and a log line for a call, or a batch's item, that failed: faults loudly, refusals at debug. */
export function reportFailed(
  method: string,
  started: number,
  appErr: AppError,
  ctx: CallContext,
  deps: HandlerDeps,
): void {
  const seconds = observe(method, started, appErr.code, deps);
  const fields = { status: codeName(appErr.code), reason: appErr.reason, ms: Math.round(seconds * 1000) };
  if (appErr.code === Code.Internal)
    ctx.logger.error({ ...fields, err: appErr.cause ?? appErr }, "call failed");
  else if (appErr.code === Code.Unavailable) ctx.logger.warn({ ...fields, err: appErr.cause }, "call failed");
  else if (deps.logger.isLevelEnabled("debug")) ctx.logger.debug(fields, "call refused");
}

/**
 * Builds a grpc-js service implementation from async handlers. The definition is the
 * ts-proto `XServiceService` object; the type parameter its `XServiceServer` interface.
 */
export function implementService<S extends UntypedServiceImplementation>(
  definition: Record<keyof AsyncHandlers<S> & string, { readonly path: string }>,
  handlers: AsyncHandlers<S>,
  deps: HandlerDeps,
): S {
  const impl: Record<string, unknown> = {};
  for (const key of Object.keys(definition) as (keyof AsyncHandlers<S> & string)[]) {
    const method = definition[key].path.split("/").pop() ?? key;
    impl[key] = wrap(method, handlers[key] as AsyncUnary<unknown, unknown>, deps);
  }
  return impl as S;
}
