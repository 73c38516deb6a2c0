// Tracing's set-up from the OTEL_* variables: off unless asked, malformed values harmless, and
// at the public edge a caller cannot force its requests to be sampled.
import { context, propagation, trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { startTracing, tracing } from "./tracing.ts";

afterEach(async () => {
  await tracing().shutdown();
  startTracing("test", {});
});

describe("startTracing", () => {
  it("is off unless an exporter or an endpoint is configured, and when disabled in any case", () => {
    expect(startTracing("t", {}).enabled).toBe(false);
    expect(startTracing("t", { OTEL_TRACES_EXPORTER: "none" }).enabled).toBe(false);
    expect(startTracing("t", { OTEL_TRACES_EXPORTER: "console", OTEL_SDK_DISABLED: "TRUE" }).enabled).toBe(
      false,
    );
    expect(startTracing("t", { OTEL_TRACES_EXPORTER: "nonsense" }).enabled).toBe(false);
    expect(startTracing("t", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1" }).enabled).toBe(true);
  });

  it("ignores a malformed resource attribute instead of failing", () => {
    expect(
      startTracing("t", { OTEL_TRACES_EXPORTER: "console", OTEL_RESOURCE_ATTRIBUTES: "team=a%zz,env=prod" })
        .enabled,
    ).toBe(true);
  });

  it("at the edge, samples by the operator's ratio whatever the caller's traceparent says", () => {
    const env = {
      OTEL_TRACES_EXPORTER: "console",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0",
    };
    const sampled = (edge: boolean) => {
      startTracing("t", env, { edge });
      const parent = propagation.extract(context.active(), {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      });
      const span = tracing().tracer.startSpan("s", {}, parent);
      const recorded = span.isRecording();
      span.end();
      return recorded;
    };
    // Inside the mesh a sampled parent is followed; at the edge the ratio (0 here) decides.
    expect(sampled(false)).toBe(true);
    expect(sampled(true)).toBe(false);
    void trace;
  });
});
