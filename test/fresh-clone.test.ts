// The README's first command on a fresh clone, as a newcomer runs it: a clone in a new folder
// (no node_modules), the machine's older Node first on PATH, `bash dev/run.sh start`. Within
// 90 s of the command (Node 24 from the cache outside the clone, as CI has already fetched it;
// the dependencies installed by the command itself) the demo page answers and a person logs in
// through the JSON API and the development inbox. Ctrl+C then stops everything.
//
// The clone is of this repository's committed state (HEAD), which is what a newcomer gets.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@emailauth/devkit";
import { afterAll, expect, it, onTestFinished } from "vitest";
import { FREE_PORTS, processesMarked } from "./helpers/dev-mesh.ts";

const root = join(import.meta.dirname, "..");
const BUDGET_MS = 90_000;

/** PATH with this machine's own Node first (older than 24 on CI's machines), not ours. */
function newcomerPath(): string {
  const ours = join(process.execPath, "..");
  const system = ["/usr/local/bin", "/usr/bin", "/bin"].filter((d) => existsSync(d));
  const rest = (process.env.PATH ?? "").split(":").filter((d) => d !== ours && !system.includes(d));
  return [...system, ...rest].join(":");
}

/**
 * The environment of the shell that ran the tests (its proxy and CA settings, HOME), without
 * what npm and vitest added for this run.
 */
function newcomerEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[1] !== undefined && !/^(npm_|VITEST|TEST$|NODE_ENV$|NODE_OPTIONS$|INIT_CWD$|EMAILAUTH_)/.test(e[0]),
    ),
  );
}

const dir = mkdtempSync(join(tmpdir(), "fresh-clone-"));
let runner: ChildProcess | undefined;
afterAll(() => {
  runner?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

it(
  "bash dev/run.sh start: from a fresh clone to a login through the JSON API and the inbox",
  async () => {
    const clone = join(dir, "emailauth");
    execFileSync("git", ["clone", "--quiet", root, clone]);
    expect(existsSync(join(clone, "node_modules"))).toBe(false);
    const mark = randomUUID();
    const startedAt = Date.now();
    runner = spawn("bash", ["dev/run.sh", "start"], {
      cwd: clone,
      env: {
        ...newcomerEnv(),
        PATH: newcomerPath(),
        EMAILAUTH_TEST_MARK: mark,
        ...FREE_PORTS,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    runner.stdout?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    runner.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    const exited = once(runner, "exit");

    await waitFor("the mesh to say it is running", () => output.includes("emailauth is running"), {
      timeoutMs: BUDGET_MS,
      intervalMs: 200,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${output.slice(-3000)}`);
    });
    const field = (pattern: RegExp) => {
      const value = pattern.exec(output)?.[1];
      if (!value) throw new Error(`not in the output: ${pattern}\n${output}`);
      return value;
    };
    const demoUrl = field(/Demo client app\s+(http:\S+)/);
    const inboxUrl = field(/Development inbox\s+(http:\S+)/);
    const gatewayUrl = field(/Gateway \(public API\)\s+(http:\S+)/);
    const apiKey = field(/API key:\s+(eak_\S+)/);

    const demo = await fetch(demoUrl);
    expect(demo.status).toBe(200);
    expect(await demo.text()).toContain("<form");

    const call = async (method: string, body: unknown) => {
      const res = await fetch(`${gatewayUrl}/emailauth.auth.v1.AuthService/${method}`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const email = `newcomer-${randomUUID().slice(0, 8)}@example.com`;
    const started = await call("StartLogin", { email });
    expect(started.status).toBe(200);
    const code = await waitFor("the email in the inbox", async () => {
      const messages = (await (await fetch(`${inboxUrl}/messages`)).json()) as { to: string; text: string }[];
      return /\b(\d{6})\b/.exec(messages.find((m) => m.to.includes(email))?.text ?? "")?.[1];
    });
    const verified = await call("VerifyLogin", { challengeId: started.body.challengeId, code });
    expect(verified.status).toBe(200);
    expect(verified.body.accessToken).toEqual(expect.any(String));
    expect(Date.now() - startedAt).toBeLessThan(BUDGET_MS);

    // Ctrl+C: everything the command started stops.
    runner.kill("SIGINT");
    expect((await exited)[0]).toBe(0);
    await waitFor("no process left", () => processesMarked(mark).length === 0);
  },
  BUDGET_MS + 60_000,
);

it("bash dev/run.sh test, without redis-server and not root: stops at once with the one command to run", async () => {
  // A PATH with no redis-server, redis-cli or sudo, a user that is not root (nobody, when we
  // are root; ourselves otherwise) and no Chromium. The script is copied where that user can
  // read it (the clone may be in a private folder).
  const place = mkdtempSync(join(tmpdir(), "no-redis-"));
  onTestFinished(() => rmSync(place, { recursive: true, force: true }));
  const bin = join(place, "bin");
  mkdirSync(bin);
  mkdirSync(join(place, "dev"));
  copyFileSync(join(root, "dev", "run.sh"), join(place, "dev", "run.sh"));
  symlinkSync(execFileSync("bash", ["-c", "command -v id"]).toString().trim(), join(bin, "id"));
  chmodSync(place, 0o755);
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const t0 = Date.now();
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = execFile(
      "/bin/bash",
      [join(place, "dev", "run.sh"), "test"],
      {
        env: { PATH: bin, HOME: "/nonexistent", CHROMIUM_PATH: "/nonexistent/chromium" },
        cwd: "/",
        ...asNobody,
      },
      (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
    child.stdin?.end();
  });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain("sudo apt-get install -y redis-server redis-tools prometheus chromium");
  expect(Date.now() - t0).toBeLessThan(5_000);
});
