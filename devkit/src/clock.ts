/** A clock that tests move by hand: `now()` starts at `start` and only moves on `advance`. */
export interface TestClock {
  now: () => number;
  advance(ms: number): void;
}

export function createTestClock(start = Date.now()): TestClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}
