import type { JWK } from "jose";
import { describe, expect, it } from "vitest";
import { activeKeyOf } from "./key-set.ts";
import { generateSigningJwk } from "./signing-key.ts";

describe("activeKeyOf", () => {
  it("takes the first key, or the one named, from a set of private Ed25519 keys", () => {
    const [a, b] = [generateSigningJwk("a"), generateSigningJwk("b")] as JWK[];
    expect(activeKeyOf([a as JWK, b as JWK], undefined).kid).toBe("a");
    expect(activeKeyOf([a as JWK, b as JWK], "b").kid).toBe("b");
    expect(() => activeKeyOf([a as JWK], "c")).toThrow('no key with kid "c" in the JWKS');
  });

  it("refuses what would sign tokens nobody can verify, or not sign at all", () => {
    const a = generateSigningJwk("a") as JWK;
    const b = generateSigningJwk("b") as JWK;
    expect(() => activeKeyOf([], undefined)).toThrow("the JWKS has no keys");
    expect(() => activeKeyOf([null as unknown as JWK], undefined)).toThrow(
      "every key must be a private Ed25519 JWK",
    );
    expect(() => activeKeyOf([{ ...a, d: undefined } as JWK], undefined)).toThrow(
      "every key must be a private",
    );
    expect(() => activeKeyOf([{ ...a, x: b.x } as JWK], undefined)).toThrow(
      'key "a": x is not the public key of d',
    );
    expect(() => activeKeyOf([{ ...a, d: "AAAA" } as JWK], undefined)).toThrow(
      'key "a": d is not a valid Ed25519',
    );
    expect(() => activeKeyOf([a, { ...b, kid: "a" }], undefined)).toThrow('duplicate kid "a"');
  });
});
