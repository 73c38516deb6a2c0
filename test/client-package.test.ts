// @emailauth/client as a client app installs it: packed (compiled to JavaScript with its
// declarations), installed from the tarball into a throw-away project outside this repository,
// and run with plain `node` (this Node, and the machine's older one when it has Node 18+)
// through a whole login against the real services: start, a wrong code (a typed error with its
// reason), the right code, a refresh.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ServiceProcess } from "@emailauth/devkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type DevMesh, startDevMesh } from "./helpers/dev-mesh.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const project = mkdtempSync(join(tmpdir(), "client-app-"));

let dev: DevMesh;
let mailer: ServiceProcess;
let gateway: ServiceProcess;
let apiKey: string;

/** npm as this test's Node runs it, without the variables npm set for the test run itself. */
function npmEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => e[1] !== undefined && !/^(npm_|VITEST|NODE_OPTIONS$)/.test(e[0]),
    ),
  );
}

beforeAll(async () => {
  dev = await startDevMesh();
  ({ mailer, gateway } = dev);
  ({ apiKey } = await dev.createApp("Packed client"));
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  rmSync(project, { recursive: true, force: true });
  rmSync(join(root, "proto", "client", "dist"), { recursive: true, force: true });
});

const CLIENT_APP = `
import { Code, ConnectError, createAuthClient, errorReason } from "@emailauth/client";

const [baseUrl, apiKey, inboxUrl, email] = process.argv.slice(2);
const auth = createAuthClient({ baseUrl, apiKey });
const out = { node: process.versions.node };

const { challengeId } = await auth.startLogin({ email, locale: "en" });
out.challengeId = challengeId;
try {
  await auth.verifyLogin({ target: { case: "challengeId", value: challengeId }, code: "000000" });
} catch (err) {
  out.wrongCode = { connectError: err instanceof ConnectError, unauthenticated: err.code === Code.Unauthenticated, reason: errorReason(err) };
}
let code;
for (let i = 0; i < 200 && !code; i++) {
  const messages = await (await fetch(inboxUrl + "/messages")).json();
  code = /\\b(\\d{6})\\b/.exec(messages.find((m) => m.to.includes(email))?.text ?? "")?.[1];
  if (!code) await new Promise((r) => setTimeout(r, 50));
}
const session = await auth.verifyLogin({ target: { case: "challengeId", value: challengeId }, code });
out.userId = session.user?.id;
out.expiresAt = session.accessTokenExpiresAt instanceof Object;
const refreshed = await auth.refreshSession({ refreshToken: session.refreshToken });
out.refreshed = refreshed.sessionId === session.sessionId && refreshed.refreshToken !== session.refreshToken;
console.log(JSON.stringify(out));
`;

it("packs, installs outside the workspace with only what it uses, and logs a person in with plain node", async () => {
  const env = npmEnv();
  execFileSync("npm", ["pack", "--workspace", "proto/client", "--pack-destination", project, "--silent"], {
    cwd: root,
    env,
    stdio: "pipe",
  });
  const tarball = readdirSync(project).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("npm pack made no tarball");
  const files = execFileSync("tar", ["-tzf", join(project, tarball)]).toString();
  expect(files).toContain("package/dist/index.js");
  expect(files).toContain("package/dist/index.d.ts");
  // No TypeScript sources, only declarations.
  expect(files.split("\n").filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "shop", private: true, type: "module" }),
  );
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--silent", `./${tarball}`], {
    cwd: project,
    env,
    stdio: "pipe",
  });
  const installed = JSON.parse(
    readFileSync(join(project, "node_modules/@emailauth/client/package.json"), "utf8"),
  );
  expect(Object.keys(installed.dependencies).sort()).toEqual([
    "@bufbuild/protobuf",
    "@connectrpc/connect",
    "@connectrpc/connect-web",
  ]);
  for (const unused of ["@grpc/grpc-js", "protobufjs", "@bufbuild/protovalidate"]) {
    expect([unused, existsSync(join(project, "node_modules", unused))]).toEqual([unused, false]);
  }
  writeFileSync(join(project, "client.mjs"), CLIENT_APP);

  // This Node, and the machine's own older Node (18+) when there is one.
  const nodes = [process.execPath];
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node"]) {
    if (!existsSync(candidate)) continue;
    const major = Number(execFileSync(candidate, ["-p", "process.versions.node.split('.')[0]"]).toString());
    if (major >= 18 && major < 24) nodes.push(candidate);
  }
  for (const [i, node] of nodes.entries()) {
    const { stdout } = await run(
      node,
      [
        "client.mjs",
        `http://127.0.0.1:${gateway.ports.httpPort}`,
        apiKey,
        `http://127.0.0.1:${mailer.ports.httpPort}/inbox`,
        `packed-${i}@example.com`,
      ],
      { cwd: project, timeout: 60_000 },
    );
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      wrongCode: { connectError: true, unauthenticated: true, reason: "CODE_INVALID" },
      userId: expect.stringMatching(/^usr_/),
      expiresAt: true,
      refreshed: true,
    });
  }
}, 180_000);
