// An open-loop flood for the benchmark's overload phase, in its own process: requests are
// sent at a fixed rate whatever the answers (as real traffic arrives), on kept-alive
// connections, while a probe opens a fresh connection every 100 ms to see whether new
// connections are served. After the flood, it measures how long until a request is served
// again. Prints one JSON line: answers by status and reason, latencies of what was admitted,
// of refusals and of new connections, and requests that got no answer at all.
//
//   node bench/flood.ts <gateway url> <api key> <requests/s> <seconds> [connections]
import { randomUUID } from "node:crypto";
import { Agent, request } from "node:http";

const [url = "", apiKey = "", rateArg = "1000", secondsArg = "10", connectionsArg = "400"] =
  process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const agent = new Agent({ keepAlive: true, maxSockets: Number(connectionsArg) });
const path = "/emailauth.auth.v1.AuthService/StartLogin";

interface Outcome {
  status: number;
  reason: string;
  ms: number;
  retryAfter: boolean;
}

function send(useAgent: Agent | false): Promise<Outcome | { error: string; ms: number }> {
  const started = performance.now();
  const body = JSON.stringify({ email: `flood-${randomUUID()}@example.com` });
  return new Promise((resolve) => {
    const req = request(
      `${url}${path}`,
      {
        method: "POST",
        agent: useAgent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${apiKey}`,
        },
        timeout: 30_000,
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c;
        });
        res.on("end", () => {
          const reason = /"reason":"([A-Z_]+)"/.exec(text)?.[1] ?? "";
          resolve({
            status: res.statusCode ?? 0,
            reason,
            ms: performance.now() - started,
            retryAfter: res.headers["retry-after"] !== undefined,
          });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err: NodeJS.ErrnoException) =>
      resolve({ error: err.code ?? err.message, ms: performance.now() - started }),
    );
    req.end(body);
  });
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return (
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 10) / 10
  );
};

const outcomes: Outcome[] = [];
const errors: Record<string, number> = {};
const probes: number[] = [];
const pending: Promise<void>[] = [];
const record = (o: Outcome | { error: string; ms: number }) => {
  if ("error" in o) errors[o.error] = (errors[o.error] ?? 0) + 1;
  else outcomes.push(o);
};

const t0 = performance.now();
let sent = 0;
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate) - sent;
    for (let i = 0; i < due; i++) {
      sent++;
      pending.push(send(agent).then(record));
    }
    if (performance.now() - t0 >= seconds * 1000) {
      clearInterval(tick);
      clearInterval(probe);
      resolve();
    }
  }, 5);
  const probe = setInterval(() => {
    pending.push(
      send(false).then((o) => {
        probes.push(o.ms);
        record(o);
      }),
    );
  }, 100);
});
await Promise.all(pending);
const floodEnded = performance.now();
// Recovery: how long until a request (on a new connection) is served again.
let recoveryMs = -1;
for (let i = 0; i < 100; i++) {
  const o = await send(false);
  if (!("error" in o) && o.status === 200) {
    recoveryMs = Math.round(performance.now() - floodEnded);
    break;
  }
  await new Promise((r) => setTimeout(r, 50));
}
agent.destroy();

const byStatus: Record<string, number> = {};
for (const o of outcomes) {
  const key = `${o.status} ${o.reason}`.trim();
  byStatus[key] = (byStatus[key] ?? 0) + 1;
}
const admitted = outcomes.filter((o) => o.status === 200).map((o) => o.ms);
const refusals = outcomes.filter((o) => o.status === 429 || o.status === 503);
console.log(
  JSON.stringify({
    offeredRps: rate,
    seconds,
    sent,
    answered: outcomes.length,
    unanswered: errors,
    byStatus,
    refusalsWithoutRetryAfter: refusals.filter((o) => !o.retryAfter).length,
    admittedMs: { p50: pct(admitted, 50), p99: pct(admitted, 99), max: pct(admitted, 100) },
    refusedMs: {
      p50: pct(
        refusals.map((o) => o.ms),
        50,
      ),
      p99: pct(
        refusals.map((o) => o.ms),
        99,
      ),
    },
    newConnectionMs: { p50: pct(probes, 50), p99: pct(probes, 99), max: pct(probes, 100) },
    servedRps: Math.round(admitted.length / seconds),
    recoveryMs,
  }),
);
