// The benchmark's SMTP sink, a process of its own so that its CPU is counted apart: a real
// SMTP server (smtp-server) that accepts every email, remembers each recipient's code (read
// from the Subject line, without parsing the whole MIME message) and reports over HTTP:
//   GET /stats  {"count": n, "firstAt": ms, "lastAt": ms}
//   GET /codes  [["email", "code"], ...]
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

const codes = new Map<string, string>();
let count = 0;
let firstAt = 0;
let lastAt = 0;

const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS"],
  logger: false,
  disableReverseLookup: true,
  onData(stream, session, callback) {
    let head = "";
    stream.on("data", (chunk: Buffer) => {
      if (head.length < 4096) head += chunk.toString("latin1");
    });
    stream.on("end", () => {
      const code = /^Subject: (\w+) /m.exec(head)?.[1];
      const to = session.envelope.rcptTo[0]?.address;
      if (code && to) codes.set(to, code);
      count++;
      lastAt = Date.now();
      firstAt ||= lastAt;
      callback();
    });
  },
});
smtp.on("error", () => {});

const http = createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  if (req.url === "/stats") res.end(JSON.stringify({ count, firstAt, lastAt }));
  else if (req.url === "/codes") res.end(JSON.stringify([...codes]));
  else res.writeHead(404).end("{}");
});

smtp.listen(0, "127.0.0.1", () => {
  http.listen(0, "127.0.0.1", () => {
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    const httpPort = (http.address() as AddressInfo).port;
    process.stdout.write(`${JSON.stringify({ msg: "listening", smtpPort, httpPort })}\n`);
  });
});
