// The gateway's errors, which are the public API's: the reasons of emailauth.auth.v1
// (@emailauth/proto/reasons, beside auth.proto, whose comments list them per method) and
// platform's. Whatever reason persistence or the mailer answer with is mapped to one of these
// before a client app sees it (edge/public-errors.ts).
import { defineReasons } from "@emailauth/platform";
import { authReasons } from "@emailauth/proto/reasons";

export const { appError, isReason, reasons } = defineReasons(authReasons);

/** Every reason a client app may get. */
export type PublicReason = keyof typeof reasons;
