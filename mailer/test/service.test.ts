// The mailer as callers see it: gRPC in, SMTP out. A real redis-server holds the BullMQ queue;
// a real SMTP server (smtp-server) receives the emails and, when told to, answers 4xx/5xx or
// is down. The received MIME is parsed to check what a person would get.
import { randomUUID } from "node:crypto";
import { createLogSink, type RedisProcess, startRedis, startSmtpSink, waitFor } from "@emailauth/devkit";
import type { SmtpCatcher } from "@emailauth/devkit/smtp";
import {
  type AppError,
  createLogger,
  createMetrics,
  serverCredentials,
  type Upstream,
} from "@emailauth/platform";
import {
  DeliveryState,
  type MailerServiceClient,
  type QueueLoginCodeEmailRequest,
} from "@emailauth/proto/mailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMailerRuntime, type MailerRuntime } from "../src/runtime.ts";
import { connectMailer, loginEmail, type MailerApi } from "./mailer-api.ts";

let redis: RedisProcess;
let sink: SmtpCatcher;
let runtime: MailerRuntime;
let mailer: MailerApi;
let api: Upstream<MailerServiceClient>;
const logs = createLogSink();

beforeAll(async () => {
  [redis, sink] = await Promise.all([startRedis(), startSmtpSink()]);
  const logger = createLogger({ service: "mailer", level: "debug", destination: logs.stream });
  runtime = await createMailerRuntime({
    logger,
    metrics: createMetrics({ service: "mailer", defaultMetrics: false }),
    credentials: serverCredentials(undefined),
    queue: { kind: "redis", url: redis.url, prefix: "ea:{mail}", lockDurationMs: 5_000 },
    queueKeys: ["service-test-queue-key-service-test-queue-key"],
    queueOptions: { maxAttempts: 5, retryBaseMs: 100, concurrency: 10, retentionMs: 3_600_000 },
    smtp: {
      kind: "relay",
      url: `smtp://127.0.0.1:${sink.port}?ignoreTLS=true`,
      poolSize: 2,
      dkim: undefined,
    },
    from: "Sign-in <no-reply@auth.example.com>",
    envelopeFrom: "bounces@auth.example.com",
    defaultLocale: "en",
    templatesDir: undefined,
  });
  const { grpcPort } = await runtime.server.listen({ host: "127.0.0.1", grpcPort: 0, httpPort: 0 });
  mailer = await connectMailer(grpcPort);
  api = mailer.api;
});

afterAll(async () => {
  mailer?.close();
  await runtime?.close(1_000);
  await Promise.all([sink?.close(), redis?.stop()]);
});

const recipientFor = (label: string) => `${label}-${randomUUID().slice(0, 8)}@example.com`;

function queue(overrides: Partial<QueueLoginCodeEmailRequest> = {}) {
  return api.call("queueLoginCodeEmail", loginEmail(overrides));
}

async function statusOf(messageId: string, state: DeliveryState) {
  return waitFor(`delivery state ${state}`, async () => {
    const { status } = await api.call("getDeliveryStatus", { messageId });
    return status?.state === state ? status : undefined;
  });
}

describe("the mailer", () => {
  it("sends a login email in the person's language, with both parts and the right headers", async () => {
    const recipient = recipientFor("maria");
    const { messageId } = await queue({
      recipient,
      locale: "es-MX",
      appName: `Tienda <b>"Sol"</b>`,
      code: "482913",
    });
    const mail = await sink.waitForMessage((m) => m.to.includes(recipient));
    const p = mail.parsed;
    expect(p.subject).toBe(`482913 es tu código para entrar en Tienda <b>"Sol"</b>`);
    expect(p.text).toContain("482913");
    expect(p.text).toContain("10 minutos");
    expect(p.html).toContain(">482913</span>");
    expect(p.html).toContain("Tienda &lt;b&gt;&quot;Sol&quot;&lt;&#x2F;b&gt;");
    expect(p.html).not.toContain('<b>"Sol"');
    expect(p.headers.get("auto-submitted")).toBe("auto-generated");
    expect(p.headers.get("content-language")).toBe("es");
    expect(p.messageId).toBe(`<${messageId}@auth.example.com>`);
    expect(p.from?.value).toEqual([{ name: "Sign-in", address: "no-reply@auth.example.com" }]);
    expect(mail.from).toBe("bounces@auth.example.com");
    expect(await statusOf(messageId, DeliveryState.DELIVERY_STATE_SENT)).toMatchObject({
      attempts: 1,
      errorClass: "",
    });
  });

  it("uses the client app's own sender address when it has one", async () => {
    const recipient = recipientFor("sender");
    await queue({ recipient, appName: "Shop", senderAddress: "login@shop.example" });
    const mail = await sink.waitForMessage((m) => m.to.includes(recipient));
    expect(mail.parsed.from?.value).toEqual([{ name: "Shop", address: "login@shop.example" }]);
    expect(mail.parsed.subject).toBe("482913 is your Shop sign-in code");
  });

  it("retries while the relay answers 451, then delivers once", async () => {
    const recipient = recipientFor("busy");
    let refusals = 0;
    sink.setReply((envelope) => {
      if (envelope.to.includes(recipient) && refusals < 2) {
        refusals++;
        return { code: 451, message: "Try again later" };
      }
      return undefined;
    });
    try {
      const { messageId } = await queue({ recipient });
      const retrying = await statusOf(messageId, DeliveryState.DELIVERY_STATE_RETRYING);
      expect(retrying).toMatchObject({ errorClass: "SMTP_TRANSIENT", smtpCode: 451 });
      expect(retrying.nextAttemptAt?.getTime()).toBeGreaterThan(Date.now() - 1_000);
      expect(await statusOf(messageId, DeliveryState.DELIVERY_STATE_SENT)).toMatchObject({ attempts: 3 });
      expect(sink.messages().filter((m) => m.to.includes(recipient))).toHaveLength(1);
    } finally {
      sink.setReply(undefined);
    }
  });

  it("marks a 550 as failed at once and does not try again", async () => {
    const recipient = recipientFor("nobody");
    let tries = 0;
    sink.setReply((envelope) => {
      if (!envelope.to.includes(recipient)) return undefined;
      tries++;
      return { code: 550, message: "No such user" };
    });
    try {
      const { messageId } = await queue({ recipient });
      const failed = await statusOf(messageId, DeliveryState.DELIVERY_STATE_FAILED);
      expect(failed).toMatchObject({ attempts: 1, errorClass: "SMTP_PERMANENT", smtpCode: 550 });
      // A retry would have come after ~100 ms: wait for a later delivery to be sure none did.
      const later = recipientFor("later");
      await queue({ recipient: later });
      await sink.waitForMessage((m) => m.to.includes(later));
      expect(tries).toBe(1);
    } finally {
      sink.setReply(undefined);
    }
  });

  it("keeps retrying while the relay is down, and delivers when it is back", async () => {
    const port = sink.port;
    await sink.close();
    const recipient = recipientFor("outage");
    const { messageId } = await queue({ recipient });
    const retrying = await statusOf(messageId, DeliveryState.DELIVERY_STATE_RETRYING);
    expect(retrying.errorClass).toBe("CONNECTION");
    sink = await startSmtpSink({}, port);
    await sink.waitForMessage((m) => m.to.includes(recipient));
    expect((await statusOf(messageId, DeliveryState.DELIVERY_STATE_SENT)).attempts).toBeGreaterThan(1);
  });

  it("sends one email for an idempotency key queued twice", async () => {
    const recipient = recipientFor("twice");
    const idempotencyKey = `chl_${randomUUID()}`;
    const first = await queue({ recipient, idempotencyKey });
    const second = await queue({ recipient, idempotencyKey });
    expect(second).toEqual({ messageId: first.messageId, duplicate: true });
    await statusOf(first.messageId, DeliveryState.DELIVERY_STATE_SENT);
    const byKey = await api.call("getDeliveryStatus", { idempotencyKey });
    expect(byKey.status?.messageId).toBe(first.messageId);
    expect(sink.messages().filter((m) => m.to.includes(recipient))).toHaveLength(1);
  });

  it("queues a batch in one call: each email its own result, a bad one refused alone, a key once", async () => {
    const [a, b] = [recipientFor("batch-a"), recipientFor("batch-b")];
    const keyA = `chl_${randomUUID()}`;
    const requests = [
      loginEmail({ recipient: a, idempotencyKey: keyA }),
      loginEmail({ recipient: "not-an-address" }),
      loginEmail({ recipient: b }),
      // The same key twice in one batch: one email.
      loginEmail({ recipient: a, idempotencyKey: keyA }),
    ];
    const first = await api.call("queueLoginCodeEmails", { requests, requestIds: [] });
    expect(first.results.map((r) => r.error?.reason ?? "ok")).toEqual(["ok", "EMAIL_INVALID", "ok", "ok"]);
    expect(first.results[3]?.response?.messageId).toBe(first.results[0]?.response?.messageId);
    // Sent again (a retry after a lost answer): duplicates, nothing more queued.
    const again = await api.call("queueLoginCodeEmails", {
      requests: requests.filter((_, i) => i === 0 || i === 2),
      requestIds: [],
    });
    expect(again.results.map((r) => r.response?.duplicate)).toEqual([true, true]);
    await statusOf(first.results[0]?.response?.messageId ?? "", DeliveryState.DELIVERY_STATE_SENT);
    await statusOf(first.results[2]?.response?.messageId ?? "", DeliveryState.DELIVERY_STATE_SENT);
    expect(sink.messages().filter((m) => m.to.includes(a))).toHaveLength(1);
    expect(sink.messages().filter((m) => m.to.includes(b))).toHaveLength(1);
  });

  it("refuses bad input with INVALID_ARGUMENT, and queues nothing", async () => {
    const before = sink.messages().length;
    const reasons = await Promise.all(
      [
        queue({ recipient: "jane@example.com\r\nBcc: all@example.com" }),
        queue({ code: "12345<script>" }),
        queue({ expiresAt: new Date(Date.now() - 1000) }),
        queue({ idempotencyKey: "" }),
        queue({ appName: "a".repeat(65) }),
        // Neither a code nor a link; links that are no web link, or hide something.
        queue({ code: "", link: "" }),
        queue({ link: "javascript:alert(1)" }),
        queue({ link: "https://user:pass@shop.example/l" }),
        queue({ link: "https://shop.example/l#token" }),
        queue({ link: `https://shop.example/${"a".repeat(2048)}` }),
        api.call("getDeliveryStatus", { messageId: "msg_../../x" }),
      ].map((p) =>
        p.then(
          () => "accepted",
          (err: AppError) => err.reason,
        ),
      ),
    );
    expect(reasons).toEqual(["EMAIL_INVALID", ...Array<string>(10).fill("INVALID_ARGUMENT")]);
    const unknown = await api
      .call("getDeliveryStatus", { idempotencyKey: "never-queued" })
      .catch((e: AppError) => e);
    expect((unknown as AppError).reason).toBe("MESSAGE_NOT_FOUND");
    expect(sink.messages().length).toBe(before);
  });

  it("never logs an address or a code", () => {
    expect(logs.lines().length).toBeGreaterThan(5);
    expect(logs.text()).not.toMatch(/@example\.com|482913/);
  });
});
