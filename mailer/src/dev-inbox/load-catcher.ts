// The development inbox's SMTP server is devkit's catcher, a development dependency: loaded on
// demand, only when there is no relay (development mode only), so that a production install
// (`npm ci --omit=dev`, the image) neither carries nor needs it, nor its SMTP server and MIME
// parser (4 MB less resident memory, measured at start-up).
import type { SmtpCatcher, SmtpCatcherOptions } from "@emailauth/devkit/smtp";

export async function loadSmtpCatcher(options: SmtpCatcherOptions): Promise<SmtpCatcher> {
  try {
    const { createSmtpCatcher } = await import("@emailauth/devkit/smtp");
    return createSmtpCatcher(options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw err;
    throw new Error(
      "the development inbox needs the development dependencies (npm ci without --omit=dev); set SMTP_URL to send through a relay instead",
      { cause: err },
    );
  }
}
