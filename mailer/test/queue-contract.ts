// The mail queue contract: one suite of behaviours run against the in-process queue and
// BullMQ on a real redis-server. The sending side is scripted here (delivery over real SMTP is
// tested in delivery.smtp.test.ts and service.test.ts); this suite is about the queue: once and
// only once per message id, retries with backoff, permanent failures, statuses.
import { randomUUID } from "node:crypto";
import { waitFor } from "@emailauth/devkit";
import { afterEach, describe, expect, it } from "vitest";
import {
  type Deliver,
  DeliveryError,
  type LoginEmail,
  type MailQueue,
  messageIdFor,
  type QueueObserver,
  type QueueOptions,
} from "../src/queue/queue.ts";

export type QueueFactory = (options: QueueOptions, observer: QueueObserver) => Promise<MailQueue>;

const OPTIONS: QueueOptions = { maxAttempts: 4, retryBaseMs: 50, concurrency: 4, retentionMs: 60_000 };
const quiet: QueueObserver = { sent() {}, failed() {} };

function email(): LoginEmail {
  const now = Date.now();
  return {
    messageId: messageIdFor(`key-${randomUUID()}`),
    recipient: "jane@example.com",
    code: "123456",
    link: "",
    locale: "en",
    appName: "Shop",
    expiresAt: now + 600_000,
    senderAddress: "",
    queuedAt: now,
    requestId: "req-1",
  };
}

export function describeQueueContract(name: string, make: QueueFactory): void {
  describe(`mail queue contract: ${name}`, () => {
    const open: MailQueue[] = [];
    const queueWith = async (options: Partial<QueueOptions> = {}, observer = quiet) => {
      const q = await make({ ...OPTIONS, ...options }, observer);
      open.push(q);
      return q;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((q) => q.close(1_000)));
    });

    it("stops within its grace although a delivery never ends, and keeps that email queued", async () => {
      const q = await make(OPTIONS, quiet);
      let started: (() => void) | undefined;
      const delivering = new Promise<void>((resolve) => {
        started = resolve;
      });
      q.start(() => {
        started?.();
        return new Promise<void>(() => {}); // a relay that never answers
      });
      const e = email();
      await q.enqueue(e);
      await delivering;
      // Resolves: the test's own timeout is what would catch a hang.
      await q.close(100);
      if (q.durable) {
        const again = await make(OPTIONS, quiet);
        open.push(again);
        expect((await again.status(e.messageId))?.state).not.toBe("sent");
      }
    });

    it("delivers a queued email once and reports it sent", async () => {
      const q = await queueWith();
      const delivered: LoginEmail[] = [];
      q.start(async (e) => {
        delivered.push(e);
      });
      const e = email();
      expect(await q.enqueue(e)).toEqual({ duplicate: false });
      const status = await waitFor("the email to be sent", async () => {
        const s = await q.status(e.messageId);
        return s?.state === "sent" ? s : undefined;
      });
      expect(status).toMatchObject({ messageId: e.messageId, attempts: 1, errorClass: "", smtpCode: 0 });
      expect(status.sentAt).toBeGreaterThanOrEqual(e.queuedAt);
      expect(delivered).toEqual([e]);
    });

    it("keeps what it was given: the recipient and code arrive as queued", async () => {
      const q = await queueWith();
      let got: LoginEmail | undefined;
      q.start(async (e) => {
        got = e;
      });
      const e = {
        ...email(),
        recipient: "josé@example.com",
        code: "ABCD1234",
        locale: "es-MX",
        senderAddress: "a@b.co",
      };
      await q.enqueue(e);
      await waitFor("delivery", () => got);
      expect(got).toEqual(e);
    });

    it("answers a retry after its code expired as a duplicate, and refuses a new expired one", async () => {
      const q = await queueWith();
      q.start(async () => {});
      const e = email();
      await q.enqueue(e);
      const later = { ...e, queuedAt: e.expiresAt + 1 };
      expect(await q.enqueue(later)).toEqual({ duplicate: true });
      const fresh = email();
      const expired = { ...fresh, queuedAt: fresh.expiresAt + 1 };
      await expect(q.enqueue(expired)).rejects.toThrow("already expired");
      expect(await q.status(expired.messageId)).toBeUndefined();
    });

    it("sends one email for a message id queued twice, and says the second was a duplicate", async () => {
      const q = await queueWith();
      let sends = 0;
      q.start(async () => {
        sends++;
      });
      const e = email();
      expect(await q.enqueue(e)).toEqual({ duplicate: false });
      await waitFor("the first delivery", async () => (await q.status(e.messageId))?.state === "sent");
      expect(await q.enqueue({ ...e, code: "999999" })).toEqual({ duplicate: true });
      expect(await q.enqueue(e)).toEqual({ duplicate: true });
      const concurrent = email();
      await Promise.all([q.enqueue(concurrent), q.enqueue(concurrent), q.enqueue(concurrent)]);
      await waitFor(
        "the concurrent one",
        async () => (await q.status(concurrent.messageId))?.state === "sent",
      );
      expect(sends).toBe(2);
    });

    it("retries transient failures with growing waits, then delivers", async () => {
      const failures: { attempt: number; final: boolean }[] = [];
      const q = await queueWith(
        {},
        { sent() {}, failed: (_email, _c, attempt, final) => failures.push({ attempt, final }) },
      );
      const attemptsAt: number[] = [];
      q.start(async (_e, attempt) => {
        attemptsAt.push(Date.now());
        if (attempt < 3) throw new DeliveryError("SMTP_TRANSIENT", { smtpCode: 451, permanent: false });
      });
      const e = email();
      await q.enqueue(e);
      const retrying = await waitFor("a retry to be scheduled", async () => {
        const s = await q.status(e.messageId);
        return s?.state === "retrying" ? s : undefined;
      });
      expect(retrying).toMatchObject({ errorClass: "SMTP_TRANSIENT", smtpCode: 451 });
      expect(retrying.nextAttemptAt).toBeGreaterThan(retrying.updatedAt - 1);
      const sent = await waitFor("the email to be sent", async () => {
        const s = await q.status(e.messageId);
        return s?.state === "sent" ? s : undefined;
      });
      expect(sent).toMatchObject({ attempts: 3, errorClass: "", smtpCode: 0 });
      expect(failures).toEqual([
        { attempt: 1, final: false },
        { attempt: 2, final: false },
      ]);
      const [a1 = 0, a2 = 0, a3 = 0] = attemptsAt;
      // Base 50 ms with equal jitter: at least 25 ms, then at least 50 ms.
      expect(a2 - a1).toBeGreaterThanOrEqual(25);
      expect(a3 - a2).toBeGreaterThanOrEqual(50);
    });

    it("does not retry a permanent failure, and records it", async () => {
      const q = await queueWith();
      let attempts = 0;
      q.start(async () => {
        attempts++;
        throw new DeliveryError("SMTP_PERMANENT", { smtpCode: 550, permanent: true });
      });
      const e = email();
      await q.enqueue(e);
      const failed = await waitFor("the failure to be recorded", async () => {
        const s = await q.status(e.messageId);
        return s?.state === "failed" ? s : undefined;
      });
      expect(failed).toMatchObject({ attempts: 1, errorClass: "SMTP_PERMANENT", smtpCode: 550 });
      expect(failed.nextAttemptAt).toBeUndefined();
      expect(attempts).toBe(1);
    });

    it("fails an email whose attempts run out, with the last error's class", async () => {
      const q = await queueWith({ maxAttempts: 3, retryBaseMs: 10 });
      q.start(async () => {
        throw new DeliveryError("CONNECTION", { permanent: false });
      });
      const e = email();
      await q.enqueue(e);
      const failed = await waitFor("the attempts to run out", async () => {
        const s = await q.status(e.messageId);
        return s?.state === "failed" ? s : undefined;
      });
      expect(failed).toMatchObject({ attempts: 3, errorClass: "CONNECTION" });
    });

    it("sends several emails at once, up to the concurrency", async () => {
      const q = await queueWith({ concurrency: 3 });
      let inFlight = 0;
      let peak = 0;
      const releases: (() => void)[] = [];
      const deliver: Deliver = () =>
        new Promise<void>((resolve) => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          releases.push(() => {
            inFlight--;
            resolve();
          });
        });
      q.start(deliver);
      const emails = Array.from({ length: 6 }, email);
      for (const e of emails) await q.enqueue(e);
      await waitFor("three sends in flight", () => inFlight === 3);
      for (let released = 0; released < emails.length; released++) {
        await waitFor("a send to release", () => releases.length > 0);
        releases.shift()?.();
      }
      for (const e of emails) {
        await waitFor("every email sent", async () => (await q.status(e.messageId))?.state === "sent");
      }
      expect(peak).toBe(3);
    });

    it("knows nothing of a message it never queued", async () => {
      const q = await queueWith();
      expect(await q.status(messageIdFor("never"))).toBeUndefined();
    });
  });
}
