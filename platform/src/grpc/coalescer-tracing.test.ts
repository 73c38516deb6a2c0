// With tracing on, a batch call carries a link to every request's span (its own span is in the
// first request's trace): each request's trace shows the upstream work done for it.
import { context, trace } from "@opentelemetry/api";
import { expect, it } from "vitest";
import { fromErrorDetail } from "../errors/grpc-status.ts";
import { startTracing, tracing } from "../tracing/tracing.ts";
import type { BatchRequest } from "./batch-handler.ts";
import type { CallOptionsLite } from "./client.ts";
import { createCoalescer } from "./coalescer.ts";

it("links the batch call to each request's span", async () => {
  // On, with an exporter that never runs here (the spans are not ended).
  startTracing("test", { OTEL_TRACES_EXPORTER: "console" });
  expect(tracing().enabled).toBe(true);
  const seen: CallOptionsLite[] = [];
  const call = createCoalescer<string, string>({
    one: async (r) => r,
    async many(batch: BatchRequest<string>, options) {
      seen.push(options);
      return { results: batch.requests.map((r) => ({ response: r })) };
    },
    decodeError: (error) => fromErrorDetail(error, {}, "test"),
    deadlineMs: 5_000,
    maxBatch: 10,
  });
  const spans = ["a", "b", "c"].map((name) => tracing().tracer.startSpan(name));
  await Promise.all(
    spans.map((span, i) => context.with(trace.setSpan(context.active(), span), () => call(`r${i}`))),
  );
  expect(seen).toHaveLength(1);
  expect(seen[0]?.links).toEqual(spans.map((s) => s.spanContext()));
  await tracing().shutdown();
});
