// The machine's ceiling for an HTTP request with a small JSON body and answer: a bare
// node:http server doing nothing else.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => {
    body += c;
  });
  req.on("end", () => {
    const answer = JSON.stringify({ ok: true, received: body.length });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
    res.end(answer);
  });
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(
    `${JSON.stringify({ msg: "listening", httpPort: (server.address() as AddressInfo).port })}\n`,
  );
});
