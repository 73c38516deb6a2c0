// The server secrets of persistence, none of which is ever written to the store.
//
// - The pepper keys the digests that index people in the store (the slot tag and the email
//   digest), so that the store's key names reveal no address, and neither do user ids.
//   It cannot be rotated: changing it makes every stored person unreachable.
// - The code secrets key the HMAC of one-time codes. The first signs new codes; the others
//   still verify codes issued before a rotation (codes live 10 minutes at most, so an old
//   secret can be dropped 10 minutes after rotating). Each record keeps the id of its key.
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from "node:crypto";
import { base32, TAG_LENGTH } from "./ids.ts";

// Keys are KeyObjects made once: passing raw bytes would convert them on every HMAC.
function derive(secret: string, purpose: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync("sha256", secret, "emailauth", purpose, 32)));
}

export interface Person {
  /** Slot tag: groups every key of this person in one Redis Cluster hash slot. */
  readonly tag: string;
  /** Keyed digest of the normalised email, used in key names instead of the address. */
  readonly digest: string;
  readonly email: string;
}

export interface Peppered {
  person(normalizedEmail: string): Person;
  /** Keyed digest of an IP address (for per-IP limits without storing addresses). */
  ipDigest(ip: string): string;
}

export function createPeppered(pepper: string): Peppered {
  const key = derive(pepper, "index");
  const digest = (kind: string, value: string) =>
    base32(createHmac("sha256", key).update(`${kind}\0${value}`).digest());
  return {
    person(email) {
      const d = digest("email", email);
      return { tag: d.slice(0, TAG_LENGTH), digest: d, email };
    },
    ipDigest: (ip) => digest("ip", ip).slice(0, 26),
  };
}

export interface CodeMac {
  /** The key id new codes are stored with. */
  readonly currentKid: string;
  /** The MAC of a code for a challenge under every configured key, by key id. */
  macs(challengeId: string, code: string): Record<string, string>;
}

export function createCodeMac(secrets: readonly string[]): CodeMac {
  if (secrets.length === 0) throw new Error("at least one code secret is required");
  const keys = secrets.map((s) => {
    const key = derive(s, "otp-mac");
    const kid = createHmac("sha256", key).update("kid").digest("hex").slice(0, 8);
    return { kid, key };
  });
  return {
    currentKid: (keys[0] as { kid: string }).kid,
    macs(challengeId, code) {
      const out: Record<string, string> = {};
      for (const { kid, key } of keys) {
        out[kid] = createHmac("sha256", key).update(`${challengeId}\0${code}`).digest("base64url");
      }
      return out;
    },
  };
}
