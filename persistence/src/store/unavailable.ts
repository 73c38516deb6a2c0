// Redis being unreachable is not a bug: calls that fail for that reason become
// STORE_UNAVAILABLE (gRPC UNAVAILABLE: retry later, or elsewhere), keeping the original error
// as the cause for the log. An error Redis answered with (a script error) stays INTERNAL.
import { AppError, appError } from "@emailauth/platform";
import { ReplyError } from "ioredis";

function translate(err: unknown): unknown {
  if (err instanceof AppError || err instanceof ReplyError) return err;
  return appError("STORE_UNAVAILABLE", { cause: err });
}

/** Wraps every async method of `target` so that its failures go through `translate`. */
export function withStoreErrors<T extends object>(target: T): T {
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
