// An SMTP server that catches every email instead of delivering it (npm `smtp-server`, a real
// SMTP implementation), parsed with `mailparser`: a development inbox, and the tests' SMTP sink
// (tests add scripted replies, 4xx/5xx or a held reply, through `reply`).
import { EventEmitter, once } from "node:events";
import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";

export interface CaughtMessage {
  /** Order of arrival, from 1. */
  readonly seq: number;
  readonly receivedAt: Date;
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: Buffer;
  readonly parsed: ParsedMail;
  /** The Message-ID header, for duplicate checks. */
  readonly messageId: string;
}

export interface SmtpReplyError {
  /** SMTP reply code, e.g. 451 (transient) or 550 (permanent). */
  code: number;
  message: string;
}

export interface Envelope {
  from: string;
  to: string[];
  raw: Buffer;
}

/**
 * Decides how to answer DATA: `undefined` accepts (250); an error refuses; a promise holds the
 * answer until it settles (the message counts only once accepted, as in real SMTP).
 */
export type ReplyHook = (
  envelope: Envelope,
) => SmtpReplyError | undefined | Promise<SmtpReplyError | undefined>;

export interface SmtpCatcherOptions {
  /** How many messages to keep (oldest dropped first). */
  keep?: number;
  reply?: ReplyHook;
  /** Largest message accepted, in bytes. */
  maxBytes?: number;
}

export interface SmtpCatcher {
  listen(host: string, port: number): Promise<number>;
  readonly port: number;
  messages(): readonly CaughtMessage[];
  /** Resolves once `count` messages in all have been accepted. */
  waitForCount(count: number, timeoutMs?: number): Promise<readonly CaughtMessage[]>;
  /** Resolves with the first accepted message (already caught or future) that matches. */
  waitForMessage(match: (m: CaughtMessage) => boolean, timeoutMs?: number): Promise<CaughtMessage>;
  /** Emits "message" (CaughtMessage) and "data-started" (Envelope without raw) events. */
  readonly events: EventEmitter;
  setReply(hook: ReplyHook | undefined): void;
  clear(): void;
  close(): Promise<void>;
}

function smtpError(reply: SmtpReplyError): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

export function createSmtpCatcher(options: SmtpCatcherOptions = {}): SmtpCatcher {
  const keep = options.keep ?? 1000;
  let reply = options.reply;
  let seq = 0;
  let accepted = 0;
  let caught: CaughtMessage[] = [];
  let port = 0;
  const events = new EventEmitter();
  events.setMaxListeners(1000);
  // Sessions whose connection closed: a reply decided after that never reached the client,
  // so the message was not accepted (and the client will send it again).
  const closedSessions = new Set<string>();

  const onData = (
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null) => void,
  ) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      void (async () => {
        if (stream.sizeExceeded) return callback(smtpError({ code: 552, message: "Message too large" }));
        const envelope: Envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        };
        events.emit("data-started", envelope);
        const refusal = reply ? await reply(envelope) : undefined;
        if (refusal) return callback(smtpError(refusal));
        if (closedSessions.has(session.id))
          return callback(smtpError({ code: 421, message: "Connection closed" }));
        const parsed = await simpleParser(envelope.raw);
        const message: CaughtMessage = {
          seq: ++seq,
          receivedAt: new Date(),
          from: envelope.from,
          to: envelope.to,
          raw: envelope.raw,
          parsed,
          messageId: parsed.messageId ?? "",
        };
        caught.push(message);
        if (caught.length > keep) caught = caught.slice(-keep);
        accepted++;
        callback();
        events.emit("message", message);
      })().catch((err: unknown) => callback(err as Error));
    });
  };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    size: options.maxBytes ?? 10 * 1024 * 1024,
    // A catcher on loopback: answer at once, do not look up the client's name.
    disableReverseLookup: true,
    closeTimeout: 1_000,
    onData,
    onClose(session) {
      closedSessions.add(session.id);
      if (closedSessions.size > 10_000) closedSessions.clear();
    },
  });
  server.on("error", () => {});

  const waitUntil = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        events.off("message", onMessage);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const onMessage = () => {
        const value = check();
        if (value !== undefined) {
          clearTimeout(timer);
          events.off("message", onMessage);
          resolve(value);
        }
      };
      events.on("message", onMessage);
    });
  };

  return {
    listen(host, wanted) {
      return new Promise((resolve, reject) => {
        server.server.once("error", reject);
        server.listen(wanted, host, () => {
          port = (server.server.address() as AddressInfo).port;
          resolve(port);
        });
      });
    },
    get port() {
      return port;
    },
    messages: () => caught,
    waitForCount: (count, timeoutMs = 15_000) =>
      waitUntil(() => (accepted >= count ? caught : undefined), timeoutMs, `${count} messages`),
    waitForMessage: (match, timeoutMs = 15_000) =>
      waitUntil(() => caught.find(match), timeoutMs, "a matching message"),
    events,
    setReply(hook) {
      reply = hook;
    },
    clear() {
      caught = [];
    },
    async close() {
      const closed = once(server.server, "close");
      server.close();
      await closed;
    },
  };
}
