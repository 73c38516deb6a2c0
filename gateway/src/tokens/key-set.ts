// Access tokens: JWTs signed with EdDSA (Ed25519) by `jose`, verifiable offline with the keys
// published at /.well-known/jwks.json.
//
// Keys come from a JWKS file of private keys (JWT_PRIVATE_JWKS_FILE) that every gateway replica
// reads, so that they all sign and verify alike. One key signs (JWT_ACTIVE_KID, or the first);
// all are published. Rotation without downtime:
//   1. add the new key to the file (published, not yet signing) and roll the replicas;
//   2. make it the active key and roll again — client apps already have it;
//   3. after the longest access-token lifetime, remove the old key and roll again.
// In development, with no file, an ephemeral key is made at start-up (tokens stop verifying
// when the gateway restarts).
import { createPrivateKey, createPublicKey, type JsonWebKey, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { importJWK, type JWK, SignJWT } from "jose";

export interface AccessTokenClaims {
  /** The user id. */
  sub: string;
  /** The client app id. */
  aud: string;
  /** The session id. */
  sid: string;
  /** How the email was proved (login-methods/). */
  amr: readonly string[];
}

export interface KeySet {
  readonly activeKid: string;
  /** The public keys, as served at /.well-known/jwks.json. */
  jwks(): { keys: JWK[] };
  sign(claims: AccessTokenClaims, nowMs: number): Promise<{ token: string; expiresAt: number }>;
}

export interface KeySetOptions {
  issuer: string;
  ttlMs: number;
}

function publicPart(jwk: JWK): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: jwk.kid, alg: "EdDSA", use: "sig" };
}

/** The key that signs; throws, saying what is wrong, when the set cannot be used. */
export function activeKeyOf(privateJwks: JWK[], activeKid: string | undefined): JWK & { kid: string } {
  if (privateJwks.length === 0) throw new Error("the JWKS has no keys");
  const kids = new Set<string>();
  for (const jwk of privateJwks as (JWK | null)[]) {
    if (
      !jwk ||
      typeof jwk !== "object" ||
      jwk.kty !== "OKP" ||
      jwk.crv !== "Ed25519" ||
      !jwk.d ||
      !jwk.x ||
      !jwk.kid
    ) {
      throw new Error("every key must be a private Ed25519 JWK (kty OKP, crv Ed25519, d, x) with a kid");
    }
    if (kids.has(jwk.kid)) throw new Error(`duplicate kid "${jwk.kid}"`);
    kids.add(jwk.kid);
    // d and x must be one key pair: a mismatch would sign tokens nobody can verify.
    let x: string | undefined;
    try {
      const key = createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" });
      x = createPublicKey(key).export({ format: "jwk" }).x;
    } catch {
      throw new Error(`key "${jwk.kid}": d is not a valid Ed25519 private key`);
    }
    if (x !== jwk.x) throw new Error(`key "${jwk.kid}": x is not the public key of d`);
  }
  const active = activeKid ? privateJwks.find((k) => k.kid === activeKid) : privateJwks[0];
  if (!active?.kid) throw new Error(`no key with kid "${activeKid}" in the JWKS`);
  return active as JWK & { kid: string };
}

export async function createKeySet(
  privateJwks: JWK[],
  activeKid: string | undefined,
  options: KeySetOptions,
): Promise<KeySet> {
  const active = activeKeyOf(privateJwks, activeKid);
  const signingKey = await importJWK(active, "EdDSA");
  const published = { keys: privateJwks.map(publicPart) };
  const kid = active.kid;
  return {
    activeKid: kid,
    jwks: () => published,
    async sign(claims, nowMs) {
      const iat = Math.floor(nowMs / 1000);
      const exp = iat + Math.floor(options.ttlMs / 1000);
      const token = await new SignJWT({ sid: claims.sid, amr: [...claims.amr] })
        .setProtectedHeader({ alg: "EdDSA", kid, typ: "at+jwt" })
        .setIssuer(options.issuer)
        .setAudience(claims.aud)
        .setSubject(claims.sub)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(signingKey);
      return { token, expiresAt: exp * 1000 };
    },
  };
}

export function readJwksFile(path: string): JWK[] {
  // A byte-order mark (some editors write one) is not part of the JSON.
  const text = readFileSync(path, "utf8").replace(/^\uFEFF/, "");
  let parsed: { keys?: JWK[] };
  try {
    parsed = JSON.parse(text) as { keys?: JWK[] };
  } catch {
    // The classic: `npm run admin -- keys generate > file` puts npm's banner first.
    const banner = /^\s*> /.test(text) ? " (it starts with npm's banner lines)" : "";
    throw new Error(
      `${path} is not JSON${banner}; remove it and make it again with: npx emailauth-admin keys generate --out ${path}`,
    );
  }
  if (!Array.isArray(parsed?.keys)) throw new Error(`${path} is not a JWKS ({"keys": [...]})`);
  return parsed.keys;
}
