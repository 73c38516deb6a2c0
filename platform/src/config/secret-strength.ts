// Whether a configured secret is good enough for production. Not a password meter: it catches
// what people actually deploy by mistake, the placeholder copied from .env.example and the
// value typed by hand ("aaaa…", "pepper-pepper-pepper…"), and says how to make a real one.
// A value from a random generator (32 random bytes in base64 or hex) always passes.

export const GENERATE_SECRET_HINT =
  'make one with: openssl rand -base64 32 (or: node -e \'console.log(require("crypto").randomBytes(32).toString("base64url"))\')';

// Words of placeholders, samples and hand-made values. Six letters or more, so that a random
// string contains one by chance with negligible probability (a 43-character base64 string
// holds a given 6-letter word, any case, with odds below 1 in 10^8).
const PLACEHOLDER =
  /change[-_ .]?me|changeit|placeholder|example|replace[-_ .]?(?:me|this)|insecure|your[-_ .]?secret|secret[-_ .]?here|not[-_ .]?secret|development|never[-_ .]?use|production|password|pepper|qwerty|asdfgh|zxcvbn|emailauth/i;

/** The share of neighbours one apart ("abcdef", "9876", "0123456789abcdef..."): typed runs. */
function sequentialShare(value: string): number {
  let runs = 0;
  for (let i = 1; i < value.length; i++) {
    if (Math.abs(value.charCodeAt(i) - value.charCodeAt(i - 1)) === 1) runs++;
  }
  return value.length < 2 ? 1 : runs / (value.length - 1);
}

/** The text a hex or base64 value stands for, when it reads as text (to look through encodings). */
function decodedText(value: string): string | undefined {
  let bytes: Buffer | undefined;
  if (/^(?:[0-9a-f]{2})+$/i.test(value)) bytes = Buffer.from(value, "hex");
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) bytes = Buffer.from(value, "base64");
  if (!bytes || bytes.length < 8) return undefined;
  // Random bytes decode to mostly unprintable characters; text decodes to text.
  const text = bytes.toString("latin1");
  const letters = text.replace(/[^A-Za-z ]/g, "").length;
  return /^[\x20-\x7e]+$/.test(text) && letters >= 0.7 * text.length ? text : undefined;
}

/** Bits of a value judged by its own character frequencies (Shannon), times its length. */
function estimatedBits(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * value.length;
}

/** The shortest period of a value made of one piece repeated ("abcabcabc" → 3), else its length. */
function period(value: string): number {
  for (let p = 1; p <= value.length / 2; p++) {
    let repeats = true;
    for (let i = p; i < value.length && repeats; i++) repeats = value[i] === value[i - p];
    if (repeats) return p;
  }
  return value.length;
}

/** The share of a value's 3-character pieces seen earlier in it: words typed twice. */
function repeatedTrigrams(value: string): number {
  const seen = new Set<string>();
  let repeated = 0;
  for (let i = 0; i + 3 <= value.length; i++) {
    const piece = value.slice(i, i + 3);
    if (seen.has(piece)) repeated++;
    else seen.add(piece);
  }
  return value.length < 3 ? 1 : repeated / (value.length - 2);
}

/** Why a secret is unfit for production, or undefined when it looks random enough. */
export function weakSecretReason(value: string): string | undefined {
  // A trailing newline from a file, a space from a paste: generators never make them, and the
  // pepper is used byte for byte (dropping the newline later would lose every user).
  if (/\s/.test(value)) return "contains white space (a newline from a file? generator output never has any)";
  if (PLACEHOLDER.test(value)) return "looks like a placeholder or a hand-made value (it contains a word)";
  const inner = decodedText(value);
  if (inner !== undefined) return "is text in an encoding (hex or base64 of words), not random bytes";
  if (sequentialShare(value) > 0.6) return "has too little randomness (runs of neighbouring characters)";
  // Thresholds chosen so that 32 random hex characters (the weakest generator output
  // accepted: 128 bits, measuring 100-125 here) pass, checked over a million draws, while a
  // short word repeated to reach the length does not.
  if (
    new Set(value).size < 6 ||
    estimatedBits(value) < 80 ||
    period(value) < value.length / 2 ||
    repeatedTrigrams(value) > 0.25
  ) {
    return "has too little randomness (repeated or hand-typed characters)";
  }
  return undefined;
}
