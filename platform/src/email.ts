// Email address normalisation, applied everywhere an address enters the mesh (at the public
// edge, and again before anything is stored), so one person is one address.
//
// Rules (documented in the README):
// 1. Surrounding white space is removed; the address is Unicode NFC.
// 2. The whole address is lowercased. Local parts are case-sensitive in theory; every major
//    provider treats them case-insensitively, and two accounts differing only by case would
//    be a trap.
// 3. The domain is converted to its ASCII form (IDNA/punycode): "bücher.de" -> "xn--bcher-kva.de".
// 4. Nothing else is rewritten: no "+tag" stripping, no removal of dots (that would merge
//    distinct mailboxes at most providers).
// Accepted: a dot-atom local part of ASCII characters (RFC 5322 atext, 1-64 characters), a
// domain of at least two labels (1-63 characters each, letters, digits, hyphens), 254
// characters in all. Refused: quoted local parts, IP-literal domains, control characters,
// white space, and anything else (these are legal in theory and abused in practice).
import { domainToASCII } from "node:url";

/**
 * The bounds of an email address, defined here once. As typed (before normalisation) an
 * address may have up to EMAIL_INPUT_MAX_LENGTH characters: the public contract's max_len
 * (auth.proto; a test checks they agree). Normalised, it has at most EMAIL_MAX_LENGTH, the
 * longest path SMTP carries (RFC 5321).
 */
export const EMAIL_INPUT_MAX_LENGTH = 320;
export const EMAIL_MAX_LENGTH = 254;

/**
 * A client app's display name, shown to people in the email ("Your code for <name>"): stored
 * with the app and sent along with every email, so the service that stores it and the one that
 * sends it check it against this one bound.
 */
export const CLIENT_APP_NAME_MAX_LENGTH = 64;

/**
 * A client app's own sender address (its From): stored with the app, used on every email it
 * sends. Plain ASCII, no display name, no quotes: it goes into a header as it is.
 */
export const SENDER_ADDRESS_PATTERN = /^[^\s@<>"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/;

const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const TLD = /^([a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

export type NormalizedEmail = { ok: true; email: string } | { ok: false; problem: string };

export function normalizeEmail(raw: string): NormalizedEmail {
  if (raw.length > EMAIL_INPUT_MAX_LENGTH) return { ok: false, problem: "too long" };
  const trimmed = raw.normalize("NFC").trim();
  if (/[\s\p{Cc}]/u.test(trimmed))
    return { ok: false, problem: "contains white space or control characters" };
  const at = trimmed.lastIndexOf("@");
  if (at < 1 || at === trimmed.length - 1) return { ok: false, problem: "not of the form local@domain" };
  const local = trimmed.slice(0, at).toLowerCase();
  const domainRaw = trimmed.slice(at + 1).toLowerCase();
  if (local.length > 64) return { ok: false, problem: "local part longer than 64 characters" };
  if (!LOCAL_PART.test(local))
    return { ok: false, problem: "local part has characters that are not allowed" };
  const domain = domainToASCII(domainRaw);
  if (domain === "" || domain.length > 253) return { ok: false, problem: "domain is not valid" };
  const labels = domain.split(".");
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || !TLD.test(labels.at(-1) ?? "")) {
    return { ok: false, problem: "domain is not valid" };
  }
  const email = `${local}@${domain}`;
  if (email.length > EMAIL_MAX_LENGTH)
    return { ok: false, problem: `longer than ${EMAIL_MAX_LENGTH} characters` };
  return { ok: true, email };
}
