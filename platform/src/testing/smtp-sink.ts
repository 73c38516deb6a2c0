import { createSmtpCatcher, type SmtpCatcher, type SmtpCatcherOptions } from "../smtp/catcher.ts";

/** A real SMTP server on a free loopback port that keeps what it receives. */
export async function startSmtpSink(options: SmtpCatcherOptions = {}): Promise<SmtpCatcher> {
  const sink = createSmtpCatcher(options);
  await sink.listen("127.0.0.1", 0);
  return sink;
}
