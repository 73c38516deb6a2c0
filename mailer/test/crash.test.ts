// A mailer killed in the middle of delivering (SIGKILL, as a crash or an OOM kill would) loses
// nothing: every queued email is delivered after a restart, and none twice.
//
// The SMTP sink accepts the first emails, then holds its answer to the next ones (they are
// mid-delivery: DATA sent, no reply yet). Once the mailer has recorded the accepted ones as
// sent, it is killed. An email whose reply never reached the mailer was not accepted (real
// SMTP semantics), so it must be sent again by the next mailer process, which takes the dead
// worker's jobs over when their locks expire.
import { randomUUID } from "node:crypto";
import {
  type RedisProcess,
  type ServiceProcess,
  spawnService,
  startRedis,
  startSmtpSink,
  waitFor,
} from "@emailauth/devkit";
import type { SmtpReplyError } from "@emailauth/devkit/smtp";
import { DeliveryState } from "@emailauth/proto/mailer";
import { afterAll, expect, it } from "vitest";
import { connectMailer, loginEmail, MAILER_MAIN } from "./mailer-api.ts";

const N = 30;
const ACCEPT_FIRST = 10;
let redis: RedisProcess | undefined;
const processes: ServiceProcess[] = [];

afterAll(async () => {
  for (const p of processes) p.kill("SIGKILL");
  await redis?.stop();
});

async function startMailer(env: Record<string, string>) {
  const p = await spawnService(MAILER_MAIN, { name: "mailer", env });
  processes.push(p);
  const { api, close } = await connectMailer(p.ports.grpcPort);
  return { process: p, api, close };
}

it("delivers every queued email exactly once across a SIGKILL and a restart", async () => {
  redis = await startRedis();
  const sink = await startSmtpSink();
  let accepted = 0;
  const held: ((reply: SmtpReplyError) => void)[] = [];
  sink.setReply(() => {
    if (accepted < ACCEPT_FIRST) {
      accepted++;
      return undefined;
    }
    return new Promise<SmtpReplyError>((resolve) => held.push(resolve));
  });
  const env = {
    REDIS_URL: redis.url,
    SMTP_URL: `smtp://127.0.0.1:${sink.port}?ignoreTLS=true`,
    MAILER_PORT: "0",
    MAILER_HTTP_PORT: "0",
    MAILER_CONCURRENCY: "4",
    SMTP_POOL_SIZE: "2",
    MAILER_JOB_LOCK: "1s",
    MAILER_RETRY_BASE: "100ms",
  };

  const first = await startMailer(env);
  const recipients = Array.from(
    { length: N },
    (_, i) => `crash-${i}-${randomUUID().slice(0, 6)}@example.com`,
  );
  const messageIds = new Map<string, string>();
  for (const recipient of recipients) {
    const { messageId } = await first.api.call(
      "queueLoginCodeEmail",
      loginEmail({ recipient, code: "555123" }),
    );
    messageIds.set(recipient, messageId);
  }

  // Mid-delivery: some accepted, some waiting for the relay's reply...
  await waitFor("emails held mid-delivery", () => held.length > 0);
  const acceptedRecipients = sink.messages().flatMap((m) => m.to);
  expect(acceptedRecipients).toHaveLength(ACCEPT_FIRST);
  // ...and the accepted ones recorded as sent by the mailer.
  for (const r of acceptedRecipients) {
    await waitFor(`${r} recorded as sent`, async () => {
      const { status } = await first.api.call("getDeliveryStatus", { messageId: messageIds.get(r) ?? "" });
      return status?.state === DeliveryState.DELIVERY_STATE_SENT;
    });
  }
  first.close();
  first.process.kill("SIGKILL");
  expect((await first.process.exited).signal).toBe("SIGKILL");
  for (const release of held.splice(0)) release({ code: 421, message: "Closing" });
  sink.setReply(undefined);

  const second = await startMailer(env);
  await sink.waitForCount(N, 30_000);
  const received = sink.messages().flatMap((m) => m.to);
  expect(new Set(received)).toEqual(new Set(recipients));
  expect(received).toHaveLength(N);
  expect(new Set(sink.messages().map((m) => m.messageId)).size).toBe(N);
  for (const r of recipients) {
    const { status } = await second.api.call("getDeliveryStatus", { messageId: messageIds.get(r) ?? "" });
    expect(status?.state).toBe(DeliveryState.DELIVERY_STATE_SENT);
  }
  second.close();
  await second.process.stop();
  await sink.close();
});
