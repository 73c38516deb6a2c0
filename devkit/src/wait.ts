import { setTimeout as delay } from "node:timers/promises";

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails after
 * `timeoutMs` with `what` in the message. For states that no event announces (a key expiring
 * in Redis, a job retried by a queue); where an event exists, await the event instead.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`, { cause: lastError });
    }
    await delay(options.intervalMs ?? 25);
  }
}
