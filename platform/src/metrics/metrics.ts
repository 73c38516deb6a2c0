// Prometheus metrics with prom-client. Each service gets its own registry (no global
// singleton), so tests can run several services in one process. Labels are method names,
// status codes and reasons only: never an email, key, token or id.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

// A service's own metrics are made with these, registered in its registry (`registers:`).
export { Counter, Gauge, Histogram };

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Metrics {
  readonly registry: Registry;
  /** Calls served (gRPC or Connect), by method and status code. */
  readonly requests: Counter<"method" | "code">;
  readonly requestDuration: Histogram<"method" | "code">;
  /** Requests being served right now (what a graceful stop waits for). */
  readonly inFlight: Gauge;
  /** Calls this service made to another service of the mesh. */
  readonly upstreamDuration: Histogram<"service" | "method" | "code">;
}

export function createMetrics(deps: { service: string; defaultMetrics?: boolean }): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: deps.service });
  if (deps.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // prom-client names three gauges with a counter's "_total" suffix, which `promtool check
    // metrics` refuses; their per-type gauges (nodejs_active_handles{type}...) stay, and their
    // sum is the total.
    for (const name of [
      "nodejs_active_handles_total",
      "nodejs_active_requests_total",
      "nodejs_active_resources_total",
    ]) {
      registry.removeSingleMetric(name);
    }
  }
  return {
    registry,
    requests: new Counter({
      name: "emailauth_requests_total",
      help: "Requests served, by method and status code.",
      labelNames: ["method", "code"],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: "emailauth_request_duration_seconds",
      help: "Time to serve a request, by method and status code.",
      labelNames: ["method", "code"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: "emailauth_requests_in_flight",
      help: "Requests being served right now.",
      registers: [registry],
    }),
    upstreamDuration: new Histogram({
      name: "emailauth_upstream_duration_seconds",
      help: "Time of calls to other services of the mesh, by service, method and status code.",
      labelNames: ["service", "method", "code"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}

/** Status code numbers as lowercase names for labels ("ok", "invalid_argument"...). */
export const codeNames = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
] as const;

export function codeName(code: number): string {
  return codeNames[code] ?? "unknown";
}
