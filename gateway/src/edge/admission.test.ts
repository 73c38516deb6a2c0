import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Admission, createAdmission } from "./admission.ts";

// The pure arithmetic of admission: the limit follows the completion rate, and low priority
// gives way first. (Its behaviour under a real flood is in test/edge.test.ts and the bench.)
describe("admission", () => {
  let admission: Admission;
  beforeEach(() => {
    vi.useFakeTimers();
    admission = createAdmission({ maxInFlight: 1000, targetLatencyMs: 300, maxEventLoopDelayMs: 1_000_000 });
  });
  afterEach(() => {
    admission.stop();
    vi.useRealTimers();
  });

  const hold = (n: number, priority: "high" | "low") => {
    const tickets = [];
    for (let i = 0; i < n; i++) {
      const t = admission.admit(priority);
      if (!t.ok) break;
      t.begin();
      tickets.push(t);
    }
    return tickets;
  };

  it("starts at its floor, and keeps a fifth of it for high priority", () => {
    const low = hold(100, "low");
    expect(low).toHaveLength(51); // 80 % of the floor (64)
    const refused = admission.admit("low");
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(hold(100, "high")).toHaveLength(13);
    expect(admission.admit("high").ok).toBe(false);
  });

  it("raises the limit to the rate requests complete at times the target latency", () => {
    admission.stop();
    admission = createAdmission({
      maxInFlight: 1000,
      targetLatencyMs: 300,
      maxEventLoopDelayMs: 1_000_000,
      minLimit: 60,
    });
    // 50 completions every 100 ms for a second: 500/s × 300 ms = 150.
    for (let tick = 0; tick < 10; tick++) {
      for (const t of hold(50, "high")) t.done();
      vi.advanceTimersByTime(100);
    }
    expect(admission.state().limit).toBe(150);
    // A burst the second after: the rate of the whole last second, not of its busiest tick.
    for (const t of hold(200, "high")) t.done();
    vi.advanceTimersByTime(100);
    expect(admission.state().limit).toBe(Math.round(((9 * 50 + 150) / 1) * 0.3));
    // Quiet: the best second of the last ten holds the limit (a gateway busy refusing completes
    // fewer requests without the mesh serving fewer); then it falls back to the floor.
    vi.advanceTimersByTime(5_000);
    expect(admission.state().limit).toBe(180);
    vi.advanceTimersByTime(6_000);
    expect(admission.state().limit).toBe(60);
  });

  it("counts a request only from its handler, and once", () => {
    const t = admission.admit("high");
    expect(t.ok).toBe(true);
    if (!t.ok) return;
    expect(admission.state().inFlight).toBe(0); // headers only: its body has not arrived
    t.begin();
    t.begin();
    expect(admission.state().inFlight).toBe(1);
    t.done();
    t.done();
    expect(admission.state().inFlight).toBe(0);
  });
});
