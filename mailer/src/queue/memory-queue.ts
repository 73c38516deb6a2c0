// The in-process mail queue: the embedded default for a first run (no Redis). Same rules as
// the durable queue — concurrency, retries with the same backoff, idempotent message ids,
// statuses — but everything queued is lost if the process stops.
import {
  assertNotExpired,
  type Deliver,
  DeliveryError,
  type DeliveryStatusRecord,
  type LoginEmail,
  type MailQueue,
  type QueueObserver,
  type QueueOptions,
  retryDelay,
} from "./queue.ts";

/** Only ids go to the observer: never the recipient or the code. */
const idsOf = (e: LoginEmail) => ({ messageId: e.messageId, requestId: e.requestId });

interface Entry {
  email: LoginEmail;
  status: DeliveryStatusRecord;
  timer: NodeJS.Timeout | undefined;
}

export function createMemoryQueue(deps: { options: QueueOptions; observer: QueueObserver }): MailQueue {
  const { options } = deps;
  const entries = new Map<string, Entry>();
  const ready: string[] = [];
  const active = new Set<Promise<void>>();
  let deliver: Deliver | undefined;
  let closed = false;

  const forgetLater = (id: string) => {
    setTimeout(() => entries.delete(id), options.retentionMs).unref();
  };

  const runOne = async (entry: Entry) => {
    const s = entry.status;
    s.attempts += 1;
    s.state = "sending";
    s.updatedAt = Date.now();
    try {
      await (deliver as Deliver)(entry.email, s.attempts);
      s.state = "sent";
      s.sentAt = s.updatedAt = Date.now();
      s.errorClass = "";
      s.smtpCode = 0;
      s.nextAttemptAt = undefined;
      deps.observer.sent(idsOf(entry.email), s.attempts);
      forgetLater(s.messageId);
    } catch (err) {
      const failure =
        err instanceof DeliveryError ? err : new DeliveryError("INTERNAL", { permanent: false, cause: err });
      const final = failure.permanent || s.attempts >= options.maxAttempts;
      s.errorClass = failure.errorClass;
      s.smtpCode = failure.smtpCode;
      s.updatedAt = Date.now();
      deps.observer.failed(idsOf(entry.email), failure.errorClass, s.attempts, final);
      if (final) {
        s.state = "failed";
        s.nextAttemptAt = undefined;
        forgetLater(s.messageId);
      } else {
        const wait = retryDelay(s.messageId, s.attempts, options.retryBaseMs);
        s.state = "retrying";
        const due = s.updatedAt + wait;
        s.nextAttemptAt = due;
        // Node's timers count from the event loop's cached clock and may fire a millisecond
        // or two before `due` by Date.now(): the retry waits out what was promised.
        const retryWhenDue = () => {
          const left = due - Date.now();
          if (left > 0) {
            entry.timer = setTimeout(retryWhenDue, left);
            return;
          }
          entry.timer = undefined;
          ready.push(s.messageId);
          pump();
        };
        entry.timer = setTimeout(retryWhenDue, wait);
      }
    }
  };

  const pump = () => {
    while (!closed && deliver && active.size < options.concurrency && ready.length > 0) {
      const entry = entries.get(ready.shift() as string);
      if (!entry) continue;
      const run = runOne(entry).finally(() => {
        active.delete(run);
        pump();
      });
      active.add(run);
    }
  };

  return {
    durable: false,

    async enqueue(email) {
      if (entries.has(email.messageId)) return { duplicate: true };
      assertNotExpired(email);
      entries.set(email.messageId, {
        email,
        timer: undefined,
        status: {
          messageId: email.messageId,
          state: "queued",
          attempts: 0,
          nextAttemptAt: undefined,
          queuedAt: email.queuedAt,
          updatedAt: email.queuedAt,
          sentAt: undefined,
          errorClass: "",
          smtpCode: 0,
        },
      });
      ready.push(email.messageId);
      pump();
      return { duplicate: false };
    },

    async status(messageId) {
      const entry = entries.get(messageId);
      return entry ? { ...entry.status } : undefined;
    },

    async stats() {
      let delayed = 0;
      for (const e of entries.values()) if (e.timer) delayed++;
      const oldest = ready.length > 0 ? entries.get(ready[0] as string) : undefined;
      return {
        waiting: ready.length,
        delayed,
        active: active.size,
        oldestWaitingAgeMs: oldest ? Math.max(0, Date.now() - oldest.status.updatedAt) : 0,
      };
    },

    start(d) {
      deliver = d;
      pump();
    },

    async close(graceMs) {
      closed = true;
      for (const entry of entries.values()) clearTimeout(entry.timer);
      // A relay that never answers must not hold the stop past its grace.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(active),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
