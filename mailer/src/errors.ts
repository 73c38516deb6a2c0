// The mailer's errors: the reasons of its contract (@emailauth/proto/reasons, beside
// mailer.proto, whose comments list them) and platform's, each with its code and safe message.
// Throw `appError("REASON")`; the gRPC layer puts it on the wire.
import { type AppError, defineReasons } from "@emailauth/platform";
import { mailerReasons } from "@emailauth/proto/reasons";

export const { appError } = defineReasons(mailerReasons);

/** What a call that could not reach the queue fails with (for withRedisUnavailable). */
export const queueUnavailable = (cause: unknown): AppError => appError("QUEUE_UNAVAILABLE", { cause });
