// A new Ed25519 signing key as a private JWK: an entry of the gateway's key file
// (JWT_PRIVATE_JWKS_FILE, made by `emailauth-admin keys generate`), or its ephemeral development
// key. Its own face (@emailauth/gateway/signing-key) so that the admin CLI and the tests make
// keys without loading the gateway.
import { generateKeyPairSync, randomUUID } from "node:crypto";

export interface PrivateJwk {
  kty: string;
  crv: string;
  x: string;
  d: string;
  kid: string;
  alg: "EdDSA";
  use: "sig";
}

export function generateSigningJwk(
  kid = `k-${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`,
): PrivateJwk {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" }) as { kty: string; crv: string; x: string; d: string };
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d, kid, alg: "EdDSA", use: "sig" };
}
