// Long-lived grpc-js clients to the other services of the mesh, and one way to call them.
//
// - Replicas: the client balances round-robin across every address of a service and routes
//   around replicas that are down (grpc-js takes failed subchannels out of the rotation).
// - Deadlines: every call has one; a down service gives a clear failure within it.
// - Cancellation: the caller's AbortSignal (e.g. the public request going away) cancels the call.
// - Retries: only methods declared idempotent are retried, only on UNAVAILABLE, at most three
//   attempts sharing the call's deadline. They are retried here rather than by grpc-js's retry
//   policy, which stops once a replica has started to answer (it cannot know the method is
//   safe to repeat); ours carry idempotency keys, so repeating them is safe in every case.
// - Errors come back as AppError with the upstream's reason (see grpc-status.ts).
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import {
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  connectivityState,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { context, propagation, type SpanContext } from "@opentelemetry/api";
import { AppError, appError, type Reasons } from "../errors/catalog.ts";
import { fromErrorDetail, fromGrpcError } from "../errors/grpc-status.ts";
import { codeName, type Metrics } from "../metrics/metrics.ts";
import { endSpan, metadataSetter, SpanKind, trace, tracing } from "../tracing/tracing.ts";
import { REQUEST_ID_KEY } from "./handlers.ts";

type ClientConstructor<C> = new (
  address: string,
  credentials: ChannelCredentials,
  options?: ChannelOptions,
) => C;

function splitHostPort(address: string): { host: string; port: string } {
  const i = address.lastIndexOf(":");
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ""), port: address.slice(i + 1) };
}

/**
 * A grpc-js target for a list of host:port addresses. One hostname: `dns:` (every address
 * it resolves to is a replica, as with a Compose or Kubernetes service). Several addresses:
 * resolved once, here, into an `ipv4:`/`ipv6:` list.
 */
export async function targetFor(addresses: readonly string[]): Promise<string> {
  const first = addresses[0];
  if (first === undefined) throw new Error("no address given");
  if (addresses.length === 1 && isIP(splitHostPort(first).host) === 0) return `dns:${first}`;
  const resolved = await Promise.all(
    addresses.map(async (a) => {
      const { host, port } = splitHostPort(a);
      const ip = isIP(host) !== 0 ? host : (await lookup(host)).address;
      return { ip, port };
    }),
  );
  const v6 = resolved.every((r) => isIP(r.ip) === 6);
  if (!v6 && resolved.some((r) => isIP(r.ip) === 6))
    throw new Error("mixing IPv4 and IPv6 replicas is not supported");
  return v6
    ? `ipv6:${resolved.map((r) => `[${r.ip}]:${r.port}`).join(",")}`
    : `ipv4:${resolved.map((r) => `${r.ip}:${r.port}`).join(",")}`;
}

export interface ClientDeps<C> {
  Client: ClientConstructor<C>;
  addresses: readonly string[];
  credentials: ChannelCredentials;
  options?: ChannelOptions;
}

export async function createGrpcClient<C extends Client>(deps: ClientDeps<C>): Promise<C> {
  return new deps.Client(await targetFor(deps.addresses), deps.credentials, {
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    // Retries are ours (see createUpstream), not grpc-js's.
    "grpc.enable_retries": 0,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    // Reconnect to a restarted replica quickly instead of backing off for up to 2 minutes
    // (and so stop refusing calls as unreachable within half a second of its return).
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 500,
    "grpc.max_receive_message_length": 4 * 1024 * 1024,
    ...deps.options,
  });
}

// The last overload of a ts-proto client method: (request, metadata, options, callback).
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

type MethodKeys<C> = {
  [K in keyof C]: C[K] extends UnaryMethod<infer _Req, infer _Res> ? K : never;
}[keyof C] &
  string;
type RequestOf<M> = M extends UnaryMethod<infer Req, infer _Res> ? Req : never;
type ResponseOf<M> = M extends UnaryMethod<infer _Req, infer Res> ? Res : never;

export interface CallOptionsLite {
  requestId?: string;
  signal?: AbortSignal;
  /** Overrides the upstream's default deadline. */
  deadlineMs?: number;
  /** Spans the call's span links to (a batch: the requests it carries), when tracing is on. */
  links?: SpanContext[];
}

export interface Upstream<C> {
  call<K extends MethodKeys<C>>(
    method: K,
    request: RequestOf<C[K]>,
    options?: CallOptionsLite,
  ): Promise<ResponseOf<C[K]>>;
  /**
   * False once no replica could be reached for a second (the channel failed to connect to
   * every address and is backing off): a call would only wait for its deadline. A replica that
   * is restarting is waited for (waitForReady) during that second.
   */
  reachable(): boolean;
  /** The AppError a batch item's error from this upstream stands for (see coalescer.ts). */
  decodeError(detail: { reason: string; retryAt?: Date | undefined }): AppError;
  close(): void;
}

export interface UpstreamDeps {
  /** The called service's name, in metrics and spans (e.g. "billing"). */
  service: string;
  /**
   * The reasons its contract gives (@emailauth/proto/reasons): its errors come back with them,
   * and with platform's; any other reason becomes INTERNAL.
   */
  reasons: Reasons;
  metrics: Metrics;
  /** Each call's deadline, all attempts included. */
  deadlineMs: number;
  /** Methods (client method names, e.g. "getChallenge") safe to send again. */
  idempotentMethods?: readonly string[];
}

const MAX_ATTEMPTS = 3;

/**
 * Wraps a client so that each call is a promise with a deadline, cancellation, the request
 * id in metadata, metrics, errors as AppError, and retries where they are safe.
 */
/** How long a channel may fail to connect before calls are refused without waiting. */
const UNREACHABLE_AFTER_MS = 1_000;

export function createUpstream<C extends Client>(client: C, deps: UpstreamDeps): Upstream<C> {
  const idempotent = new Set(deps.idempotentMethods ?? []);
  // When the channel last entered TRANSIENT_FAILURE (undefined while it is not in it).
  let failingSince: number | undefined;
  const channel = client.getChannel();
  // Watched in rounds of a minute (a longer deadline overflows Node's timers).
  const watch = (state: connectivityState) => {
    channel.watchConnectivityState(state, Date.now() + 60_000, () => {
      const next = channel.getConnectivityState(false);
      if (next === connectivityState.SHUTDOWN) return;
      failingSince = next === connectivityState.TRANSIENT_FAILURE ? (failingSince ?? Date.now()) : undefined;
      watch(next);
    });
  };
  watch(channel.getConnectivityState(false));
  const attempt = <K extends MethodKeys<C>>(
    method: K,
    request: RequestOf<C[K]>,
    options: CallOptionsLite,
    deadline: number,
  ): Promise<ResponseOf<C[K]>> => {
    // waitForReady: a replica that is restarting is waited for, within the deadline, instead
    // of failing the call at once, so rolling restarts cost no request. A service that stays
    // down still gives a clear failure when the deadline passes.
    const metadata = new Metadata({ waitForReady: true });
    if (options.requestId) metadata.set(REQUEST_ID_KEY, options.requestId);
    const started = performance.now();
    // A client span, its context sent along as `traceparent` (when tracing is on).
    const span = tracing().enabled
      ? tracing().tracer.startSpan(`${deps.service}/${String(method)}`, {
          kind: SpanKind.CLIENT,
          attributes: { "rpc.system": "grpc", "rpc.service": deps.service, "rpc.method": String(method) },
          ...(options.links && { links: options.links.map((link) => ({ context: link })) }),
        })
      : undefined;
    if (span) propagation.inject(trace.setSpan(context.active(), span), metadata, metadataSetter);
    const observe = (code: number) => {
      deps.metrics.upstreamDuration.observe(
        { service: deps.service, method, code: codeName(code) },
        (performance.now() - started) / 1000,
      );
      if (span) endSpan(span, { code: codeName(code) });
    };
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(appError("CANCELED"));
        return;
      }
      const fn = client[method] as unknown as UnaryMethod<
        RequestOf<C[typeof method]>,
        ResponseOf<C[typeof method]>
      >;
      const call = fn.call(client, request, metadata, { deadline }, (err, response) => {
        options.signal?.removeEventListener("abort", onAbort);
        if (err) {
          observe(err.code);
          reject(fromGrpcError(err, deps.reasons, deps.service));
        } else {
          observe(0);
          resolve(response);
        }
      }) as { cancel(): void };
      const onAbort = () => call.cancel();
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  };
  return {
    async call(method, request, options = {}) {
      const deadline = Date.now() + (options.deadlineMs ?? deps.deadlineMs);
      for (let n = 1; ; n++) {
        try {
          return await attempt(method, request, options, deadline);
        } catch (err) {
          const retry =
            idempotent.has(method) &&
            n < MAX_ATTEMPTS &&
            err instanceof AppError &&
            err.reason === "UPSTREAM_UNAVAILABLE" &&
            !options.signal?.aborted;
          // Backoff with jitter (20-40 ms, then 40-80 ms), never past the deadline.
          const wait = 20 * 2 ** (n - 1) * (1 + Math.random());
          if (!retry || Date.now() + wait >= deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
    },
    decodeError: (detail) => fromErrorDetail(detail, deps.reasons, deps.service),
    reachable() {
      return failingSince === undefined || Date.now() - failingSince < UNREACHABLE_AFTER_MS;
    },
    close() {
      client.close();
    },
  };
}
