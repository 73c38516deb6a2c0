// The public edge under hostile and heavy traffic, over real processes: clients that send one
// byte at a time on every protocol, more connections than allowed, more requests than the mesh
// can serve, and SIGTERM under keep-alive load. Behaviour only: how fast things happen is the
// benchmark's business (bench/README.md).
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { Agent, request as httpRequest } from "node:http";
import { connect as connectH2, constants as h2 } from "node:http2";
import { connect as connectTcp, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, postJson, reasonOf, startMesh } from "./helpers/mesh.ts";

const SERVICE = "emailauth.auth.v1.AuthService";

let mesh: Mesh;
let apiKey = "";
let host = "";
let port = 0;

beforeAll(async () => {
  mesh = await startMesh({
    env: {
      gateway: {
        REQUEST_TIMEOUT: "1s",
        HTTP2_IDLE_TIMEOUT: "1s",
        MAX_CONNECTIONS_PER_ADDRESS: "300",
        APP_REQUESTS_PER_SECOND: "100000",
      },
      persistence: { LIMIT_APP_SENDS_PER_MINUTE: "1000000", LIMIT_GLOBAL_SENDS_PER_MINUTE: "100000000" },
    },
  });
  ({ apiKey } = await mesh.createApp());
  const url = new URL(mesh.gatewayUrl);
  host = url.hostname;
  port = Number(url.port);
});
afterAll(async () => {
  await mesh?.stop();
});

const email = (label = "edge") => `${label}-${randomUUID().slice(0, 8)}@example.com`;
const auth = () => ({ authorization: `Bearer ${apiKey}` });

/** Resolves on "close", whatever errors came before (events.once would reject on them). */
const closedEvent = (emitter: NodeJS.EventEmitter) =>
  new Promise<void>((resolve) => emitter.once("close", () => resolve()));

/** A raw TCP client: what it received, and when the gateway closed it. */
function rawClient() {
  const socket = connectTcp({ host, port });
  let received = "";
  socket.on("data", (c: Buffer) => {
    received += c.toString("latin1");
  });
  socket.on("error", () => undefined);
  const closed = closedEvent(socket).then(() => received);
  return { socket, closed, received: () => received };
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function trickle(socket: Socket, text: string, everyMs: number) {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i++] as string);
  }, everyMs);
  socket.once("close", () => clearInterval(timer));
}

describe("slow clients", () => {
  it("closes 200 slowloris clients on every path (slow headers, slow body, slow HTTP/2 stream) while logins go on", async () => {
    const slowHeaders = Array.from({ length: 70 }, () => {
      const c = rawClient();
      c.socket.once("connect", () =>
        trickle(
          c.socket,
          `POST /${SERVICE}/StartLogin HTTP/1.1\r\nHost: x\r\nX-Padding: ${"a".repeat(200)}\r\n\r\n`,
          100,
        ),
      );
      return c.closed;
    });
    const slowBody = Array.from({ length: 70 }, () => {
      const c = rawClient();
      c.socket.once("connect", () => {
        c.socket.write(
          `POST /${SERVICE}/StartLogin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${apiKey}\r\nContent-Length: 1000\r\n\r\n`,
        );
        trickle(c.socket, "x".repeat(1000), 100);
      });
      return c.closed;
    });
    const slowStreams = Array.from({ length: 60 }, async () => {
      const session = connectH2(mesh.gatewayUrl);
      session.on("error", () => undefined);
      const stream = session.request({
        ":method": "POST",
        ":path": `/${SERVICE}/StartLogin`,
        "content-type": "application/grpc+proto",
        te: "trailers",
        ...auth(),
      });
      stream.on("error", () => undefined);
      stream.resume();
      // A message of 1,000 bytes announced, then sent one byte at a time.
      stream.write(Buffer.from([0, 0, 0, 0x03, 0xe8]));
      const timer = setInterval(() => {
        if (!stream.destroyed) stream.write(Buffer.from([0x0a]));
      }, 100);
      await closedEvent(stream);
      clearInterval(timer);
      const code = stream.rstCode;
      session.destroy();
      return code;
    });
    // Meanwhile, people log in as usual.
    const logins = Array.from({ length: 10 }, async () => {
      const to = email("meanwhile");
      const started = await postJson(mesh.gatewayUrl, "StartLogin", { email: to }, auth());
      if (started.status !== 200) return `StartLogin ${started.status} ${JSON.stringify(started.body)}`;
      const verified = await postJson(
        mesh.gatewayUrl,
        "VerifyLogin",
        { challengeId: started.body.challengeId, code: await mesh.codeFor(to) },
        auth(),
      );
      return verified.status;
    });

    const [h1, streams, done] = await Promise.all([
      Promise.all([...slowHeaders, ...slowBody]),
      Promise.all(slowStreams),
      Promise.allSettled(logins),
    ]);
    // HTTP/1.1: 408 and closed, whether the headers or the body were slow.
    for (const received of h1) expect(received).toMatch(/^HTTP\/1\.1 408 /);
    // HTTP/2: each slow stream is reset (CANCEL).
    expect(new Set(streams)).toEqual(new Set([h2.NGHTTP2_CANCEL]));
    // Slow clients took nobody's place.
    expect(done.map((d) => (d.status === "fulfilled" ? d.value : String(d.reason)))).toEqual(
      Array(10).fill(200),
    );
  });

  it("closes connections that say nothing, and HTTP/2 sessions that only ping", async () => {
    const silent = rawClient();
    expect(await silent.closed).toBe("");

    const session = connectH2(mesh.gatewayUrl);
    session.on("error", () => undefined);
    await once(session, "connect");
    const pinger = setInterval(() => session.ping(() => undefined), 100);
    const [code] = (await once(session, "goaway")) as [number];
    clearInterval(pinger);
    expect(code).toBe(h2.NGHTTP2_NO_ERROR);
    session.destroy();
  });
});

describe("clients that do not take their answers", () => {
  it("closes a connection that pipelines more requests than it reads answers", async () => {
    const client = rawClient();
    client.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(50));
    const received = await client.closed;
    // Some answered (the first few), the rest never parsed into buffered answers.
    expect((received.match(/HTTP\/1\.1 200/g) ?? []).length).toBeLessThanOrEqual(8);
  });

  it("resets an HTTP/2 stream whose answer the client never lets through (zero window)", async () => {
    const session = connectH2(mesh.gatewayUrl, { settings: { initialWindowSize: 0 } });
    session.on("error", () => undefined);
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/json",
    });
    stream.on("error", () => undefined);
    stream.end("{}");
    const [headers] = (await once(stream, "response")) as [Record<string, number>];
    expect(headers[":status"]).toBe(200);
    // The answer is ready but cannot be written: the stream is reset (REQUEST_TIMEOUT is 1s).
    await closedEvent(stream);
    expect(stream.rstCode).toBe(h2.NGHTTP2_CANCEL);
    session.destroy();
  });

  it("bounds the bytes before the protocol is known by a deadline, not an idle timer", async () => {
    const client = rawClient();
    // The HTTP/2 preface, a byte every 300 ms: each byte is in time, the whole is not.
    trickle(client.socket, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 300);
    const started = Date.now();
    await client.closed;
    // Closed before the preface was done (24 bytes at 300 ms would take 7 s).
    expect(client.socket.bytesWritten).toBeLessThan(24);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });
});

describe("connection caps", () => {
  it("answers connections over the per-address cap with 503 and Retry-After (HTTP/1.1) or GOAWAY (HTTP/2)", async () => {
    // MAX_CONNECTIONS_PER_ADDRESS is 300: hold 300, then knock.
    const held = await Promise.all(
      Array.from({ length: 300 }, async () => {
        const socket = connectTcp({ host, port });
        socket.on("error", () => undefined);
        await once(socket, "connect");
        return socket;
      }),
    );
    try {
      // The held connections are established before the gateway has accepted them all (it
      // accepts a few per turn of its event loop, on several sockets): knock until it has.
      const knock = async () => {
        const extra = rawClient();
        extra.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        return (await extra.closed).slice(0, 12);
      };
      await expect.poll(knock, { interval: 20, timeout: 5_000 }).toBe("HTTP/1.1 503");
      for (let i = 0; i < 5; i++) {
        const extra = rawClient();
        extra.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
        const answer = await extra.closed;
        expect(answer).toMatch(/^HTTP\/1\.1 503 /);
        expect(answer).toMatch(/retry-after: 1/i);
        // Like every answer: a request id, and readable by a browser.
        expect(answer).toMatch(/x-request-id: [0-9a-f-]{36}/i);
        expect(answer).toMatch(/access-control-allow-origin: \*/i);
      }

      const session = connectH2(mesh.gatewayUrl);
      session.on("error", () => undefined);
      const [code] = (await once(session, "goaway")) as [number];
      expect(code).toBe(h2.NGHTTP2_ENHANCE_YOUR_CALM);
      session.destroy();
    } finally {
      for (const s of held) s.destroy();
    }
    // Freed, the address is served again, and every connection is gone from the count (a refused
    // one once lingered, half-closed, and counted against the cap for good).
    await expect
      .poll(async () => (await fetch(`${mesh.gatewayUrl}/healthz`)).status, { interval: 50, timeout: 5_000 })
      .toBe(200);
    await expect
      .poll(
        async () => {
          const text = await (await fetch(`${mesh.gatewayUrl}/metrics`)).text();
          return Number(/^emailauth_gateway_open_connections\{[^}]*\} (\d+)/m.exec(text)?.[1]);
        },
        { interval: 50, timeout: 5_000 },
      )
      .toBeLessThanOrEqual(2);
  });
});

describe("overload", () => {
  it("answers every one of a flood of requests: served, or refused at once with Retry-After; never 500", async () => {
    await mesh.startGateway({
      ADMISSION_TARGET_LATENCY: "20ms",
      MAX_IN_FLIGHT: "200",
      APP_REQUESTS_PER_SECOND: "100000",
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 400 });
    const statuses = new Map<string, number>();
    const problems: string[] = [];
    const one = () =>
      new Promise<void>((resolve) => {
        const body = JSON.stringify({ email: email("flood") });
        const req = httpRequest(
          `${mesh.gatewayUrl}/${SERVICE}/StartLogin`,
          {
            method: "POST",
            agent,
            headers: {
              "content-type": "application/json",
              "content-length": Buffer.byteLength(body),
              ...auth(),
            },
          },
          (res) => {
            let text = "";
            res.on("data", (c: Buffer) => {
              text += c;
            });
            res.on("end", () => {
              const reason = text.startsWith("{") ? reasonOf(JSON.parse(text)) : undefined;
              const key = `${res.statusCode} ${reason ?? ""}`.trim();
              statuses.set(key, (statuses.get(key) ?? 0) + 1);
              if (res.statusCode !== 200 && !res.headers["retry-after"])
                problems.push(`${key} without Retry-After`);
              if ((res.statusCode ?? 0) >= 500 && res.statusCode !== 503) problems.push(key);
              resolve();
            });
          },
        );
        req.on("error", (err) => {
          problems.push(`no answer: ${err.message}`);
          resolve();
        });
        req.end(body);
      });
    await Promise.all(Array.from({ length: 3000 }, one));
    agent.destroy();
    expect(problems.slice(0, 5)).toEqual([]);
    expect(statuses.get("200")).toBeGreaterThan(0);
    expect(statuses.get("429 OVERLOADED")).toBeGreaterThan(0);
    // Recovered: logins are served again once the flood has passed.
    await expect
      .poll(
        async () => (await postJson(mesh.gatewayUrl, "StartLogin", { email: email("after") }, auth())).status,
        {
          interval: 100,
          timeout: 30_000,
        },
      )
      .toBe(200);
  });
});

describe("SIGTERM under keep-alive load", () => {
  it("loses no answer in 5 stops: every request is answered or never sent, every login started finishes", async () => {
    for (let round = 0; round < 5; round++) {
      if (round > 0 || mesh.gateway.child.exitCode !== null) await mesh.startGateway();
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      const lost: string[] = [];
      const answered: { to: string; status: number }[] = [];
      let stopping = false;
      const client = async () => {
        for (;;) {
          const to = email("drain");
          const outcome = await new Promise<"answered" | "refused" | "lost">((resolve) => {
            const body = JSON.stringify({ email: to });
            const req = httpRequest(
              `${mesh.gatewayUrl}/${SERVICE}/StartLogin`,
              {
                method: "POST",
                agent,
                headers: {
                  "content-type": "application/json",
                  "content-length": Buffer.byteLength(body),
                  ...auth(),
                },
              },
              (res) => {
                res.resume();
                res.on("end", () => {
                  answered.push({ to, status: res.statusCode ?? 0 });
                  resolve("answered");
                });
              },
            );
            req.on("error", (err: NodeJS.ErrnoException) => {
              // A new connection refused: the request was never sent. Anything else lost it.
              if (err.code === "ECONNREFUSED") resolve("refused");
              else {
                const reused = (req as unknown as { reusedSocket?: boolean }).reusedSocket;
                lost.push(
                  `${err.code ?? err.message} (${stopping ? "after" : "before"} SIGTERM, ${reused ? "reused" : "new"} socket)`,
                );
                resolve("lost");
              }
            });
            req.end(body);
          });
          if (outcome !== "answered" && stopping) return;
        }
      };
      const clients = Array.from({ length: 16 }, client);
      await expect.poll(() => answered.length, { interval: 20, timeout: 10_000 }).toBeGreaterThan(100);
      stopping = true;
      const exit = mesh.gateway.stop();
      await Promise.all(clients);
      agent.destroy();
      expect({ round, lost }).toEqual({ round, lost: [] });
      expect(await exit).toEqual({ code: 0, signal: null });
      // Every login that was answered 200 was finished: its email went out.
      for (const a of answered.filter((x) => x.status === 200).slice(-20)) await mesh.codeFor(a.to);
    }
    await mesh.startGateway();
  });
});
