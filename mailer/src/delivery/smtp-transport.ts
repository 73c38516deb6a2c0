// The SMTP side: one pooled nodemailer transport for the process.
//   SMTP_URL  smtp://user:pass@host:587 (STARTTLS when the server offers it; add
//             ?requireTLS=true to insist), smtps://user:pass@host:465 (implicit TLS)
// nodemailer's own logger stays off: it writes addresses and message text into its lines.
import { readFileSync } from "node:fs";
import nodemailer, { type Transporter } from "nodemailer";

export interface DkimOptions {
  domainName: string;
  keySelector: string;
  privateKeyFile: string;
}

export interface SmtpOptions {
  url: string;
  poolSize: number;
  dkim: DkimOptions | undefined;
}

export function createSmtpTransport(options: SmtpOptions): Transporter {
  return nodemailer.createTransport({
    pool: true,
    url: options.url,
    maxConnections: options.poolSize,
    maxMessages: 1000,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    logger: false,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
    ...(options.dkim && {
      dkim: {
        domainName: options.dkim.domainName,
        keySelector: options.dkim.keySelector,
        privateKey: readFileSync(options.dkim.privateKeyFile, "utf8"),
      },
    }),
  });
}
