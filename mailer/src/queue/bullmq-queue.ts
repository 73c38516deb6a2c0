// The durable mail queue: BullMQ on Redis. A job per email, its id the message id. Jobs survive
// a crash or restart of the mailer; a job whose worker died is taken over once its lock
// expires (BullMQ's stalled-job check). Failed attempts record their class and the time of the
// next attempt in the job's progress, which the status reads.
import type { Sealer } from "@emailauth/platform";
import type { RedisClient } from "@emailauth/platform/redis";
import { type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import {
  assertNotExpired,
  type Deliver,
  DeliveryError,
  type DeliveryState,
  type DeliveryStatusRecord,
  type LoginEmail,
  type MailQueue,
  type QueueObserver,
  type QueueOptions,
  retryDelay,
} from "./queue.ts";

const QUEUE_NAME = "login-emails";

interface JobData {
  messageId: string;
  /** Recipient, code and link, sealed (see sealed-payload.ts). */
  sealed: string;
  locale: string;
  appName: string;
  expiresAt: number;
  senderAddress: string;
  queuedAt: number;
  requestId: string;
  traceparent?: string | undefined;
}

interface Progress {
  errorClass?: string;
  smtpCode?: number;
  nextAttemptAt?: number;
  at?: number;
}

export interface BullmqQueueDeps {
  /** A connection made with `forQueue: true` (BullMQ needs maxRetriesPerRequest: null). */
  connection: RedisClient;
  /** Key prefix; must contain a hash tag (e.g. "ea:{mail}") so that Redis Cluster keeps the queue in one slot. */
  prefix: string;
  sealer: Sealer;
  options: QueueOptions;
  /** How long a worker holds a job before others may take it over (crash recovery time). */
  lockDurationMs: number;
  observer: QueueObserver;
}

export function createBullmqQueue(deps: BullmqQueueDeps): MailQueue {
  const { options } = deps;
  const queue = new Queue<JobData>(QUEUE_NAME, { connection: deps.connection, prefix: deps.prefix });
  // Connection errors are logged (once, scrubbed) by the Redis client itself. Without a listener
  // BullMQ would print each one raw to stderr, and its operations still reject for the callers.
  queue.on("error", () => {});
  let worker: Worker<JobData> | undefined;
  const retentionSeconds = Math.ceil(options.retentionMs / 1000);

  return {
    durable: true,

    async enqueue(email: LoginEmail) {
      // BullMQ ignores a job whose id exists, but does not say so: ask. Two concurrent calls
      // may both answer "new"; the job id still makes sure only one email exists.
      const exists = () => deps.connection.exists(queue.toKey(email.messageId)).then((n) => n === 1);
      if (email.expiresAt <= email.queuedAt) {
        // A retry of an email queued in time is still answered as what it was.
        if (await exists()) return { duplicate: true };
        assertNotExpired(email);
      }
      // The question and the add in one round trip (auto-pipelined): an add of a job that
      // already exists changes nothing, and the answer to the question tells which it was.
      const data: JobData = {
        messageId: email.messageId,
        sealed: deps.sealer.seal(
          JSON.stringify({ recipient: email.recipient, code: email.code, link: email.link }),
        ),
        locale: email.locale,
        appName: email.appName,
        expiresAt: email.expiresAt,
        senderAddress: email.senderAddress,
        queuedAt: email.queuedAt,
        requestId: email.requestId,
        ...(email.traceparent && { traceparent: email.traceparent }),
      };
      const [existed] = await Promise.all([
        exists(),
        queue.add("login-code", data, {
          jobId: email.messageId,
          timestamp: email.queuedAt,
          attempts: options.maxAttempts,
          backoff: { type: "deterministic-jitter" },
          removeOnComplete: { age: retentionSeconds },
          removeOnFail: { age: retentionSeconds },
        }),
      ]);
      return { duplicate: existed };
    },

    async stats() {
      const counts = await queue.getJobCounts("waiting", "prioritized", "delayed", "active");
      // New jobs are pushed on the left of the wait list and taken from the right: the oldest
      // waiting one is the last.
      const [oldest] = await queue.getJobs(["waiting"], -1, -1);
      return {
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
        delayed: counts.delayed ?? 0,
        active: counts.active ?? 0,
        oldestWaitingAgeMs: oldest ? Math.max(0, Date.now() - oldest.timestamp) : 0,
      };
    },

    async status(messageId) {
      const job = (await queue.getJob(messageId)) as Job<JobData> | undefined;
      if (!job) return undefined;
      const state = await job.getState();
      const progress = (typeof job.progress === "object" ? job.progress : {}) as Progress;
      const attempts = job.attemptsStarted ?? job.attemptsMade;
      const mapped: Record<string, DeliveryState> = {
        completed: "sent",
        failed: "failed",
        active: "sending",
        delayed: "retrying",
      };
      const current = mapped[state] ?? (job.attemptsMade > 0 ? "retrying" : "queued");
      const record: DeliveryStatusRecord = {
        messageId,
        state: current,
        attempts,
        nextAttemptAt: current === "retrying" ? progress.nextAttemptAt : undefined,
        queuedAt: job.data.queuedAt,
        updatedAt: Math.max(job.timestamp, job.processedOn ?? 0, job.finishedOn ?? 0, progress.at ?? 0),
        sentAt: current === "sent" ? job.finishedOn : undefined,
        errorClass: current === "sent" ? "" : (progress.errorClass ?? ""),
        smtpCode: current === "sent" ? 0 : (progress.smtpCode ?? 0),
      };
      return record;
    },

    start(deliver: Deliver) {
      worker = new Worker<JobData>(
        QUEUE_NAME,
        async (job) => {
          const d = job.data;
          const attempt = job.attemptsMade + 1;
          try {
            const { recipient, code, link } = JSON.parse(deps.sealer.open(d.sealed)) as {
              recipient: string;
              code: string;
              /** Absent in jobs queued before links existed. */
              link?: string;
            };
            await deliver(
              {
                messageId: d.messageId,
                recipient,
                code,
                link: link ?? "",
                locale: d.locale,
                appName: d.appName,
                expiresAt: d.expiresAt,
                senderAddress: d.senderAddress,
                queuedAt: d.queuedAt,
                requestId: d.requestId ?? "",
                traceparent: d.traceparent,
              },
              attempt,
            );
          } catch (err) {
            const failure =
              err instanceof DeliveryError
                ? err
                : new DeliveryError("INTERNAL", { permanent: false, cause: err });
            const final = failure.permanent || attempt >= options.maxAttempts;
            const now = Date.now();
            const progress: Progress = {
              errorClass: failure.errorClass,
              smtpCode: failure.smtpCode,
              at: now,
              ...(!final && { nextAttemptAt: now + retryDelay(d.messageId, attempt, options.retryBaseMs) }),
            };
            await job.updateProgress(progress as object);
            deps.observer.failed(
              { messageId: d.messageId, requestId: d.requestId ?? "" },
              failure.errorClass,
              attempt,
              final,
            );
            // The job's failedReason is the class only: no address, no code.
            if (failure.permanent) throw new UnrecoverableError(failure.errorClass);
            throw new Error(failure.errorClass);
          }
          deps.observer.sent({ messageId: d.messageId, requestId: d.requestId ?? "" }, attempt);
        },
        {
          connection: deps.connection,
          prefix: deps.prefix,
          concurrency: options.concurrency,
          lockDuration: deps.lockDurationMs,
          // Look for jobs of dead workers as often as their locks can expire.
          stalledInterval: Math.min(deps.lockDurationMs, 30_000),
          // A job held by a crashed worker is retried rather than failed: crashes are not the
          // email's fault.
          maxStalledCount: 10,
          settings: {
            backoffStrategy: (
              attemptsMade: number,
              _type: string | undefined,
              _err: Error | undefined,
              job,
            ) => retryDelay((job as Job<JobData>).data.messageId, attemptsMade, options.retryBaseMs),
          },
        },
      );
      worker.on("error", () => {}); // as for the queue
    },

    async close(graceMs) {
      // BullMQ's graceful close waits for the active jobs and then for Redis commands; with
      // Redis gone those are never answered (the queue connection retries forever, by design),
      // so a stop would hang until the process is killed. Bounded: past the grace, or at once
      // when Redis is not connected, the worker closes without waiting.
      const graceful = deps.connection.status === "ready";
      const closed = (async () => {
        await worker?.close(!graceful);
        await queue.close();
      })().then(
        () => true,
        () => true,
      );
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), graceful ? graceMs : 0);
      });
      const done = await Promise.race([closed, bound]);
      clearTimeout(timer);
      if (!done) {
        void worker?.close(true).catch(() => {});
        // Their own connections (the worker's blocking one) are dropped, not quit politely.
        await Promise.race([
          Promise.allSettled([worker?.disconnect(), queue.disconnect()]),
          new Promise((resolve) => setTimeout(resolve, 200)),
        ]);
      }
    },
  };
}
