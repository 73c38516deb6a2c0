// Delivers one login-code email: render it in the person's language, send it, and turn any
// failure into a DeliveryError that says whether trying again can help.
//   SMTP 4xx, connection errors, timeouts, authentication -> transient: retried
//   SMTP 5xx, a refused envelope, an expired code           -> permanent: failed at once
import { endSpan, SpanKind, tracing } from "@emailauth/platform";
import type { Transporter } from "nodemailer";
import MailComposer from "nodemailer/lib/mail-composer/index.js";
import { type Deliver, DeliveryError, type LoginEmail } from "../queue/queue.ts";
import type { Templates } from "../templates/templates.ts";

export interface DeliverDeps {
  transport: Transporter;
  templates: Templates;
  /** Default From, e.g. `Sign-in <no-reply@example.com>`. */
  from: string;
  /** Envelope sender (Return-Path) when it must differ from From. */
  envelopeFrom: string | undefined;
  /** Domain of Message-ID headers. */
  messageIdDomain: string;
  clock?: () => number;
}

const TRANSIENT_CODES: Record<string, string> = {
  ECONNECTION: "CONNECTION",
  ESOCKET: "CONNECTION",
  EDNS: "CONNECTION",
  ECONNREFUSED: "CONNECTION",
  ECONNRESET: "CONNECTION",
  ETIMEDOUT: "TIMEOUT",
  EAUTH: "AUTH",
  ETLS: "CONNECTION",
};

export function classify(err: unknown): DeliveryError {
  const e = err as { code?: string; responseCode?: number };
  const smtpCode = typeof e.responseCode === "number" ? e.responseCode : 0;
  if (e.code === "EAUTH") return new DeliveryError("AUTH", { smtpCode, permanent: false, cause: err });
  if (smtpCode >= 500) return new DeliveryError("SMTP_PERMANENT", { smtpCode, permanent: true, cause: err });
  if (smtpCode >= 400) return new DeliveryError("SMTP_TRANSIENT", { smtpCode, permanent: false, cause: err });
  const transient = e.code ? TRANSIENT_CODES[e.code] : undefined;
  if (transient) return new DeliveryError(transient, { permanent: false, cause: err });
  if (e.code === "EENVELOPE") return new DeliveryError("ENVELOPE", { permanent: true, cause: err });
  return new DeliveryError("INTERNAL", { permanent: false, cause: err });
}

/** The address in "Name <address>", an address, or {name, address}. */
function addressOf(from: string | { address: string }): string {
  if (typeof from !== "string") return from.address;
  return /<([^>]+)>\s*$/.exec(from)?.[1] ?? from.trim();
}

export function createDeliver(deps: DeliverDeps): Deliver {
  const clock = deps.clock ?? Date.now;
  return async (email: LoginEmail) => {
    const now = clock();
    if (now >= email.expiresAt) {
      // Sending a code that no longer works would only confuse: record it as failed.
      throw new DeliveryError("CODE_EXPIRED", { permanent: true });
    }
    const rendered = deps.templates.render(email.locale, {
      appName: email.appName,
      code: email.code,
      link: email.link,
      minutes: Math.max(1, Math.ceil((email.expiresAt - now) / 60_000)),
    });
    const from = email.senderAddress ? { name: email.appName, address: email.senderAddress } : deps.from;
    // The message is built in memory and handed over whole: streamed, nodemailer writes it to
    // the socket in many small pieces, one system call each (most of the cost of an email).
    const raw = await new MailComposer({
      from,
      to: email.recipient,
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      // Derived from the idempotency key: a resend after a crash carries the same id, so mail
      // systems that dedupe by Message-ID show the person one email.
      messageId: `<${email.messageId}@${deps.messageIdDomain}>`,
      headers: {
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
        "Content-Language": rendered.locale,
      },
      disableFileAccess: true,
      disableUrlAccess: true,
    })
      .compile()
      .build();
    const span = tracing().enabled
      ? tracing().tracer.startSpan("smtp send", {
          kind: SpanKind.CLIENT,
          attributes: { "network.protocol.name": "smtp" },
        })
      : undefined;
    try {
      await deps.transport.sendMail({
        envelope: { from: deps.envelopeFrom ?? addressOf(from), to: email.recipient },
        raw,
      });
      if (span) endSpan(span, { code: "ok" });
    } catch (err) {
      const failure = classify(err);
      if (span) endSpan(span, { code: "error", reason: failure.errorClass });
      throw failure;
    }
  };
}
