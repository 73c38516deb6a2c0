// examples/python: a client app in another language, with Python's standard library, run
// end to end against the real services in development mode (the code read from the
// development inbox): start, a wrong code, the right one, the access token verified offline
// against the JWKS, a refresh, the reused refresh token refused. Its token check is also shown
// to refuse a forged signature and another app's token.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ServiceProcess } from "@emailauth/devkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type DevMesh, startDevMesh } from "./helpers/dev-mesh.ts";

const run = promisify(execFile);
const example = join(import.meta.dirname, "..", "examples", "python", "emailauth_example.py");
const ISSUER = "https://auth.example.test";

let dev: DevMesh;
let mailer: ServiceProcess;
let gateway: ServiceProcess;
let app: { appId: string; apiKey: string };
let env: Record<string, string>;

beforeAll(async () => {
  dev = await startDevMesh({ gateway: { JWT_ISSUER: ISSUER } });
  ({ mailer, gateway } = dev);
  app = await dev.createApp("Python shop");
  env = {
    PATH: process.env.PATH ?? "",
    EMAILAUTH_URL: `http://127.0.0.1:${gateway.ports.httpPort}`,
    EMAILAUTH_API_KEY: app.apiKey,
    EMAILAUTH_APP_ID: app.appId,
    EMAILAUTH_ISSUER: ISSUER,
    EMAILAUTH_INBOX_URL: `http://127.0.0.1:${mailer.ports.httpPort}/inbox`,
  };
});
afterAll(async () => {
  await dev?.stop();
});

it("logs a person in, verifies the access token offline, refreshes, and sees a reused token refused", async () => {
  const { stdout } = await run("python3", [example, "python-person@example.com"], { env, timeout: 60_000 });
  const steps = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(steps.map((s) => s.step)).toEqual([
    "StartLogin",
    "VerifyLogin (wrong code)",
    "VerifyLogin",
    "access token verified",
    "RefreshSession",
    "RefreshSession (reused token)",
  ]);
  expect(steps[1]).toMatchObject({ status: 401, reason: "CODE_INVALID" });
  expect(steps[2]?.userId).toMatch(/^usr_/);
  expect(steps[3]).toMatchObject({ sub: steps[2]?.userId, sid: steps[2]?.sessionId });
  expect(steps[5]).toMatchObject({ status: 401, reason: "REFRESH_TOKEN_REUSED" });
});

it("its token check refuses a forged signature, another app's token and a wrong issuer", async () => {
  // A genuine token, from a login done here over the JSON API.
  const gw = env.EMAILAUTH_URL;
  const post = async (method: string, body: unknown) =>
    (await (
      await fetch(`${gw}/emailauth.auth.v1.AuthService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${app.apiKey}` },
        body: JSON.stringify(body),
      })
    ).json()) as Record<string, string>;
  const email = "python-check@example.com";
  const started = await post("StartLogin", { email });
  const { stdout: code } = await run(
    "python3",
    [
      "-c",
      `import sys; sys.path.insert(0, ${JSON.stringify(join(example, ".."))}); import emailauth_example as e; print(e.code_from_inbox(${JSON.stringify(env.EMAILAUTH_INBOX_URL)}, ${JSON.stringify(email)}))`,
    ],
    { env },
  );
  const session = await post("VerifyLogin", { challengeId: started.challengeId, code: code.trim() });
  const token = session.accessToken ?? "";
  const [h, p, s] = token.split(".");
  const forged = `${h}.${p}.${s?.startsWith("A") ? `B${s.slice(1)}` : `A${s?.slice(1)}`}`;
  const check = async (candidate: string, audience: string, issuer = ISSUER) => {
    const script = `
import json, sys, urllib.request
sys.path.insert(0, ${JSON.stringify(join(example, ".."))})
import emailauth_example as e
jwks = json.load(urllib.request.urlopen(${JSON.stringify(`${gw}/.well-known/jwks.json`)}))
try:
    e.verify_access_token(sys.argv[1], jwks, sys.argv[3], sys.argv[2])
    print("valid")
except ValueError as err:
    print(err)
`;
    return (await run("python3", ["-c", script, candidate, audience, issuer], { env })).stdout.trim();
  };
  expect(await check(token, app.appId)).toBe("valid");
  expect(await check(forged, app.appId)).toBe("bad signature");
  expect(await check(token, "app_someoneelse0000")).toBe("wrong audience: a token for another app");
  expect(await check(token, app.appId, "https://evil.example")).toBe("wrong issuer");
});
