// The first-run path of the mailer: no Redis, no SMTP relay. It runs with the in-process queue
// and the development inbox, where the emails can be read in a browser or as JSON.
import { randomUUID } from "node:crypto";
import { type ServiceProcess, spawnService, waitFor } from "@emailauth/devkit";
import { afterAll, expect, it } from "vitest";
import { connectMailer, loginEmail, MAILER_MAIN } from "./mailer-api.ts";

let mailer: ServiceProcess | undefined;
afterAll(async () => {
  await mailer?.stop();
});

it("catches emails in the development inbox, readable as a page and as JSON", async () => {
  mailer = await spawnService(MAILER_MAIN, {
    name: "mailer",
    env: { MAILER_PORT: "0", MAILER_HTTP_PORT: "0", MAILER_DEV_SMTP_PORT: "0" },
  });
  const logs = mailer.logs.lines();
  expect(logs.some((l) => /NOT DURABLE/.test(String(l.msg)))).toBe(true);
  expect(logs.some((l) => /development inbox/.test(String(l.msg)))).toBe(true);

  const { api, close } = await connectMailer(mailer.ports.grpcPort);
  const recipient = `newcomer-${randomUUID().slice(0, 8)}@example.com`;
  await api.call("queueLoginCodeEmail", loginEmail({ recipient, code: "731904", appName: "Demo" }));
  close();

  const base = `http://127.0.0.1:${mailer.ports.httpPort}`;
  type Caught = { id: number; to: string[]; subject: string; text: string; html: string };
  const message = await waitFor("the email in the inbox", async () => {
    const list = (await (await fetch(`${base}/inbox/messages`)).json()) as Caught[];
    return list.find((m) => m.to.includes(recipient));
  });
  expect(message.subject).toBe("731904 is your Demo sign-in code");
  expect(message.text).toContain("731904");
  const page = await fetch(`${base}/inbox`);
  expect(page.headers.get("content-type")).toContain("text/html");
  expect(await page.text()).toContain("Development inbox");
  const html = await fetch(`${base}/inbox/messages/${message.id}.html`);
  expect(html.headers.get("content-security-policy")).toContain("sandbox");
  expect(await html.text()).toContain("731904");
});
