// The overload phase's probe, in its own process, while wrk floods the gateway with StartLogin
// (bench/wrk/flood.lua): every 100 ms, on a fresh connection (as a newly arriving person would),
// one VerifyLogin (high priority: someone holding a code) and one StartLogin (low priority).
// A VerifyLogin for an address with no code pending reaches persistence and is answered 401
// CODE_INVALID without spending any guess budget. After `seconds`, it measures how long until a
// StartLogin is served again. Prints one JSON line. Raw sockets and requests built from a
// template: Node's http client costs too much CPU to share two cores with the flood.
//
//   node bench/flood-probe.ts <gateway url> <api key> <seconds> <flood finished marker file>
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";

const [url = "", apiKey = "", secondsArg = "10", floodDone = ""] = process.argv.slice(2);
const seconds = Number(secondsArg);
const { hostname: host, port } = new URL(url);

const request = (method: "StartLogin" | "VerifyLogin") => {
  const email = `probe-${randomBytes(8).toString("hex")}@example.com`;
  const body = method === "StartLogin" ? `{"email":"${email}"}` : `{"email":"${email}","code":"123456"}`;
  return (
    `POST /emailauth.auth.v1.AuthService/${method} HTTP/1.1\r\nHost: ${host}\r\n` +
    `Content-Type: application/json\r\nAuthorization: Bearer ${apiKey}\r\n` +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`
  );
};

interface Answer {
  status: number;
  reason: string;
  retryAfter: boolean;
}

/** One HTTP/1.1 connection, one request at a time; `send` resolves with the answer. */
function connection() {
  const socket: Socket = connect({ host, port: Number(port) });
  socket.setNoDelay(true);
  let buffer = "";
  let waiting: ((a: Answer | Error) => void) | undefined;
  let open = true;
  socket.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("latin1");
    for (;;) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buffer.slice(0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      const body = buffer.slice(end + 4, end + 4 + length);
      buffer = buffer.slice(end + 4 + length);
      const done = waiting;
      waiting = undefined;
      done?.({
        status: Number(head.slice(9, 12)),
        reason: /"reason":"([A-Z_]+)"/.exec(body)?.[1] ?? "",
        retryAfter: /\r\nretry-after:/i.test(head),
      });
      if (/\r\nconnection: *close/i.test(head)) open = false;
    }
  });
  const fail = (err: Error) => {
    open = false;
    const done = waiting;
    waiting = undefined;
    done?.(err);
  };
  socket.on("error", fail);
  socket.on("close", () => fail(Object.assign(new Error("closed"), { code: "ECLOSED" })));
  return {
    get open() {
      return open && !socket.destroyed;
    },
    send(text: string): Promise<Answer | Error> {
      return new Promise((resolve) => {
        waiting = resolve;
        socket.write(text);
      });
    },
    close: () => socket.destroy(),
  };
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const sorted = Float64Array.from(xs).sort();
  return (
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 10) / 10
  );
};

interface Tally {
  ms: number[];
  byStatus: Record<string, number>;
  unanswered: number;
}
const tallies: Record<"StartLogin" | "VerifyLogin", Tally> = {
  StartLogin: { ms: [], byStatus: {}, unanswered: 0 },
  VerifyLogin: { ms: [], byStatus: {}, unanswered: 0 },
};
const pending = new Set<Promise<void>>();
const ask = (method: "StartLogin" | "VerifyLogin") => {
  const started = performance.now();
  const c = connection();
  const p = c.send(request(method)).then((a) => {
    c.close();
    const t = tallies[method];
    if (a instanceof Error) {
      t.unanswered++;
      return;
    }
    t.ms.push(performance.now() - started);
    const key = `${a.status} ${a.reason}`.trim();
    t.byStatus[key] = (t.byStatus[key] ?? 0) + 1;
  });
  pending.add(p);
  void p.finally(() => pending.delete(p));
};
const probe = setInterval(() => {
  ask("VerifyLogin");
  ask("StartLogin");
}, 100);
await new Promise((r) => setTimeout(r, seconds * 1000));
clearInterval(probe);
await Promise.all(pending);

// Recovery: from the flood's end (wrk writes the marker when it exits), how long until a
// StartLogin on a new connection is served.
while (floodDone && !existsSync(floodDone)) await new Promise((r) => setTimeout(r, 5));
const floodEnded = performance.now();
let recoveryMs = -1;
for (let i = 0; i < 400 && recoveryMs < 0; i++) {
  const c = connection();
  const a = await c.send(request("StartLogin"));
  c.close();
  if (!(a instanceof Error) && a.status === 200) recoveryMs = Math.round(performance.now() - floodEnded);
  else await new Promise((r) => setTimeout(r, 25));
}

const summary = (t: Tally) => ({
  answered: t.ms.length,
  unanswered: t.unanswered,
  byStatus: t.byStatus,
  p50Ms: pct(t.ms, 50),
  p99Ms: pct(t.ms, 99),
  maxMs: pct(t.ms, 100),
});
console.log(
  JSON.stringify({
    verifyLogin: summary(tallies.VerifyLogin),
    startLogin: summary(tallies.StartLogin),
    recoveryMs,
  }),
);
