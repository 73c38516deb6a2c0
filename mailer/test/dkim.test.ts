// DKIM signing, proven the way a receiving server would: the email that reaches a real SMTP
// server carries a DKIM-Signature that mailauth verifies against the public key published
// (here, answered by a stub resolver) for the configured domain and selector, and a message
// changed in transit fails the same check.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogSink, startSmtpSink } from "@emailauth/devkit";
import type { SmtpCatcher } from "@emailauth/devkit/smtp";
import { createLogger, createMetrics, serverCredentials } from "@emailauth/platform";
import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createMailerRuntime, type MailerRuntime } from "../src/runtime.ts";
import { connectMailer, loginEmail, type MailerApi } from "./mailer-api.ts";

const DOMAIN = "auth.example.com";
const SELECTOR = "mail2026";

let sink: SmtpCatcher;
let runtime: MailerRuntime;
let mailer: MailerApi;
let dir: string;
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const published = `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;

// What DNS would answer for <selector>._domainkey.<domain>; nothing else exists.
const resolver = async (name: string, type: string) => {
  if (type === "TXT" && name === `${SELECTOR}._domainkey.${DOMAIN}`) return [[published]];
  throw Object.assign(new Error(`no ${type} record for ${name}`), { code: "ENOTFOUND" });
};

beforeAll(async () => {
  sink = await startSmtpSink();
  dir = mkdtempSync(join(tmpdir(), "dkim-"));
  const keyFile = join(dir, "dkim.pem");
  writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
  runtime = await createMailerRuntime({
    logger: createLogger({ service: "mailer", destination: createLogSink().stream }),
    metrics: createMetrics({ service: "mailer", defaultMetrics: false }),
    credentials: serverCredentials(undefined),
    queue: { kind: "memory" },
    queueKeys: ["dkim-test-queue-key-dkim-test-queue-key-0001"],
    queueOptions: { maxAttempts: 3, retryBaseMs: 100, concurrency: 2, retentionMs: 3_600_000 },
    smtp: {
      kind: "relay",
      url: `smtp://127.0.0.1:${sink.port}?ignoreTLS=true`,
      poolSize: 1,
      dkim: { domainName: DOMAIN, keySelector: SELECTOR, privateKeyFile: keyFile },
    },
    from: `Sign-in <no-reply@${DOMAIN}>`,
    envelopeFrom: `bounces@${DOMAIN}`,
    defaultLocale: "en",
    templatesDir: undefined,
  });
  const { grpcPort } = await runtime.server.listen({ host: "127.0.0.1", grpcPort: 0, httpPort: 0 });
  mailer = await connectMailer(grpcPort);
});

afterAll(async () => {
  mailer?.close();
  await runtime?.close(1_000);
  await sink?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("signs every email with DKIM for the configured domain, verifiable by a receiver", async () => {
  const recipient = `dkim-${randomUUID().slice(0, 8)}@example.com`;
  await mailer.api.call("queueLoginCodeEmail", loginEmail({ recipient, code: "271828" }));
  const mail = await sink.waitForMessage((m) => m.to.includes(recipient));

  const verified = await dkimVerify(mail.raw, { resolver });
  expect(verified.results).toHaveLength(1);
  expect(verified.results[0]).toMatchObject({
    signingDomain: DOMAIN,
    selector: SELECTOR,
    status: { result: "pass" },
  });
  // The signature covers what matters to the person: who it is from, the subject, the body.
  const signed = verified.results[0]?.signingHeaders?.keys.toLowerCase().split(": ") ?? [];
  expect(signed).toEqual(expect.arrayContaining(["from", "subject"]));

  // Changed in transit (the code), the same message no longer verifies.
  const tampered = Buffer.from(mail.raw.toString("latin1").replaceAll("271828", "314159"), "latin1");
  const rejected = await dkimVerify(tampered, { resolver });
  // (mailauth reports a body hash mismatch as "neutral", as RFC 6376 allows; either way, no pass.)
  expect(rejected.results[0]?.status).toMatchObject({
    result: "neutral",
    comment: "body hash did not verify",
  });
});
