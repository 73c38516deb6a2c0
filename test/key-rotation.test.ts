// Signing keys rotate without downtime: publish the new key, then sign with it, then retire the
// old one once its tokens have expired. Tokens verify offline throughout (client apps fetch the
// JWKS), and every step is a restart of the gateway with a new key file.

import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { generateSigningJwk } from "@emailauth/gateway/signing-key";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Mesh, postJson, startMesh } from "./helpers/mesh.ts";

let mesh: Mesh;
beforeAll(async () => {
  mesh = await startMesh({ jwks: [generateSigningJwk("old-key")] });
});
afterAll(async () => {
  await mesh?.stop();
});

it("rotates the signing key in three steps, with tokens verifying at every step", async () => {
  const { appId, apiKey } = await mesh.createApp();
  const login = async () => {
    const email = `rotation-${randomUUID().slice(0, 8)}@example.com`;
    const call = (m: string, b: unknown) =>
      postJson(mesh.gatewayUrl, m, b, { authorization: `Bearer ${apiKey}` });
    const started = await call("StartLogin", { email });
    const verified = await call("VerifyLogin", {
      challengeId: started.body.challengeId,
      code: await mesh.codeFor(email),
    });
    return verified.body.accessToken as string;
  };
  const jwks = async () =>
    (await (await fetch(`${mesh.gatewayUrl}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const verifies = async (token: string) =>
    jwtVerify(token, createLocalJWKSet(await jwks()), { issuer: mesh.issuer, audience: appId }).then(
      () => true,
      () => false,
    );
  const oldKey = readFileSync(mesh.jwksFile, "utf8");
  const newKey = generateSigningJwk("new-key");
  const writeKeys = (keys: unknown[]) => writeFileSync(mesh.jwksFile, JSON.stringify({ keys }));
  const old = JSON.parse(oldKey).keys[0];

  const first = await login();
  expect(decodeProtectedHeader(first).kid).toBe("old-key");

  // 1. Publish the new key; the old one still signs.
  writeKeys([old, newKey]);
  await mesh.startGateway({ JWT_ACTIVE_KID: "old-key" });
  expect((await jwks()).keys.map((k) => k.kid)).toEqual(["old-key", "new-key"]);
  expect(decodeProtectedHeader(await login()).kid).toBe("old-key");

  // 2. Sign with the new key; tokens of the old one still verify.
  await mesh.startGateway({ JWT_ACTIVE_KID: "new-key" });
  const second = await login();
  expect(decodeProtectedHeader(second).kid).toBe("new-key");
  expect(await verifies(first)).toBe(true);
  expect(await verifies(second)).toBe(true);

  // 3. Once the old tokens have expired, retire the old key.
  writeKeys([newKey]);
  await mesh.startGateway({ JWT_ACTIVE_KID: "" });
  expect((await jwks()).keys.map((k) => k.kid)).toEqual(["new-key"]);
  expect(await verifies(second)).toBe(true);
  expect(await verifies(first)).toBe(false);
  // Public keys only: no private part is ever published.
  expect(JSON.stringify(await jwks())).not.toContain('"d"');
});
