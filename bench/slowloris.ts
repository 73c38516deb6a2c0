// Slow clients for the benchmark's slowloris phase, in their own process: a third send their
// headers one byte at a time, a third their body, a third an HTTP/2 stream's body. Each is
// timed until the gateway closes it (or resets its stream). Runs until every one is closed,
// then prints one JSON line: how many were closed, by how, and how long they lasted.
//
//   node bench/slowloris.ts <gateway url> <api key> <clients> <byte every ms>
import { connect as connectH2 } from "node:http2";
import { connect } from "node:net";

const [url = "", apiKey = "", clientsArg = "200", everyArg = "200"] = process.argv.slice(2);
const clients = Number(clientsArg);
const every = Number(everyArg);
const { hostname: host, port } = new URL(url);
const path = "/emailauth.auth.v1.AuthService/StartLogin";

function trickleTcp(preamble: string, slow: string): Promise<{ how: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    let received = "";
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on("connect", () => {
      socket.write(preamble);
      timer = setInterval(() => {
        if (i < slow.length && !socket.destroyed) socket.write(slow[i++] as string);
      }, every);
    });
    socket.on("data", (c: Buffer) => {
      received += c.toString("latin1");
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearInterval(timer);
      resolve({ how: /^HTTP\/1\.1 (\d+)/.exec(received)?.[1] ?? "closed", ms: performance.now() - started });
    });
  });
}

function trickleH2(): Promise<{ how: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const session = connectH2(url);
    session.on("error", () => undefined);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      te: "trailers",
      authorization: `Bearer ${apiKey}`,
    });
    stream.on("error", () => undefined);
    stream.resume();
    stream.write(Buffer.from([0, 0, 0, 0x03, 0xe8]));
    const timer = setInterval(() => {
      if (!stream.destroyed) stream.write(Buffer.from([0x0a]));
    }, every);
    stream.on("close", () => {
      clearInterval(timer);
      resolve({ how: `h2-rst-${stream.rstCode}`, ms: performance.now() - started });
      session.destroy();
    });
  });
}

const third = Math.ceil(clients / 3);
const results = await Promise.all([
  ...Array.from({ length: third }, () =>
    trickleTcp("", `POST ${path} HTTP/1.1\r\nHost: x\r\nX-Padding: ${"a".repeat(4000)}\r\n\r\n`),
  ),
  ...Array.from({ length: third }, () =>
    trickleTcp(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${apiKey}\r\nContent-Length: 100000\r\n\r\n`,
      "x".repeat(100_000),
    ),
  ),
  ...Array.from({ length: clients - 2 * third }, trickleH2),
]);
const how: Record<string, number> = {};
for (const r of results) how[r.how] = (how[r.how] ?? 0) + 1;
const ms = results.map((r) => r.ms).sort((a, b) => a - b);
console.log(
  JSON.stringify({
    clients: results.length,
    closedBy: how,
    lastedMs: { p50: Math.round(ms[Math.floor(ms.length / 2)] ?? 0), max: Math.round(ms.at(-1) ?? 0) },
  }),
);
