// The mail queue contract. Two implementations: BullMQ on Redis (durable: survives a crash or
// restart of the mailer; jobs of a dead worker are taken over), and memory (the embedded
// default, not durable). One contract test suite runs against both.
//
// Delivery is at-least-once: an email is retried until it is sent, fails for good, or runs
// out of attempts, and its status says which. The idempotency key makes the message id, and
// the message id is the job id: queueing the same key again adds nothing.
import { createHash } from "node:crypto";
import { appError } from "../errors.ts";

export interface LoginEmail {
  messageId: string;
  recipient: string;
  /** "" when the email carries a link only. */
  code: string;
  /** The magic link with its one-time token; "" without links. A secret, like the code. */
  link: string;
  locale: string;
  appName: string;
  expiresAt: number;
  senderAddress: string;
  queuedAt: number;
  /** The request that queued it (the gateway's request id), for the delivery's log lines. */
  requestId: string;
  /** The trace context of that request (W3C traceparent), when tracing is on: the delivery's span links to it. */
  traceparent?: string | undefined;
}

export type DeliveryState = "queued" | "sending" | "sent" | "retrying" | "failed";

export interface DeliveryStatusRecord {
  messageId: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number | undefined;
  queuedAt: number;
  updatedAt: number;
  sentAt: number | undefined;
  errorClass: string;
  smtpCode: number;
}

/** A failed attempt: what class of failure, and whether trying again can help. */
export class DeliveryError extends Error {
  readonly errorClass: string;
  readonly smtpCode: number;
  readonly permanent: boolean;
  constructor(errorClass: string, options: { smtpCode?: number; permanent: boolean; cause?: unknown }) {
    super(errorClass, { cause: options.cause });
    this.name = "DeliveryError";
    this.errorClass = errorClass;
    this.smtpCode = options.smtpCode ?? 0;
    this.permanent = options.permanent;
  }
}

/** Sends one email; throws DeliveryError on failure. */
export type Deliver = (email: LoginEmail, attempt: number) => Promise<void>;

export interface QueueOptions {
  maxAttempts: number;
  retryBaseMs: number;
  concurrency: number;
  /** How long finished messages (and so their status and idempotency) are kept. */
  retentionMs: number;
}

/** Told of every outcome, for logs and metrics (message ids and classes only). */
export interface QueueObserver {
  sent(email: { messageId: string; requestId: string }, attempts: number): void;
  failed(
    email: { messageId: string; requestId: string },
    errorClass: string,
    attempt: number,
    final: boolean,
  ): void;
}

export interface QueueStats {
  /** Ready to send, not yet taken by a worker. */
  waiting: number;
  /** Waiting for a retry's backoff to pass. */
  delayed: number;
  /** Being sent now. */
  active: number;
  /** Since when the oldest waiting email has waited (ms), 0 when none waits. */
  oldestWaitingAgeMs: number;
}

export interface MailQueue {
  readonly durable: boolean;
  /**
   * Stores the email for delivery; `duplicate` when its message id was queued before, whatever
   * the email says (a retry of a queue call is answered even once its code has expired). A new
   * email whose code has expired is refused: INVALID_ARGUMENT.
   */
  enqueue(email: LoginEmail): Promise<{ duplicate: boolean }>;
  status(messageId: string): Promise<DeliveryStatusRecord | undefined>;
  /** How much is waiting, for the metrics operators alert on. */
  stats(): Promise<QueueStats>;
  /** Starts delivering with `deliver`. */
  start(deliver: Deliver): void;
  /**
   * Stops taking new messages and waits up to `graceMs` for those being sent. With the store
   * gone, or past the grace, it stops without waiting: an email whose sending was cut short is
   * still queued (its lock expires and a mailer sends it), so nothing is lost.
   */
  close(graceMs: number): Promise<void>;
}

/** Refuses a new email whose code has already expired (checked after the duplicate check). */
export function assertNotExpired(email: LoginEmail): void {
  if (email.expiresAt <= email.queuedAt) {
    throw appError("INVALID_ARGUMENT", { message: "expires_at: the code has already expired" });
  }
}

export function messageIdFor(idempotencyKey: string): string {
  const digest = createHash("sha256").update(idempotencyKey).digest();
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let out = "";
  for (let i = 0; i < 26; i++) out += alphabet[(digest[i] ?? 0) & 31];
  return `msg_${out}`;
}

/**
 * The wait before attempt `attempt + 1`, after `attempt` failed: exponential from the base,
 * with "equal jitter" (half fixed, half random) so that retries of many messages spread out.
 * The random half is derived from the message id, so anyone can compute the same wait.
 */
export function retryDelay(messageId: string, attempt: number, baseMs: number): number {
  const full = Math.min(baseMs * 2 ** (attempt - 1), 60 * 60_000);
  const h = createHash("sha256").update(`${messageId}:${attempt}`).digest().readUInt32BE(0) / 0x1_0000_0000;
  return Math.round(full / 2 + (full / 2) * h);
}
