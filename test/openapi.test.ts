// The OpenAPI document of the public JSON API: a valid OpenAPI 3.1 document, served by the
// gateway as generated, and true to the running gateway: every documented path answers as
// documented (the success body has only documented fields; an error's status is one the
// operation documents, with a reason listed for that status). The reference page is served in
// development.
import { readFileSync } from "node:fs";
import { OPENAPI_PATH } from "@emailauth/proto/openapi";
import { validate } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, postJson, reasonOf, startMesh } from "./helpers/mesh.ts";

type Json = Record<string, unknown>;
interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
}
interface Operation {
  operationId: string;
  responses: Record<string, { "x-reasons"?: string[]; content?: { "application/json": { schema: Schema } } }>;
}

const doc = JSON.parse(readFileSync(OPENAPI_PATH, "utf8")) as {
  paths: Record<string, { post: Operation; get?: Operation }>;
  components: { schemas: Record<string, Schema> };
};
const resolve = (s: Schema): Schema =>
  s.$ref ? (doc.components.schemas[s.$ref.replace("#/components/schemas/", "")] ?? {}) : s;

/** Fields of `value` the schema does not document, as paths ("user.nickname"). */
function undocumented(value: unknown, schema: Schema, at = ""): string[] {
  const s = resolve(schema);
  if (Array.isArray(value)) return value.flatMap((v, i) => undocumented(v, s.items ?? {}, `${at}[${i}]`));
  if (value === null || typeof value !== "object" || !s.properties) return [];
  return Object.entries(value as Json).flatMap(([k, v]) => {
    const p = s.properties?.[k];
    return p ? undocumented(v, p, at ? `${at}.${k}` : k) : [at ? `${at}.${k}` : k];
  });
}

let mesh: Mesh;
let auth: Record<string, string>;
beforeAll(async () => {
  mesh = await startMesh();
  auth = { authorization: `Bearer ${(await mesh.createApp()).apiKey}` };
});
afterAll(async () => {
  await mesh?.stop();
});

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await validate(structuredClone(doc) as never);
    expect("errors" in result ? result.errors : []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("is served by the gateway as generated, and documents every method of the service", async () => {
    const res = await fetch(`${mesh.gatewayUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual(doc);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "GetLoginStatus",
        "RefreshSession",
        "RevokeSession",
        "RevokeUserSessions",
        "StartLogin",
        "VerifyLogin",
      ].map((m) => `/emailauth.auth.v1.AuthService/${m}`),
    );
  });

  it("carries the protovalidate bounds and the reasons", () => {
    const start = doc.components.schemas["emailauth.auth.v1.StartLoginRequest"] as Json & {
      properties: Record<string, Json>;
      required: string[];
    };
    expect(start.required).toEqual(["email"]);
    expect(start.properties.email).toMatchObject({ type: "string", maxLength: 320 });
    // Optional (IGNORE_IF_ZERO_VALUE): empty, or within its rules.
    expect(start.properties.locale).toMatchObject({
      anyOf: [{ const: "" }, { maxLength: 35, pattern: expect.any(String) }],
    });
    // Only the rules written: a field with a pattern alone has no length bounds (proto2's
    // unset defaults read as 0 once made every id field impossible to fill).
    const refresh = doc.components.schemas["emailauth.auth.v1.RefreshSessionRequest"] as Json & {
      properties: Record<string, Json>;
    };
    expect(refresh.properties.refreshToken).toEqual({ type: "string", pattern: "^ert_[a-z2-7]{64}$" });
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      for (const [field, p] of Object.entries(
        (schema as { properties?: Record<string, Json> }).properties ?? {},
      )) {
        if ("maxLength" in p) expect([name, field, p.maxLength]).toEqual([name, field, expect.any(Number)]);
        if ("maxLength" in p) expect(p.maxLength as number).toBeGreaterThan(0);
      }
    }
    const verifyRequest = doc.components.schemas["emailauth.auth.v1.VerifyLoginRequest"] as Json & {
      properties: Record<string, Json>;
    };
    // A typed code or a magic link's token: exactly one (protovalidate's message oneof).
    expect(verifyRequest.properties.code).toMatchObject({ anyOf: [{ const: "" }, { maxLength: 32 }] });
    expect(verifyRequest.allOf).toEqual(
      expect.arrayContaining([{ oneOf: [{ required: ["code"] }, { required: ["linkToken"] }] }]),
    );
    expect(verifyRequest.description).toContain("Set exactly one of code, linkToken.");
    const verify = doc.paths["/emailauth.auth.v1.AuthService/VerifyLogin"]?.post;
    expect(verify?.responses["401"]?.["x-reasons"]).toEqual(
      expect.arrayContaining(["CODE_INVALID", "API_KEY_INVALID"]),
    );
  });

  it("matches the running gateway on every documented path", async () => {
    const operation = (method: string) => {
      const op = doc.paths[`/emailauth.auth.v1.AuthService/${method}`]?.post;
      if (!op) throw new Error(`${method} is not documented`);
      return op;
    };
    const checked = new Set<string>();
    /** A call, checked against its operation's documented answers. */
    const call = async (method: string, body: unknown, headers = auth) => {
      const res = await postJson(mesh.gatewayUrl, method, body, headers);
      const documented = operation(method).responses[String(res.status)];
      expect({ method, status: res.status, documented: Boolean(documented) }).toEqual({
        method,
        status: res.status,
        documented: true,
      });
      if (res.status === 200) {
        const schema = documented?.content?.["application/json"].schema ?? {};
        expect({ method, undocumented: undocumented(res.body, schema) }).toEqual({
          method,
          undocumented: [],
        });
      } else {
        expect(documented?.["x-reasons"]).toContain(reasonOf(res.body));
      }
      checked.add(method);
      return res;
    };

    const email = `openapi-${Date.now()}@example.com`;
    const before = mesh.sink.messages().at(-1)?.seq ?? 0;
    const started = await call("StartLogin", { email, locale: "en" });
    await call("StartLogin", { email: "not an address" });
    await call("StartLogin", { email }, { authorization: "Bearer eak_unknown" });
    const challengeId = started.body.challengeId as string;
    await call("GetLoginStatus", { challengeId });
    // The GET form, as documented for side-effect-free methods.
    const query = new URLSearchParams({
      connect: "v1",
      encoding: "json",
      message: JSON.stringify({ challengeId }),
    });
    const viaGet = await fetch(`${mesh.gatewayUrl}/emailauth.auth.v1.AuthService/GetLoginStatus?${query}`, {
      headers: auth,
    });
    expect(viaGet.status).toBe(200);
    expect(doc.paths["/emailauth.auth.v1.AuthService/GetLoginStatus"]?.get).toBeDefined();
    await call("VerifyLogin", { challengeId, code: "000000" });
    const code = await mesh.codeFor(email, before);
    const verified = await call("VerifyLogin", { challengeId, code });
    const refreshed = await call("RefreshSession", { refreshToken: verified.body.refreshToken });
    await call("RefreshSession", { refreshToken: verified.body.refreshToken }); // reuse
    await call("RevokeSession", { refreshToken: refreshed.body.refreshToken });
    await call("RevokeUserSessions", { userId: (verified.body.user as Json).id });
    expect([...checked].sort()).toEqual(
      Object.keys(doc.paths)
        .map((p) => p.split("/").pop())
        .sort(),
    );
  });

  it("has a reference page in development", async () => {
    const res = await fetch(`${mesh.gatewayUrl}/docs`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("/openapi.json");
  });
});
