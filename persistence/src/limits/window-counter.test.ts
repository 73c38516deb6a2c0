import { createTestClock } from "@emailauth/devkit";
import { describe, expect, it } from "vitest";
import { createWindowCounter } from "./window-counter.ts";

describe("a window counter (memory)", () => {
  const make = () => {
    const clock = createTestClock();
    return {
      clock,
      counter: createWindowCounter({
        backend: { kind: "memory" },
        name: "t",
        windowMs: 1000,
        clock: clock.now,
      }),
    };
  };

  it("adds within a window and starts a new one when it ends", async () => {
    const { clock, counter } = make();
    const first = await counter.add("k", 5);
    expect((await counter.add("k", 2)).total).toBe(7);
    clock.advance(1000);
    const next = await counter.add("k", 1);
    expect(next).toEqual({ total: 1, windowEnd: first.windowEnd + 1000 });
  });

  it("takes back only within the window something was added to, and never below zero", async () => {
    const { clock, counter } = make();
    const { windowEnd } = await counter.add("k", 8);
    await counter.subtract("k", 20, windowEnd);
    expect((await counter.get("k")).total).toBe(0);
    await counter.add("k", 3);
    clock.advance(1000);
    await counter.add("k", 4);
    // The old window's give-back does not lend the new window anything.
    await counter.subtract("k", 3, windowEnd);
    expect((await counter.get("k")).total).toBe(4);
  });
});
