// Redis being unreachable is not a bug: calls that fail for that reason become the service's
// UNAVAILABLE error (retry later, or elsewhere), keeping the original error as the cause for
// the log. An error Redis answered with (e.g. a script error) stays INTERNAL.
import { ReplyError } from "ioredis";
import { AppError } from "../errors/catalog.ts";

/**
 * Wraps every method of `target` so that its failures (sync or async) are translated by
 * `unavailable` (e.g. `(cause) => appError("STORE_UNAVAILABLE", { cause })`).
 */
export function withRedisUnavailable<T extends object>(
  target: T,
  unavailable: (cause: unknown) => AppError,
): T {
  const translate = (err: unknown): unknown =>
    err instanceof AppError || err instanceof ReplyError ? err : unavailable(err);
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        try {
          const result = value.apply(obj, args);
          return result instanceof Promise
            ? result.catch((err: unknown) => Promise.reject(translate(err)))
            : result;
        } catch (err) {
          throw translate(err);
        }
      };
    },
  });
}
