// @emailauth/platform/smtp: the SMTP catcher (the development inbox, the tests' sink). Apart
// from the main entry so that services that send no email do not load an SMTP server.
export {
  type CaughtMessage,
  createSmtpCatcher,
  type Envelope,
  type ReplyHook,
  type SmtpCatcher,
  type SmtpCatcherOptions,
  type SmtpReplyError,
} from "./catcher.ts";
