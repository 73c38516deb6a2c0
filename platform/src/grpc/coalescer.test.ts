import { describe, expect, it } from "vitest";
import { AppError, appError } from "../errors/catalog.ts";
import { fromErrorDetail } from "../errors/grpc-status.ts";
import type { BatchRequest, BatchResult } from "./batch-handler.ts";
import { createCoalescer } from "./coalescer.ts";

// The coalescer's own logic, over a fake upstream (the batch paths over real gRPC and Redis are
// tested by the services that serve batch methods; the whole mesh in test/).
function harness(answer: (request: string) => BatchResult<string> = (r) => ({ response: `ok:${r}` })) {
  const calls: { kind: "one" | "many"; requests: string[]; requestIds?: string[]; deadlineMs?: number }[] =
    [];
  let fail: unknown;
  let hold: Promise<void> | undefined;
  const call = createCoalescer<string, string>({
    async one(request) {
      calls.push({ kind: "one", requests: [request] });
      await hold;
      if (fail) throw fail;
      const r = answer(request);
      if (r.error) throw appError(r.error.reason as "RATE_LIMITED");
      return r.response as string;
    },
    async many(batch: BatchRequest<string>, options) {
      calls.push({
        kind: "many",
        requests: batch.requests,
        requestIds: batch.requestIds,
        ...(options.deadlineMs !== undefined && { deadlineMs: options.deadlineMs }),
      });
      await hold;
      if (fail) throw fail;
      return { results: batch.requests.map(answer) };
    },
    decodeError: (error) => fromErrorDetail(error, {}, "test"),
    deadlineMs: 5_000,
    maxBatch: 3,
  });
  return {
    call,
    calls,
    failWith(err: unknown) {
      fail = err;
    },
    holdUntil(p: Promise<void>) {
      hold = p;
    },
  };
}

describe("the coalescer", () => {
  it("sends a request alone as the unary call, on the next turn: it never waits for company", async () => {
    const h = harness();
    await expect(h.call("a")).resolves.toBe("ok:a");
    expect(h.calls).toEqual([{ kind: "one", requests: ["a"] }]);
  });

  it("sends requests of one turn as batches of at most maxBatch, each answered with its own result", async () => {
    const h = harness();
    const answers = await Promise.all(
      ["a", "b", "c", "d", "e"].map((r, i) => h.call(r, { requestId: `req-${i}` })),
    );
    expect(answers).toEqual(["ok:a", "ok:b", "ok:c", "ok:d", "ok:e"]);
    expect(h.calls.map((c) => [c.kind, c.requests])).toEqual([
      ["many", ["a", "b", "c"]],
      ["many", ["d", "e"]],
    ]);
    expect(h.calls[0]?.requestIds).toEqual(["req-0", "req-1", "req-2"]);
  });

  it("fails only the refused request of a batch, with its own reason and retry time", async () => {
    const retryAt = new Date(Date.now() + 60_000);
    const h = harness((r) =>
      r === "bad" ? { error: { reason: "RATE_LIMITED", retryAt } } : { response: `ok:${r}` },
    );
    const results = await Promise.allSettled([h.call("a"), h.call("bad"), h.call("c")]);
    expect(results[0]).toEqual({ status: "fulfilled", value: "ok:a" });
    expect(results[2]).toEqual({ status: "fulfilled", value: "ok:c" });
    const refused = results[1] as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(AppError);
    expect((refused.reason as AppError).reason).toBe("RATE_LIMITED");
    expect((refused.reason as AppError).retryAt).toEqual(retryAt);
  });

  it("fails every request of a batch that fails as a whole, with that error", async () => {
    const h = harness();
    h.failWith(appError("UPSTREAM_UNAVAILABLE"));
    const results = await Promise.allSettled([h.call("a"), h.call("b")]);
    expect(results.map((r) => (r.status === "rejected" ? (r.reason as AppError).reason : r.value))).toEqual([
      "UPSTREAM_UNAVAILABLE",
      "UPSTREAM_UNAVAILABLE",
    ]);
  });

  it("answers a cancelled request CANCELED at once, and its neighbours normally", async () => {
    const h = harness();
    let release = () => {};
    h.holdUntil(
      new Promise<void>((r) => {
        release = r;
      }),
    );
    const controller = new AbortController();
    const cancelled = h.call("a", { signal: controller.signal });
    const other = h.call("b");
    await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ reason: "CANCELED" });
    release();
    await expect(other).resolves.toBe("ok:b");
    // Already cancelled: never sent.
    const gone = new AbortController();
    gone.abort();
    await expect(h.call("c", { signal: gone.signal })).rejects.toMatchObject({ reason: "CANCELED" });
  });

  it("gives the batch the latest deadline, and answers an earlier one DEADLINE_EXCEEDED at its own time", async () => {
    const h = harness();
    let release = () => {};
    h.holdUntil(
      new Promise<void>((r) => {
        release = r;
      }),
    );
    const short = h.call("a", { deadlineMs: 30 });
    const long = h.call("b", { deadlineMs: 4_000 });
    // As the upstream's error (like a unary call's deadline), not as the caller's own timeout.
    await expect(short).rejects.toMatchObject({ reason: "DEADLINE_EXCEEDED", upstream: "test" });
    expect(h.calls[0]?.deadlineMs).toBeGreaterThan(3_000);
    release();
    await expect(long).resolves.toBe("ok:b");
  });
});
