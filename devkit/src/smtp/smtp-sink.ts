import { createSmtpCatcher, type SmtpCatcher, type SmtpCatcherOptions } from "./catcher.ts";

/** A real SMTP server on loopback (a free port unless one is given) that keeps what it receives. */
export async function startSmtpSink(options: SmtpCatcherOptions = {}, port = 0): Promise<SmtpCatcher> {
  const sink = createSmtpCatcher(options);
  await sink.listen("127.0.0.1", port);
  return sink;
}
