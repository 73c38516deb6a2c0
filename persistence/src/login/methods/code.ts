// The code login method: a one-time code the person types into the client app, generated
// from a CSPRNG with every value of the configured length and
// alphabet equally likely (NIST SP 800-63B 5.1.3), and typed codes normalised the way people
// type them.
import { randomInt } from "node:crypto";

import { CODE_LENGTHS, type CodeAlphabet } from "../../store/store.ts";
import type { LoginMethod } from "./login-method.ts";

export { CODE_LENGTHS, type CodeAlphabet };

/** Crockford base32: no I, L, O, U, so nothing looks like something else. */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export function generateCode(alphabet: CodeAlphabet, length: number): string {
  if (alphabet === "digits") {
    // One draw over the whole range: 10^10 < 2^48, randomInt's limit. Zero-padded, so codes
    // starting with 0 are as likely as any other.
    return String(randomInt(0, 10 ** length)).padStart(length, "0");
  }
  let code = "";
  for (let i = 0; i < length; i++) code += CROCKFORD[randomInt(0, 32)];
  return code;
}

/**
 * The code as the person typed it, in the form it was generated in: spaces and dashes
 * dropped, letters uppercased, and for alphanumeric codes the look-alikes Crockford decodes
 * (I and L as 1, O as 0). A code that cannot be right still goes on to be compared (and
 * counted as an attempt): refusing it early would answer faster and differently.
 */
export function normalizeTypedCode(typed: string, alphabet: CodeAlphabet): string {
  const compact = typed.replace(/[\s-]/g, "").toUpperCase();
  if (alphabet === "digits") return compact;
  return compact.replace(/[IL]/g, "1").replace(/O/g, "0");
}

export const codeMethod: LoginMethod = {
  name: "code",
  // While guessing is under pressure, codes are issued at their longest (limits/guess-budget.ts).
  newProof: ({ codeAlphabet, codeLength }, hardened) =>
    generateCode(codeAlphabet, hardened ? CODE_LENGTHS[codeAlphabet].max : codeLength),
  canonical: (typed, { codeAlphabet }) => normalizeTypedCode(typed, codeAlphabet),
};
