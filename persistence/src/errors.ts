// Persistence's errors: the reasons of its contract (@emailauth/proto/reasons, beside
// persistence.proto, whose comments list them per method) and platform's, each with its code
// and safe message. Throw `appError("REASON")`; the gRPC layer puts it on the wire.
import { type AppError, defineReasons } from "@emailauth/platform";
import { persistenceReasons } from "@emailauth/proto/reasons";

export const { appError, reasons } = defineReasons(persistenceReasons);

export type Reason = keyof typeof reasons;

/** What a call that could not reach the store fails with (for withRedisUnavailable). */
export const storeUnavailable = (cause: unknown): AppError => appError("STORE_UNAVAILABLE", { cause });
