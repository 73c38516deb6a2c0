// Fixed-window counters for the guess budgets, on Redis or in memory. rate-limiter-flexible
// (used for the send limits) does not fit here: a refused consume stays counted, and a reward
// after its window has passed leaves a negative balance that lends the next window more than
// its budget. Here a subtraction names the window it belongs to and is dropped once that window
// is over, and a counter never goes below zero.
import type { RedisClient } from "@emailauth/platform/redis";
import type { LimitsBackend } from "./send-limits.ts";

export interface WindowCount {
  total: number;
  /** When the window ends (epoch ms); what was added belongs to it. */
  windowEnd: number;
}

export interface WindowCounter {
  /** Adds `n` to `key`'s current window (a new one starts when the last has ended). */
  add(key: string, n: number): Promise<WindowCount>;
  /** Takes `n` back from `key`, if its window is still the one that ends at `windowEnd`. */
  subtract(key: string, n: number, windowEnd: number): Promise<void>;
  /** The current window's total (0 when none is running). */
  get(key: string): Promise<WindowCount>;
}

// KEYS[1] counter; ARGV: 1 n, 2 now, 3 window ms. Returns {total, window end}.
const ADD = `
local e = tonumber(redis.call("HGET", KEYS[1], "e") or "0")
local now = tonumber(ARGV[2])
if e <= now then
  e = now + tonumber(ARGV[3])
  redis.call("HSET", KEYS[1], "n", "0", "e", string.format("%d", e))
  redis.call("PEXPIREAT", KEYS[1], string.format("%d", e))
end
return { redis.call("HINCRBY", KEYS[1], "n", ARGV[1]), string.format("%d", e) }`;

// KEYS[1] counter; ARGV: 1 n, 2 window end.
const SUBTRACT = `
if redis.call("HGET", KEYS[1], "e") ~= ARGV[2] then
  return 0
end
if redis.call("HINCRBY", KEYS[1], "n", -tonumber(ARGV[1])) < 0 then
  redis.call("HSET", KEYS[1], "n", "0")
end
return 1`;

type Commands = {
  ea_windowAdd(key: string, n: number, now: number, windowMs: number): Promise<[number, string]>;
  ea_windowSubtract(key: string, n: number, windowEnd: number): Promise<number>;
};

export function createWindowCounter(deps: {
  backend: LimitsBackend;
  /** Key names start with this (Redis). */
  name: string;
  windowMs: number;
  clock: () => number;
}): WindowCounter {
  const { windowMs, clock } = deps;
  if (deps.backend.kind === "redis") {
    const client: RedisClient = deps.backend.client;
    client.defineCommand("ea_windowAdd", { numberOfKeys: 1, lua: ADD });
    client.defineCommand("ea_windowSubtract", { numberOfKeys: 1, lua: SUBTRACT });
    const commands = client as unknown as Commands;
    const k = (key: string) => `${(deps.backend as { prefix: string }).prefix}wc:${deps.name}:${key}`;
    return {
      async add(key, n) {
        const [total, end] = await commands.ea_windowAdd(k(key), n, clock(), windowMs);
        return { total: Number(total), windowEnd: Number(end) };
      },
      async subtract(key, n, windowEnd) {
        await commands.ea_windowSubtract(k(key), n, windowEnd);
      },
      async get(key) {
        const [n, e] = await client.hmget(k(key), "n", "e");
        const windowEnd = Number(e ?? 0);
        return windowEnd > clock() ? { total: Number(n ?? 0), windowEnd } : { total: 0, windowEnd: 0 };
      },
    };
  }
  const counters = new Map<string, { total: number; windowEnd: number }>();
  const current = (key: string) => {
    const c = counters.get(key);
    if (c && c.windowEnd > clock()) return c;
    if (c) counters.delete(key);
    return undefined;
  };
  return {
    async add(key, n) {
      let c = current(key);
      if (!c) {
        if (counters.size > 100_000) counters.clear();
        c = { total: 0, windowEnd: clock() + windowMs };
        counters.set(key, c);
      }
      c.total += n;
      return { ...c };
    },
    async subtract(key, n, windowEnd) {
      const c = current(key);
      if (c && c.windowEnd === windowEnd) c.total = Math.max(0, c.total - n);
    },
    async get(key) {
      const c = current(key);
      return c ? { ...c } : { total: 0, windowEnd: 0 };
    },
  };
}
