// The newcomer's path in a real browser (headless Chromium driven by playwright-core): run the
// README's `npm start` (dev/start.ts), open the demo client app, ask for a code, read it in the
// development inbox page, type it, see "signed in as <user id>", log out. Screenshots are saved
// in test-results/.
//
// Needs Debian's chromium (.ci/run installs it). Without it the test is skipped, unless
// EMAILAUTH_REQUIRE_BROWSER=1 (as in CI), which makes its absence a failure.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FREE_PORTS } from "./helpers/dev-mesh.ts";

const root = join(import.meta.dirname, "..");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const available = existsSync(chromiumPath);
if (!available && process.env.EMAILAUTH_REQUIRE_BROWSER === "1") {
  throw new Error(`No Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH)`);
}
const artifacts = join(root, "test-results");

let runner: ChildProcess;
let output = "";
let browser: Browser;

beforeAll(async () => {
  if (!available) return;
  // Every port 0: the test runs beside anything else on the machine.
  runner = spawn(process.execPath, [join(root, "dev", "start.ts")], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...FREE_PORTS,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Stop with Ctrl+C.")) {
        clearTimeout(timer);
        resolve();
      }
    };
    runner.stdout?.on("data", onData);
    runner.stderr?.on("data", onData);
    runner.once("exit", (code) => reject(new Error(`npm start exited (${code}):\n${output}`)));
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  mkdirSync(artifacts, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  if (runner && runner.exitCode === null) {
    const exited = new Promise((r) => runner.once("exit", r));
    runner.kill("SIGINT");
    await exited;
  }
});

/** What `npm start` printed: where things are. */
const printed = (label: RegExp) => label.exec(output)?.[1] ?? "";

/** A person asks the demo app to sign them in, then opens the email in the development inbox. */
async function startInBrowser(label: string) {
  const email = `${label}-${randomUUID().slice(0, 8)}@example.com`;
  const demo = await browser.newPage();
  await demo.goto(printed(/Demo client app\s+(http:\S+)/));
  await demo.fill("#email", email);
  await demo.click("#start");
  await demo.getByText("Check your email").waitFor();

  const inbox = await browser.newPage();
  await inbox.goto(printed(/Development inbox\s+(http:\S+)/));
  await inbox.getByRole("button", { name: new RegExp(email) }).click();
  const text = await inbox.locator(".text-part").innerText();
  return { demo, inbox, text };
}

describe.skipIf(!available)("the demo, in a real browser", () => {
  it("signs a person in with the code read from the development inbox, and out again", async () => {
    expect(output).toContain("WARNING: NOTHING IS DURABLE");
    expect(output).toMatch(/eak_[a-z2-7]{52}/);
    const { demo, inbox, text } = await startInBrowser("browser");
    const code = /\b(\d{6})\b/.exec(text)?.[1] ?? "";
    expect(code).toMatch(/^\d{6}$/);
    // The HTML part renders too (sandboxed), showing the same code.
    await inbox.frameLocator("iframe").getByText(code, { exact: true }).waitFor();
    await (await inbox.locator("iframe").elementHandle())
      ?.contentFrame()
      .then((f) => f?.waitForLoadState("load"));
    await inbox.screenshot({ path: join(artifacts, "dev-inbox.png") });

    await demo.fill("#code", code);
    await demo.click("#verify");
    const userId = await demo.locator("#user-id").innerText();
    expect(userId).toMatch(/^usr_[a-z2-7]{38}$/);
    await expect(demo.getByText(`Signed in as ${userId}`).count()).resolves.toBe(1);
    await demo.screenshot({ path: join(artifacts, "demo-signed-in.png"), fullPage: true });
    expect(existsSync(join(artifacts, "demo-signed-in.png"))).toBe(true);

    await demo.click("#logout");
    await demo.locator("#email").waitFor();
  });

  it("signs a person in with the email's magic link, which a link scanner's GET does not use", async () => {
    const demoUrl = printed(/Demo client app\s+(http:\S+)/);
    const gatewayUrl = printed(/Gateway \(public API\)\s+(http:\S+)/);
    const apiKey = /eak_[a-z2-7]{52}/.exec(output)?.[0] ?? "";
    const { demo, inbox, text } = await startInBrowser("magic");
    const link = new URL(/http:\/\/\S+\/magic\?\S+/.exec(text)?.[0] ?? "http://missing/");
    expect(link.origin).toBe(new URL(demoUrl).origin);
    const challengeId = link.searchParams.get("challenge_id") ?? "";
    // The HTML part shows the same link as a button.
    await inbox.frameLocator("iframe").getByRole("link", { name: "Sign in to Demo app" }).waitFor();
    await inbox.close();

    // A mail system's link scanner fetches the link: it gets the page, and nothing happens.
    const scanned = await fetch(link, { redirect: "manual" });
    expect(scanned.status).toBe(200);
    expect(scanned.headers.get("referrer-policy")).toBe("same-origin");
    expect(await scanned.text()).toContain('id="magic-continue"');
    const status = await fetch(`${gatewayUrl}/emailauth.auth.v1.AuthService/GetLoginStatus`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ challengeId }),
    });
    expect(((await status.json()) as { loginState: string }).loginState).toBe("LOGIN_STATE_PENDING");

    // The person opens it, and signs in with one click.
    await demo.goto(link.href);
    await demo.click("#magic-continue");
    const userId = await demo.locator("#user-id").innerText();
    expect(userId).toMatch(/^usr_[a-z2-7]{38}$/);
    await demo.screenshot({ path: join(artifacts, "demo-signed-in-by-link.png"), fullPage: true });

    // The same link in another browser (a forwarded email, an attacker's link posted by the
    // victim's browser) signs nobody in: a link works only where its login was started.
    const second = await browser.newPage();
    await second.goto(link.href);
    await second.click("#magic-continue");
    await second.getByText("asked for in another browser").waitFor();
    expect(await second.locator("#user-id").count()).toBe(0);
    // A form on another site posting to the demo app is refused outright.
    const crossSite = await fetch(new URL("/magic", demoUrl), {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
      body: link.searchParams.toString(),
    });
    expect(crossSite.status).toBe(403);
  });
});
