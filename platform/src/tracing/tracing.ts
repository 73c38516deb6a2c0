// OpenTelemetry traces, configured by the standard OTEL_* variables (the OpenTelemetry
// specification's names and meanings), and off unless configured:
//   OTEL_TRACES_EXPORTER          otlp, console, or none (a comma-separated list). Tracing is on
//                                 when it names an exporter, or when an OTLP endpoint is set.
//   OTEL_EXPORTER_OTLP_ENDPOINT   base URL of the collector (http://collector:4318); or
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the full URL. OTLP over HTTP, JSON encoded.
//   OTEL_TRACES_SAMPLER           always_on, always_off, traceidratio, parentbased_always_on (the
//                                 default), parentbased_always_off, parentbased_traceidratio;
//   OTEL_TRACES_SAMPLER_ARG       the ratio for the traceidratio samplers (default 1).
//   OTEL_SERVICE_NAME             default emailauth-<service>; OTEL_RESOURCE_ATTRIBUTES too.
//   OTEL_BSP_SCHEDULE_DELAY       ms between exports (default 5000); OTEL_SDK_DISABLED=true: off.
// W3C trace context (`traceparent`, `tracestate`) is the only propagator: baggage is off, so
// nothing a caller puts in it travels through the mesh.
//
// When off, `tracing.enabled` is false and the call sites skip every tracing step: it costs
// one boolean test per call. Span attributes name methods, codes and reasons, never an email,
// code, key or token.
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

export { type Context, context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace };

export interface Tracing {
  /** False unless OTEL_* configured it: call sites skip all tracing work then. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Exports what is buffered; for a graceful stop. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = {
  enabled: false,
  tracer: trace.getTracer("emailauth"),
  shutdown: async () => {},
};

let current: Tracing = OFF;

/** The process's tracing (set up once, by startTracing in main.ts). */
export function tracing(): Tracing {
  return current;
}

function samplerFrom(env: NodeJS.ProcessEnv): Sampler {
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? "1");
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch ((env.OTEL_TRACES_SAMPLER ?? "parentbased_always_on").trim().toLowerCase()) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** The root sampler of `sampler`'s kind, applied to remote parents too (see startTracing). */
function edgeSampler(sampler: Sampler, env: NodeJS.ProcessEnv): Sampler {
  const name = (env.OTEL_TRACES_SAMPLER ?? "parentbased_always_on").trim().toLowerCase();
  if (!name.startsWith("parentbased_")) return sampler;
  const root = samplerFrom({ ...env, OTEL_TRACES_SAMPLER: name.slice("parentbased_".length) });
  return new ParentBasedSampler({ root, remoteParentSampled: root, remoteParentNotSampled: root });
}

function resourceAttributes(env: NodeJS.ProcessEnv): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) continue;
    try {
      attributes[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(
        pair.slice(at + 1).trim(),
      );
    } catch {
      // The specification: a malformed attribute is discarded, not fatal.
      process.stderr.write("OTEL_RESOURCE_ATTRIBUTES: a malformed attribute was ignored\n");
    }
  }
  return attributes;
}

/**
 * Sets up tracing from the OTEL_* variables of `env`; a no-op unless they ask for it. At the
 * public edge (`edge: true`) a caller's sampling decision is not obeyed: anyone on the internet
 * could otherwise have every request of theirs traced past the operator's ratio. The trace is
 * still continued (its trace id kept), with the operator's sampler deciding.
 */
export function startTracing(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { edge?: boolean } = {},
): Tracing {
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== "" && e !== "none");
  if (exporters.length === 0 && (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) {
    exporters.push("otlp");
  }
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true" || exporters.length === 0) {
    current = OFF;
    return current;
  }
  // As the specification says, an unknown exporter is reported and ignored.
  const made: SpanExporter[] = exporters.flatMap((name): SpanExporter[] => {
    if (name === "console") return [new ConsoleSpanExporter()];
    if (name === "otlp") return [new OTLPTraceExporter()];
    process.stderr.write(`OTEL_TRACES_EXPORTER: "${name}" is not one of otlp, console, none; ignored\n`);
    return [];
  });
  if (made.length === 0) {
    current = OFF;
    return current;
  }
  const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY ?? "5000");
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        ...resourceAttributes(env),
        "service.name": env.OTEL_SERVICE_NAME || `emailauth-${service}`,
      }),
    ),
    sampler: options.edge ? edgeSampler(samplerFrom(env), env) : samplerFrom(env),
    spanProcessors: made.map(
      (exporter) =>
        new BatchSpanProcessor({
          exporter,
          scheduledDelayMillis: Number.isFinite(delay) && delay >= 0 ? delay : 5000,
        }),
    ),
  });
  // The API's globals can be set once: a second set-up (tests) replaces the first.
  trace.disable();
  context.disable();
  propagation.disable();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  current = {
    enabled: true,
    tracer: trace.getTracer("emailauth"),
    // Bounded: a collector that takes connections and never answers must not hold a stop.
    shutdown: () =>
      Promise.race([
        provider.shutdown().catch(() => undefined),
        new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref()),
      ]),
  };
  return current;
}

/** Reads trace context from header-like carriers: Headers, or gRPC Metadata (`get` → array). */
export const headersGetter: TextMapGetter<Headers> = {
  get: (carrier, key) => carrier.get(key) ?? undefined,
  keys: (carrier) => [...carrier.keys()],
};

interface MetadataLike {
  get(key: string): unknown[];
  set(key: string, value: string): void;
  getMap(): Record<string, unknown>;
}

export const metadataGetter: TextMapGetter<MetadataLike> = {
  get: (carrier, key) => {
    const value = carrier.get(key)[0];
    return typeof value === "string" ? value : undefined;
  },
  keys: (carrier) => Object.keys(carrier.getMap()),
};

export const metadataSetter: TextMapSetter<MetadataLike> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** The context a traceparent string (stored with a queued email) stands for. */
export function contextFromTraceparent(traceparent: string | undefined): Context | undefined {
  if (!traceparent) return undefined;
  return propagation.extract(
    context.active(),
    { traceparent },
    {
      get: (c, k) => (c as Record<string, string>)[k],
      keys: (c) => Object.keys(c as Record<string, string>),
    },
  );
}

/** The active span's traceparent, to store with work done later (a queued email). */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** Ends a span with the outcome of a call: OK, or ERROR with the status and reason. */
export function endSpan(span: Span, outcome: { code: string; reason?: string | undefined }): void {
  span.setAttribute("rpc.response.status_code", outcome.code);
  if (outcome.reason) span.setAttribute("emailauth.reason", outcome.reason);
  if (outcome.code !== "ok")
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason ?? outcome.code });
  span.end();
}
