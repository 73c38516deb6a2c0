// Scrubbing of secrets and personal data, in one pass over everything the logger writes:
// fields named in SECRET_FIELDS are censored at any depth, and every string is scrubbed of
// what has a recognisable shape, including text we do not control (libraries' error messages,
// stack traces):
//   email addresses       -> first character + "***@" + domain   (j***@example.com)
//   API keys (eak_...)    -> eak_[REDACTED]
//   refresh tokens (ert_) -> ert_[REDACTED]
//   JWTs                  -> [JWT REDACTED]
//   "Bearer <anything>"   -> Bearer [REDACTED]
// One-time codes are plain digits and cannot be told apart from other numbers in text: they
// are kept out by structure (they travel only in fields named `code`, which are censored) and
// tests check it.

const EMAIL = /([^\s@"'<>(),;:[\]\\]+)@([A-Za-z0-9.-]+\.[A-Za-z0-9-]{2,}|\[[^\]\s]+\])/g;
const API_KEY = /\beak_[a-z2-7]{8,}/g;
const REFRESH_TOKEN = /\bert_[a-z2-7]{8,}/g;
const JWT = /\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g;
const BEARER = /\b(Bearer)\s+[^\s"',;]+/gi;

/** Masks an email address for logs: "jane@example.com" -> "j***@example.com". */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at < 1) return "***";
  return `${email[0]}***${email.slice(at)}`;
}

/** Cheap test for anything the patterns below could match: most log strings have none. */
const SUSPECT = /@|eak_|ert_|eyJ|bearer/i;

export function scrubText(text: string): string {
  if (text.length === 0 || !SUSPECT.test(text)) return text;
  return text
    .replace(JWT, "[JWT REDACTED]")
    .replace(BEARER, "$1 [REDACTED]")
    .replace(API_KEY, "eak_[REDACTED]")
    .replace(REFRESH_TOKEN, "ert_[REDACTED]")
    .replace(EMAIL, (_m, local: string, domain: string) => `${local[0]}***@${domain}`);
}

/**
 * Fields that hold secrets or personal data: censored wherever they appear, at any depth, so
 * that a whole request object logged by mistake still leaks nothing.
 */
export const SECRET_FIELDS: ReadonlySet<string> = new Set(
  [
    "code",
    "email",
    "recipient",
    "to",
    "apiKey",
    "api_key",
    "accessToken",
    "access_token",
    "refreshToken",
    "refresh_token",
    "token",
    "password",
    "secret",
    "authorization",
    "cookie",
    "mac",
    "sealed",
  ].map((f) => f.toLowerCase()),
);

export const CENSORED = "[REDACTED]";
const MAX_DEPTH = 6;

/**
 * A copy of a (log) value with secret fields censored at any depth and every string scrubbed
 * (scrubText). One pass does both.
 */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubText(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > MAX_DEPTH) return "[TOO DEEP]";
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  // Dates stay; errors are left to the logger's `err` serializer, which scrubs them whole.
  if (value instanceof Date || value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const v = (value as Record<string, unknown>)[key];
    out[key] =
      SECRET_FIELDS.has(key.toLowerCase()) && v !== undefined && v !== null
        ? CENSORED
        : scrubValue(v, depth + 1);
  }
  return out;
}
