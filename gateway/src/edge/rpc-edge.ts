// The outermost layer of every RPC the gateway serves, around Connect's own handler (which
// negotiates the protocol, reads and decodes the body, and runs the request gate and the
// interceptors). It sees every request and every answer, whatever layer produced it:
//   - the request id on every answer (errors Connect raises before our code included), and
//     the CORS headers of browser callers;
//   - errors Connect raised while decoding a request (they have no reason of ours) become the
//     caller's errors with our reason (protocol-errors in public-errors.ts): no input gets a
//     5xx. An error without our reason raised after our interceptors ran is a fault: INTERNAL,
//     logged;
//   - admission (admission.ts): a public request the gateway cannot serve in time is refused
//     before Connect reads its body, with OVERLOADED and Retry-After; one whose upstream is
//     unreachable right now with UPSTREAM_UNAVAILABLE and Retry-After, without waiting for a
//     deadline. Decided once per request by `early`, at the Node request: a refusal in the
//     Connect protocol (what client apps speak) is written from bytes made once a second,
//     without Connect building a request, an error or an AbortController for it (measured:
//     262 µs of gateway CPU per refusal that way, 7 times a bare node:http answer; refusals
//     are what a flood is made of). gRPC and gRPC-Web refusals are answered by `wrap`, in
//     their protocol;
//   - the access log line and the request metrics, once the answer's status is known (for
//     gRPC, in the trailers at the end of the body). Refusals are counted, not logged one by
//     one: a summary line at most once a second.
import { ConnectError, type ContextValues, createContextValues } from "@connectrpc/connect";
import {
  encodeEnvelope,
  type UniversalHandler,
  type UniversalServerRequest,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import {
  Code,
  Counter,
  codeName,
  endSpan,
  headersGetter,
  type Logger,
  type Metrics,
  propagation,
  SpanKind,
  trace,
  traceContext,
  tracing,
} from "@emailauth/platform";
import { AuthService } from "@emailauth/proto/auth";
import { appError } from "../errors.ts";
import type { Admission, Priority } from "./admission.ts";
import {
  ADMISSION,
  type AdmissionDecision,
  CLIENT_APP,
  REQUEST_ID,
  RPC_STATE,
  type RpcState,
} from "./context.ts";
import { decorate } from "./cors.ts";
import { fromDecodeError, reasonOf, toConnectError } from "./public-errors.ts";

export interface RpcEdgeDeps {
  logger: Logger;
  metrics: Metrics;
  admission: Admission;
  /** Whether the upstreams a public method needs can be reached right now. */
  upstreamsReachable?: (method: string) => boolean;
}

/** Shed first: a new code can wait; a person typing one, or a revoke, should not. */
const LOW_PRIORITY = new Set(["StartLogin", "GetLoginStatus"]);
const priorityOf = (method: string): Priority => (LOW_PRIORITY.has(method) ? "low" : "high");

/** The final status of an answer, for the log and metrics. */
interface Outcome {
  code: number;
  reason: string | undefined;
}

/** A complete answer, written as is (a refusal made before Connect sees the request). */
export interface EarlyAnswer {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface RpcEdge {
  /**
   * Admission for a request to `handler`, before anything else is done with it: a refusal to
   * write as is (Connect protocol), or undefined (admitted, or refused in a protocol `wrap`
   * answers). The decision is kept in `values` for `wrap`.
   */
  early(
    handler: UniversalHandler,
    request: { contentType: string | undefined; origin: string | undefined },
    values: ContextValues,
  ): EarlyAnswer | undefined;
  /** Wraps each RPC's handler: everything else this file's header lists. */
  wrap(handler: UniversalHandler): UniversalHandler;
}

export function createRpcEdge(deps: RpcEdgeDeps): RpcEdge {
  const { logger, metrics, admission } = deps;
  // What operators alert on: refusals by their stable reason (rate limits, locks, bad keys,
  // shed load), and the aggregate-guessing signal, wrong codes per client app. Labels are
  // bounded: methods, public reasons, and client app ids (made by operators).
  const errors = new Counter({
    name: "emailauth_gateway_errors_total",
    help: "Public requests answered with an error, by method and stable reason (RATE_LIMITED, EMAIL_LOCKED, API_KEY_INVALID, OVERLOADED...).",
    labelNames: ["method", "reason"],
    registers: [metrics.registry],
  });
  const failedVerifications = new Counter({
    name: "emailauth_verification_failures_total",
    help: "VerifyLogin calls answered CODE_INVALID, by client app: a rise across one app's logins is someone guessing codes.",
    labelNames: ["client_app"],
    registers: [metrics.registry],
  });
  // Refusals, summed up in one log line a second at most.
  const shed = { count: 0, reasons: {} as Record<string, number>, lastLog: 0 };
  const noteRefusal = (reason: string, method: string) => {
    errors.inc({ method, reason });
    metrics.requests.inc({
      method,
      code: codeName(reason === "OVERLOADED" ? Code.ResourceExhausted : Code.Unavailable),
    });
    shed.count++;
    shed.reasons[reason] = (shed.reasons[reason] ?? 0) + 1;
    const now = Date.now();
    if (now - shed.lastLog >= 1_000) {
      logger.warn({ refused: shed.count, reasons: shed.reasons, ...admission.state() }, "shedding load");
      shed.count = 0;
      shed.reasons = {};
      shed.lastLog = now;
    }
  };

  /** Admitted (with its ticket), refused (with the error to answer), or not public. */
  const decide = (handler: UniversalHandler): AdmissionDecision => {
    if (handler.service.typeName !== AuthService.typeName) return { kind: "private" };
    const method = handler.method.name;
    if (!(deps.upstreamsReachable?.(method) ?? true)) return refuse("UPSTREAM_UNAVAILABLE", 1_000, method);
    const admitted = admission.admit(priorityOf(method));
    return admitted.ok
      ? { kind: "admitted", ticket: admitted }
      : refuse("OVERLOADED", admitted.retryAfterMs, method);
  };
  const refuse = (reason: "OVERLOADED" | "UPSTREAM_UNAVAILABLE", retryAfterMs: number, method: string) => {
    noteRefusal(reason, method);
    return { kind: "refused" as const, reason, retryAfterMs };
  };
  const refusalError = (reason: "OVERLOADED" | "UPSTREAM_UNAVAILABLE", retryAfterMs: number) =>
    toConnectError(appError(reason, { retryAt: new Date(Date.now() + retryAfterMs) }));

  // Connect refusals as bytes, remade when the second (their Retry-After and retry time) turns.
  const made = new Map<string, { second: number; answer: EarlyAnswer }>();
  const connectRefusal = (
    reason: "OVERLOADED" | "UPSTREAM_UNAVAILABLE",
    retryAfterMs: number,
  ): EarlyAnswer => {
    const second = Math.floor(Date.now() / 1000);
    const key = `${reason} ${retryAfterMs}`;
    const cached = made.get(key);
    if (cached?.second === second) return cached.answer;
    const { status, header, bytes } = connectError(refusalError(reason, retryAfterMs));
    const answer = { status, headers: Object.fromEntries(header), body: bytes };
    made.set(key, { second, answer });
    return answer;
  };

  const early: RpcEdge["early"] = (handler, request, values) => {
    const decision = decide(handler);
    values.set(ADMISSION, decision);
    if (decision.kind !== "refused" || protocolOf(request.contentType ?? null) !== "connect")
      return undefined;
    const answer = connectRefusal(decision.reason, decision.retryAfterMs);
    if (!request.origin) return answer;
    const header = new Headers(answer.headers);
    decorate(header, request.origin);
    return { ...answer, headers: Object.fromEntries(header) };
  };

  /** Our reason for an error without one, by where it was raised. */
  const settle = (err: ConnectError, state: RpcState, requestId: string, method: string): ConnectError => {
    if (reasonOf(err) !== undefined) return err;
    if (!state.handlerReached) return fromDecodeError(err);
    logger.error({ requestId, method, err }, "request failed after its handler");
    return toConnectError(appError("INTERNAL", { cause: err }));
  };

  const wrap = (handler: UniversalHandler): UniversalHandler => {
    const method = handler.method.name;
    const isPublic = handler.service.typeName === AuthService.typeName;
    const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
      const started = performance.now();
      const values = req.contextValues ?? createContextValues();
      const requestId = values.get(REQUEST_ID);
      const state: RpcState = { handlerReached: false };
      values.set(RPC_STATE, state);
      const origin = req.header.get("origin");
      const protocol = protocolOf(req.header.get("content-type"));
      let ticket: { done(): void } | undefined;
      // Decided by `early` at the Node request; here only when it was not called.
      const decision = values.get(ADMISSION) ?? decide(handler);
      if (decision.kind === "refused") {
        // Refused before Connect reads anything: the cheapest answer that says what to do.
        const res = errorResponse(protocol, refusalError(decision.reason, decision.retryAfterMs));
        const header = new Headers(res.header);
        header.set("x-request-id", requestId);
        decorate(header, origin);
        return { ...res, header };
      }
      if (decision.kind === "admitted") {
        const admitted = decision.ticket;
        ticket = admitted;
        state.onHandler = () => admitted.begin();
      }
      metrics.inFlight.inc();
      // The request's server span, in the client app's trace when it sent a `traceparent`.
      const span =
        isPublic && tracing().enabled
          ? tracing().tracer.startSpan(
              `${AuthService.typeName}/${method}`,
              {
                kind: SpanKind.SERVER,
                attributes: {
                  "rpc.system": protocol === "connect" ? "connect_rpc" : "grpc",
                  "rpc.service": AuthService.typeName,
                  "rpc.method": method,
                  "emailauth.request_id": requestId,
                },
              },
              propagation.extract(traceContext.active(), req.header, headersGetter),
            )
          : undefined;
      let done = false;
      const finish = (outcome: Outcome) => {
        if (done) return;
        done = true;
        if (span) {
          const clientAppId = values.get(CLIENT_APP)?.id;
          if (clientAppId) span.setAttribute("emailauth.client_app", clientAppId);
          endSpan(span, { code: codeName(outcome.code), reason: outcome.reason });
        }
        ticket?.done();
        metrics.inFlight.dec();
        const seconds = (performance.now() - started) / 1000;
        const status = codeName(outcome.code);
        metrics.requests.inc({ method, code: status });
        metrics.requestDuration.observe({ method, code: status }, seconds);
        if (isPublic && outcome.reason) {
          errors.inc({ method, reason: outcome.reason });
          if (outcome.reason === "CODE_INVALID" && method === "VerifyLogin") {
            failedVerifications.inc({ client_app: values.get(CLIENT_APP)?.id ?? "unknown" });
          }
        }
        if (isPublic) {
          logger.info(
            {
              requestId,
              method,
              status,
              ...(outcome.reason && { reason: outcome.reason }),
              ms: Math.round(seconds * 1000),
              clientAppId: values.get(CLIENT_APP)?.id,
            },
            "request",
          );
        }
      };

      /**
       * Connect answers errors itself, and throws only when it cannot even write one (its
       * gRPC status writer fails on a message with a lone UTF-16 surrogate, echoed from the
       * input): answered here, as the error the request would have got.
       */
      const unanswerable = (err: unknown): ConnectError => {
        if (!state.handlerReached) {
          logger.warn({ requestId, method, err }, "Connect could not answer a request it could not decode");
          return fromDecodeError(
            new ConnectError("the request could not be decoded", Code.Internal as number),
          );
        }
        logger.error({ requestId, method, err }, "request failed after its handler");
        return toConnectError(appError("INTERNAL", { cause: err }));
      };
      let res: UniversalServerResponse;
      try {
        const run = () => handler({ ...req, contextValues: values });
        res = await (span ? traceContext.with(trace.setSpan(traceContext.active(), span), run) : run());
      } catch (err) {
        res = errorResponse(protocol, unanswerable(err));
      }
      const header = new Headers(res.header);
      header.set("x-request-id", requestId);
      decorate(header, origin);
      const contentType = header.get("content-type") ?? "";

      // Not an RPC answer at all (415, 405, 505 from protocol negotiation): no body to read.
      if (!contentType) {
        finish({ code: codeFromPlainStatus(res.status), reason: undefined });
        return { ...res, header };
      }

      if (!contentType.startsWith("application/grpc")) {
        // Connect protocol, unary: the status is final; an error is a JSON body.
        if (res.status === 200) {
          finish({ code: 0, reason: undefined });
          return { ...res, header };
        }
        const body = await readAll(res.body);
        const fallback = toConnectError(appError("INTERNAL"));
        const err = settle(errorFromJsonBytes(body, undefined, fallback), state, requestId, method);
        const out = errorToJsonBytes(err, {});
        header.set("content-length", String(out.byteLength));
        header.delete("content-encoding");
        finish({ code: err.code, reason: reasonOf(err) });
        return { status: codeToHttpStatus(err.code), header, body: single(out) };
      }

      // gRPC and gRPC-Web: the status comes at the end, in the trailers (gRPC) or in the last
      // envelope of the body (gRPC-Web). The body is passed through, and the status read (and
      // settled) when it ends.
      const grpcWeb = contentType.startsWith("application/grpc-web");
      const trailer = res.trailer;
      const onTrailer = (t: Headers) => {
        const found = findTrailerError(t);
        if (!found) return { code: 0, reason: undefined };
        const err = settle(found, state, requestId, method);
        if (err !== found) setTrailerStatus(t, err);
        return { code: err.code, reason: reasonOf(err) };
      };
      const source = res.body?.[Symbol.asyncIterator]();
      let failed = false;
      const body: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]() {
          return {
            async next() {
              if (failed) return { done: true as const, value: undefined };
              let chunk: IteratorResult<Uint8Array>;
              try {
                chunk = source ? await source.next() : { done: true as const, value: undefined };
              } catch (err) {
                failed = true;
                const error = unanswerable(err);
                const t = setTrailerStatus(trailer ?? new Headers(), error);
                finish({ code: error.code, reason: reasonOf(error) });
                return grpcWeb
                  ? { done: false as const, value: encodeEnvelope(trailerFlag, trailerSerialize(t)) }
                  : { done: true as const, value: undefined };
              }
              if (chunk.done) {
                if (!grpcWeb && trailer) finish(onTrailer(trailer));
                else finish({ code: 0, reason: undefined });
                return chunk;
              }
              // A gRPC-Web trailer envelope (uncompressed): the status of the call.
              const bytes = chunk.value;
              if (grpcWeb && bytes.byteLength >= 5 && (bytes[0] ?? 0) === trailerFlag) {
                const t = trailerParse(bytes.subarray(5));
                finish(onTrailer(t));
                return { done: false, value: encodeEnvelope(trailerFlag, trailerSerialize(t)) };
              }
              return chunk;
            },
            async return(value?: unknown) {
              finish({ code: Code.Canceled, reason: "CANCELED" });
              await source?.return?.(value);
              return { done: true as const, value: undefined };
            },
            async throw(e?: unknown) {
              finish({ code: Code.Canceled, reason: "CANCELED" });
              if (source?.throw) return source.throw(e);
              throw e;
            },
          };
        },
      };
      return { ...res, header, body };
    };
    return Object.assign(wrapped, {
      protocolNames: handler.protocolNames,
      service: handler.service,
      method: handler.method,
      requestPath: handler.requestPath,
      allowedMethods: handler.allowedMethods,
      supportedContentType: handler.supportedContentType,
    });
  };
  return { early, wrap };
}

type Protocol = "connect" | "grpc" | "grpc-web";

function protocolOf(contentType: string | null): Protocol {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** An answer carrying only `err` (and its headers, e.g. Retry-After), in the request's protocol. */
function errorResponse(protocol: Protocol, err: ConnectError): UniversalServerResponse {
  if (protocol === "connect") {
    const { status, header, bytes } = connectError(err);
    return { status, header, body: single(bytes) };
  }
  const header = new Headers(err.metadata);
  const trailer = setTrailerStatus(new Headers(), err);
  if (protocol === "grpc") {
    header.set("content-type", "application/grpc+proto");
    return { status: 200, header, body: single(new Uint8Array(0)), trailer };
  }
  header.set("content-type", "application/grpc-web+proto");
  return { status: 200, header, body: single(encodeEnvelope(trailerFlag, trailerSerialize(trailer))) };
}

/** A Connect unary error answer: status, headers (the error's metadata too) and JSON body. */
function connectError(err: ConnectError): { status: number; header: Headers; bytes: Uint8Array } {
  const header = new Headers(err.metadata);
  const bytes = errorToJsonBytes(err, {});
  header.set("content-type", "application/json");
  header.set("content-length", String(bytes.byteLength));
  return { status: codeToHttpStatus(err.code), header, bytes };
}

function codeFromPlainStatus(status: number): number {
  if (status === 415 || status === 405) return Code.InvalidArgument;
  return status < 400 ? 0 : Code.Unknown;
}

async function readAll(body: AsyncIterable<Uint8Array> | undefined): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}

async function* single(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
