// Coalescing: calls to one upstream method made in the same turn of the event loop go out as
// one call of its batch method (SendNote → SendNotes), so that a grpc-js call's
// fixed cost (~100-200 µs of CPU at each end, and a turn of each event loop) is paid once per
// batch instead of once per request. The batch leaves on the next turn (setImmediate), never
// on a timer: a request alone does not wait for company, and goes out as the unary call it is.
//
// Each request keeps its own semantics: its own result or error (one refused request never
// fails its neighbours), its own idempotency key (a batch retried after UNAVAILABLE repeats
// each request safely), its own deadline and cancellation (it is answered CANCELED or
// DEADLINE_EXCEEDED at its own time, whatever the batch does; like a unary call whose answer
// is abandoned, the work may still be done upstream, which idempotency keys make safe).
import { context, type SpanContext } from "@opentelemetry/api";
import { type AppError, appError } from "../errors/catalog.ts";
import { trace, tracing } from "../tracing/tracing.ts";
import type { BatchRequest, BatchResult } from "./batch-handler.ts";
import type { CallOptionsLite, Upstream } from "./client.ts";

export interface CoalescerDeps<Req, Res> {
  /** One request alone: the unary call. */
  one(request: Req, options: CallOptionsLite): Promise<Res>;
  /** Several in one call of the batch method; a result per request, in order. */
  many(batch: BatchRequest<Req>, options: CallOptionsLite): Promise<{ results: BatchResult<Res>[] }>;
  /** The AppError a request's error in a batch answer stands for (the upstream's reasons). */
  decodeError(error: NonNullable<BatchResult<Res>["error"]>): AppError;
  /** The deadline of a request that gives none. */
  deadlineMs: number;
  /** The most requests in one batch call (the server's limit). */
  maxBatch: number;
  /** Told the size of every call sent (1 for a request that went alone), for the metrics. */
  onSend?: (size: number) => void;
}

interface Pending<Req, Res> {
  request: Req;
  options: CallOptionsLite;
  /** The request's span, when tracing is on: the batch call's span links to each one. */
  span: SpanContext | undefined;
  deadline: number;
  settled: boolean;
  resolve(response: Res): void;
  reject(err: unknown): void;
}

export function createCoalescer<Req, Res>(
  deps: CoalescerDeps<Req, Res>,
): (request: Req, options?: CallOptionsLite) => Promise<Res> {
  let pending: Pending<Req, Res>[] = [];

  const send = (items: Pending<Req, Res>[]) => {
    const live = items.filter((item) => !item.settled);
    const [first] = live;
    if (!first) return;
    deps.onSend?.(live.length);
    if (live.length === 1) {
      deps.one(first.request, first.options).then(first.resolve, first.reject);
      return;
    }
    const deadline = Math.max(...live.map((item) => item.deadline));
    for (const item of live) {
      // A request that must be answered before the batch's deadline is answered at its own.
      if (item.deadline < deadline) {
        // The upstream did not answer in time: the same error as a unary call's deadline,
        // marked as the upstream's (a caller maps it as an outage, not as its own timeout).
        const timer = setTimeout(
          () => item.reject(deps.decodeError({ reason: "DEADLINE_EXCEEDED" })),
          item.deadline - Date.now(),
        );
        const { resolve, reject } = item;
        item.resolve = (response) => {
          clearTimeout(timer);
          resolve(response);
        };
        item.reject = (err) => {
          clearTimeout(timer);
          reject(err);
        };
      }
    }
    deps
      .many(
        {
          requests: live.map((item) => item.request),
          requestIds: live.map((item) => item.options.requestId ?? ""),
        },
        {
          deadlineMs: Math.max(1, deadline - Date.now()),
          ...(first.options.requestId && { requestId: first.options.requestId }),
          // The batch runs in the first request's trace; every request's trace links to it.
          ...(tracing().enabled && {
            links: live.flatMap((item) => (item.span ? [item.span] : [])),
          }),
        },
      )
      .then(
        ({ results }) => {
          live.forEach((item, i) => {
            const result = results[i];
            if (result?.response) item.resolve(result.response);
            else if (result?.error) item.reject(deps.decodeError(result.error));
            else
              item.reject(appError("INTERNAL", { message: "a batch answer without this request's result" }));
          });
        },
        (err: unknown) => {
          for (const item of live) item.reject(err);
        },
      );
  };

  const flush = () => {
    const items = pending;
    pending = [];
    for (let i = 0; i < items.length; i += deps.maxBatch) send(items.slice(i, i + deps.maxBatch));
  };

  return (request, options = {}) =>
    new Promise<Res>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(appError("CANCELED"));
        return;
      }
      const item: Pending<Req, Res> = {
        request,
        options,
        span: tracing().enabled ? trace.getSpanContext(context.active()) : undefined,
        deadline: Date.now() + (options.deadlineMs ?? deps.deadlineMs),
        settled: false,
        resolve: (response) => {
          if (item.settled) return;
          item.settled = true;
          options.signal?.removeEventListener("abort", onAbort);
          resolve(response);
        },
        reject: (err) => {
          if (item.settled) return;
          item.settled = true;
          options.signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      const onAbort = () => item.reject(appError("CANCELED"));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (pending.length === 0) setImmediate(flush);
      pending.push(item);
    });
}

/**
 * An upstream whose `call` coalesces the given methods into their batch methods (client method
 * names: { sendNote: "sendNotes" }); every other method is called as before.
 */
export function withCoalescing<C>(
  upstream: Upstream<C>,
  batches: Record<string, string>,
  options: { deadlineMs: number; maxBatch: number; onSend?: (method: string, size: number) => void },
): Upstream<C> {
  type AnyCall = (method: string, request: unknown, options?: CallOptionsLite) => Promise<unknown>;
  const call = upstream.call.bind(upstream) as unknown as AnyCall;
  const coalesced = new Map<string, (request: unknown, options?: CallOptionsLite) => Promise<unknown>>();
  for (const [method, batchMethod] of Object.entries(batches)) {
    coalesced.set(
      method,
      createCoalescer<unknown, unknown>({
        one: (request, opts) => call(method, request, opts),
        many: (batch, opts) => call(batchMethod, batch, opts) as Promise<{ results: BatchResult<unknown>[] }>,
        decodeError: (error) => upstream.decodeError(error),
        deadlineMs: options.deadlineMs,
        maxBatch: options.maxBatch,
        ...(options.onSend && { onSend: (size: number) => options.onSend?.(method, size) }),
      }),
    );
  }
  return {
    ...upstream,
    call: ((method: string, request: unknown, opts?: CallOptionsLite) =>
      (coalesced.get(method) ?? ((r, o) => call(method, r, o)))(request, opts)) as Upstream<C>["call"],
  };
}
