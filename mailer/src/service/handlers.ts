// The MailerService RPCs: validate, queue or read the status. The message id is derived from
// the idempotency key, so the same key always names the same email.
import {
  type AsyncHandlers,
  CLIENT_APP_NAME_MAX_LENGTH,
  currentTraceparent,
  EMAIL_MAX_LENGTH,
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENCY_KEY_RULE,
  normalizeEmail,
  parseWebLink,
  SENDER_ADDRESS_PATTERN,
  tracing,
} from "@emailauth/platform";
import {
  type DeliveryState,
  type MailerServiceServer,
  DeliveryState as State,
} from "@emailauth/proto/mailer";
import { z } from "zod";
import { appError } from "../errors.ts";
import { type DeliveryStatusRecord, type MailQueue, messageIdFor } from "../queue/queue.ts";

const NO_CONTROL = /^[^\p{Cc}]*$/u;
const LINK_MAX_LENGTH = 2048;

const queueRequest = z.object({
  idempotencyKey: z.string().regex(IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE),
  recipient: z.string().min(3).max(EMAIL_MAX_LENGTH),
  code: z.union([
    z.literal(""),
    z.string().regex(/^[0-9A-Z]{6,12}$/, "expected 6 to 12 digits or capital letters"),
  ]),
  link: z.union([
    z.literal(""),
    z
      .string()
      .max(LINK_MAX_LENGTH)
      .refine(
        (raw) => "url" in parseWebLink(raw),
        "expected an absolute http(s) URL without credentials or fragment",
      ),
  ]),
  locale: z.union([
    z.literal(""),
    z
      .string()
      .max(35)
      .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, "expected a BCP 47 tag"),
  ]),
  appName: z
    .string()
    .min(1)
    .max(CLIENT_APP_NAME_MAX_LENGTH)
    .regex(NO_CONTROL, "control characters are not allowed"),
  expiresAt: z.date({ error: "required" }),
  senderAddress: z.union([
    z.literal(""),
    z.string().max(EMAIL_MAX_LENGTH).regex(SENDER_ADDRESS_PATTERN, "expected an email address"),
  ]),
});

const statusRequest = z.object({
  messageId: z
    .string()
    .regex(/^msg_[a-z2-7]{26}$/, "expected a message id (msg_ and 26 characters)")
    .optional(),
  idempotencyKey: queueRequest.shape.idempotencyKey.optional(),
});

function parse<T>(schema: z.ZodType<T>, request: unknown): T {
  const result = schema.safeParse(request);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw appError("INVALID_ARGUMENT", {
    message: `${issue?.path.join(".") || "request"}: ${issue?.message ?? "invalid"}`,
  });
}

const STATES: Record<DeliveryStatusRecord["state"], DeliveryState> = {
  queued: State.DELIVERY_STATE_QUEUED,
  sending: State.DELIVERY_STATE_SENDING,
  sent: State.DELIVERY_STATE_SENT,
  retrying: State.DELIVERY_STATE_RETRYING,
  failed: State.DELIVERY_STATE_FAILED,
};

export function createMailerHandlers(deps: {
  queue: MailQueue;
  clock: () => number;
}): Omit<AsyncHandlers<MailerServiceServer>, "queueLoginCodeEmails"> {
  return {
    async queueLoginCodeEmail(req, ctx) {
      const r = parse(queueRequest, req);
      if (r.code === "" && r.link === "")
        throw appError("INVALID_ARGUMENT", { message: "code: a code or a link (or both) is required" });
      const recipient = normalizeEmail(r.recipient);
      if (!recipient.ok) throw appError("EMAIL_INVALID", { message: `recipient: ${recipient.problem}` });
      const now = deps.clock();
      // An expired code is refused by the queue, after it has answered a retry as a duplicate.
      const messageId = messageIdFor(r.idempotencyKey);
      const { duplicate } = await deps.queue.enqueue({
        messageId,
        recipient: recipient.email,
        code: r.code,
        link: r.link,
        locale: r.locale,
        appName: r.appName,
        expiresAt: r.expiresAt.getTime(),
        senderAddress: r.senderAddress,
        queuedAt: now,
        requestId: ctx.requestId,
        ...(tracing().enabled && { traceparent: currentTraceparent() }),
      });
      return { messageId, duplicate };
    },

    async getDeliveryStatus(req) {
      const r = parse(statusRequest, req);
      const messageId =
        r.messageId ?? (r.idempotencyKey !== undefined ? messageIdFor(r.idempotencyKey) : undefined);
      if (!messageId)
        throw appError("INVALID_ARGUMENT", { message: "ref: message_id or idempotency_key is required" });
      const s = await deps.queue.status(messageId);
      if (!s) throw appError("MESSAGE_NOT_FOUND");
      const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));
      return {
        status: {
          messageId: s.messageId,
          state: STATES[s.state],
          attempts: s.attempts,
          nextAttemptAt: date(s.nextAttemptAt),
          queuedAt: date(s.queuedAt),
          updatedAt: date(s.updatedAt),
          sentAt: date(s.sentAt),
          errorClass: s.errorClass,
          smtpCode: s.smtpCode,
        },
      };
    },
  };
}
