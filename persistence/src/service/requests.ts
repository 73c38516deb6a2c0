// Validation of every request at persistence's edge: internal callers are trusted to be who
// they are, not to send well-formed data. A bad field is INVALID_ARGUMENT naming the field;
// nothing is read or written before the whole request is valid.
import {
  addressLimitKey,
  EMAIL_INPUT_MAX_LENGTH,
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENCY_KEY_RULE,
  normalizeEmail,
} from "@emailauth/platform";
import { z } from "zod";
import { ID_PATTERNS } from "../crypto/ids.ts";
import { appError } from "../errors.ts";

const NO_CONTROL = /^[^\p{Cc}]*$/u;

export const fields = {
  clientAppId: z.string().regex(ID_PATTERNS.clientApp, "expected a client app id (app_ and 16 characters)"),
  optionalClientAppId: z.union([
    z.literal(""),
    z.string().regex(ID_PATTERNS.clientApp, "expected a client app id"),
  ]),
  challengeId: z.string().regex(ID_PATTERNS.challenge, "expected a challenge id (chl_ and 38 characters)"),
  sessionId: z.string().regex(ID_PATTERNS.session, "expected a session id (ses_ and 38 characters)"),
  userId: z.string().regex(ID_PATTERNS.user, "expected a user id (usr_ and 38 characters)"),
  refreshToken: z
    .string()
    .regex(ID_PATTERNS.refreshToken, "expected a refresh token (ert_ and 64 characters)"),
  // Any string a caller sends is answered API_KEY_INVALID if it is not a key (client-apps.ts),
  // not INVALID_ARGUMENT: the gateway forwards what client apps present.
  apiKey: z.string().max(1024),
  email: z.string().min(1).max(EMAIL_INPUT_MAX_LENGTH),
  // The same test the per-IP limit applies (an IPv6 zone id is allowed, as the gateway allows it).
  endUserIp: z
    .string()
    .max(64)
    .refine((ip) => ip === "" || addressLimitKey(ip) !== undefined, "expected an IPv4 or IPv6 address"),
  code: z
    .string()
    .min(1)
    .max(32)
    .regex(/^[0-9A-Za-z -]+$/, "expected digits or letters"),
  linkToken: z.string().regex(ID_PATTERNS.linkToken, "expected a link token (lnk_ and 52 characters)"),
  userAgent: z.string().max(256).regex(NO_CONTROL, "control characters are not allowed"),
  idempotencyKey: z.union([z.literal(""), z.string().regex(IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE)]),
  requestFingerprint: z.instanceof(Uint8Array).refine((b) => b.length <= 64, "at most 64 bytes"),
  idempotencyKeyGenerated: z.boolean(),
};

/** The idempotency fields every retryable request has, as the domain takes them. */
export function idempotencyOf(r: {
  idempotencyKey: string;
  requestFingerprint: Uint8Array;
  idempotencyKeyGenerated: boolean;
}) {
  return {
    key: r.idempotencyKey,
    requestFingerprint: r.requestFingerprint,
    generated: r.idempotencyKeyGenerated,
  };
}

/** Parses a request with a zod schema, or throws INVALID_ARGUMENT naming the first bad field. */
export function parse<T>(schema: z.ZodType<T>, request: unknown): T {
  const result = schema.safeParse(request);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.length ? issue.path.join(".") : "request";
  throw appError("INVALID_ARGUMENT", { message: `${path}: ${issue?.message ?? "invalid"}` });
}

/** The normalised email, or EMAIL_INVALID saying what is wrong with it. */
export function emailOf(raw: string): string {
  const result = normalizeEmail(raw);
  if (!result.ok) throw appError("EMAIL_INVALID", { message: `email: ${result.problem}` });
  return result.email;
}
