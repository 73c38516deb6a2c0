// One port for every protocol the gateway speaks, and the limits that hold on every path.
//
// One TCP server accepts every connection; the protocol servers never listen themselves:
//   - with a certificate, each socket goes to an HTTPS server (HTTP/2, with HTTP/1.1 chosen by
//     ALPN when the client asks for it);
//   - without one (development, or behind a TLS-terminating proxy), the first bytes are peeked:
//     the HTTP/2 preface ("PRI * HTTP/2.0") goes to a cleartext HTTP/2 server (gRPC clients use
//     h2c with prior knowledge), anything else to an HTTP/1.1 server (curl, browsers).
// So closing is ours alone: Node's servers close idle keep-alive connections when they close,
// which races with a request arriving on them (an answer lost after the work was done).
//
// Limits (every path):
//   - connections: at most `maxConnections` in all and `maxConnectionsPerAddress` per source
//     address (an IPv6 /64 counts once; trusted proxies are exempt). One over the cap is
//     answered, not dropped: HTTP/1.1 gets 503 with Retry-After and Connection: close, HTTP/2
//     a GOAWAY (ENHANCE_YOUR_CALM);
//   - HTTP/1.1: the headers within `headersTimeoutMs`, the whole request (headers and body)
//     within `requestTimeoutMs`, else 408 and the connection closes (Node's own timers, armed
//     here: a server that never listens does not arm them); `keepAliveTimeoutMs` idle between
//     requests;
//   - HTTP/2: each stream's request received whole within `requestTimeoutMs`, else 408 (or a
//     reset once an answer has begun); a session with no open stream for `idleTimeoutMs` is
//     closed, PINGs or not; concurrent streams, header list, session memory, invalid frames,
//     rejected streams (rapid reset), outstanding PINGs and SETTINGS are all bounded;
//   - TLS: the handshake within `headersTimeoutMs`; bytes before the protocol is known, and an
//     HTTP/2 client's SETTINGS, too (deadlines, however the bytes trickle);
//   - answers: each taken by the client within `requestTimeoutMs` of being ready, else its
//     connection (HTTP/1.1) or stream (HTTP/2) is closed; at most MAX_PIPELINED HTTP/1.1
//     requests of one connection waiting for their answers.
//
// Draining (close): stop accepting; HTTP/2 sessions get GOAWAY and finish their streams;
// every HTTP/1.1 response not yet written says `Connection: close`, and its connection closes
// after it. Idle keep-alive connections are left to send their next request (answered with
// `Connection: close`) or to time out: closing them would race with a request arriving. At
// `graceMs` whatever is left is closed.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createServer as createHttp1Server,
  type Server as Http1Server,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import {
  createServer as createHttp2Server,
  createSecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type Http2Stream,
  constants as h2,
  type SecureServerOptions,
  type ServerHttp2Stream,
} from "node:http2";
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from "node:net";
import { addressLimitKey } from "@emailauth/platform";

export type Handler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

export interface ListenerOptions {
  handler: Handler;
  tls?: { certFile: string; keyFile: string };
  /** Time to receive a whole request (headers and body), on every protocol. */
  requestTimeoutMs: number;
  /** Time to receive a request's headers (and a TLS handshake); at most requestTimeoutMs. */
  headersTimeoutMs?: number;
  /** HTTP/1.1: a connection idle this long between requests is closed. */
  keepAliveTimeoutMs?: number;
  /** HTTP/2: a session with no open stream this long is closed. */
  idleTimeoutMs?: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** HTTP/2: streams open at once per session. */
  maxConcurrentStreams?: number;
  /** Addresses not held to the per-address cap (trusted proxies carry many clients). */
  isExempt?: (address: string) => boolean;
}

export interface Listener {
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting and drains; resolves when every connection is closed or `graceMs` passed. */
  close(graceMs: number): Promise<void>;
  /** Open connections now. */
  connections(): number;
}

const PREFACE = Buffer.from("PRI * HTTP/2.0");
/** Listening sockets on the one port (see `acceptor` below). */
const ACCEPTORS = 8;
const OVER_CAPACITY_BODY = '{"code":"unavailable","message":"too many connections"}';
/**
 * Answered to a connection over a cap before its request is read: with a request id like every
 * answer, and readable by a browser (the request is not parsed, so its Origin is unknown; the
 * answer says nothing but "come back later").
 */
const overCapacity = () =>
  "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n" +
  `X-Request-Id: ${randomUUID()}\r\nAccess-Control-Allow-Origin: *\r\n` +
  "Access-Control-Expose-Headers: Retry-After, X-Request-Id\r\n" +
  `Content-Type: application/json\r\nContent-Length: ${OVER_CAPACITY_BODY.length}\r\n\r\n${OVER_CAPACITY_BODY}`;
/**
 * HTTP/1.1 requests one connection may have waiting for their answers (pipelined). Node parses
 * every request of a chunk at once and buffers their answers: 1,800 pipelined requests for a
 * 26 KB answer in one 63 KB packet held 200 MB (found by review). Browsers and HTTP clients do
 * not pipeline this deep.
 */
const MAX_PIPELINED = 8;

export function createListener(options: ListenerOptions): Listener {
  const headersTimeoutMs = Math.min(options.headersTimeoutMs ?? 10_000, options.requestTimeoutMs);
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  /**
   * Connections over a cap, by peer ("address|port"): answered with a refusal, then closed.
   * (By peer, not by socket object: HTTP/2 sessions and TLS wrap the socket we accepted.)
   */
  const refused = new Set<string>();
  const peerOf = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }) =>
    `${s.remoteAddress}|${s.remotePort}`;
  const sessions = new Set<Http2Session>();
  /** HTTP/1.1 responses being served, so that draining can ask each to close its connection. */
  const active = new Set<ServerResponse>();
  /** HTTP/1.1 requests of each connection still waiting for (the end of) their answer. */
  const pipelined = new WeakMap<Socket, number>();
  /** HTTP/2 streams open, for the answer deadline (below). */
  const streams = new Set<Http2Stream>();
  /** When an answer was seen finished on our side but not yet taken by the client. */
  const stalledSince = new WeakMap<object, number>();
  let closing = false;
  let onDrained: (() => void) | undefined;

  const http1Handler: Handler = (req, res) => {
    const socket = req.socket as Socket;
    const response = res as ServerResponse;
    const waiting = (pipelined.get(socket) ?? 0) + 1;
    if (waiting > MAX_PIPELINED) {
      socket.destroy();
      return;
    }
    pipelined.set(socket, waiting);
    response.once("close", () => pipelined.set(socket, (pipelined.get(socket) ?? 1) - 1));
    if (refused.has(peerOf(socket))) {
      response.writeHead(503, {
        "retry-after": "1",
        connection: "close",
        "content-type": "application/json",
      });
      response.end(OVER_CAPACITY_BODY);
      return;
    }
    if (closing) response.setHeader("connection", "close");
    active.add(response);
    response.once("close", () => active.delete(response));
    options.handler(req, res);
  };

  const h2Options = {
    settings: {
      maxConcurrentStreams: options.maxConcurrentStreams ?? 100,
      maxHeaderListSize: 32 * 1024,
    },
    maxHeaderListPairs: 64,
    maxSessionMemory: 10,
    maxOutstandingPings: 10,
    maxSettings: 32,
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  };

  const onSession = (session: Http2Session) => {
    const socket = session.socket as Socket | undefined;
    // The client's SETTINGS (after the preface) within the headers timeout: a client dripping
    // the preface one byte at a time is not served for minutes (found by review).
    const settings = setTimeout(() => session.destroy(), headersTimeoutMs);
    settings.unref();
    session.once("remoteSettings", () => clearTimeout(settings));
    session.once("close", () => clearTimeout(settings));
    // Never closed from inside this event: Node still has to feed the session the bytes read
    // while peeking (on the next tick), and throws outside any handler if it is gone.
    if (socket && refused.has(peerOf(socket))) {
      setImmediate(() => {
        session.goaway(h2.NGHTTP2_ENHANCE_YOUR_CALM);
        setTimeout(() => session.destroy(), 100).unref();
      });
      return;
    }
    sessions.add(session);
    if (closing) setImmediate(() => session.close());
    // Idle: no open stream for idleTimeoutMs, whatever else the peer sends (PINGs included).
    let open = 0;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      idle = setTimeout(() => session.close(), idleTimeoutMs);
      idle.unref();
    };
    armIdle();
    session.on("stream", (stream: ServerHttp2Stream) => {
      open++;
      clearTimeout(idle);
      stream.once("close", () => {
        if (--open === 0 && !session.closed) armIdle();
      });
    });
    session.once("close", () => {
      clearTimeout(idle);
      sessions.delete(session);
    });
    session.on("error", () => session.destroy());
  };

  /** HTTP/2: each stream's request must be received whole in time, else it is reset. */
  const onStream = (stream: Http2Stream) => {
    streams.add(stream);
    stream.once("close", () => streams.delete(stream));
    const timer = setTimeout(() => {
      if (!stream.destroyed && !stream.closed && !stream.readableEnded) stream.close(h2.NGHTTP2_CANCEL);
    }, options.requestTimeoutMs);
    timer.unref();
    stream.once("end", () => clearTimeout(timer));
    stream.once("close", () => clearTimeout(timer));
  };

  // The protocol servers: never listening, they get the sockets this listener accepted.
  let secure: Http2Server | undefined;
  let h1: Http1Server | undefined;
  let h2c: Http2Server | undefined;
  if (options.tls) {
    const tlsOptions: SecureServerOptions = {
      cert: readFileSync(options.tls.certFile),
      key: readFileSync(options.tls.keyFile),
      allowHTTP1: true,
      minVersion: "TLSv1.2",
      handshakeTimeout: headersTimeoutMs,
      ...h2Options,
    };
    const server = createSecureServer(tlsOptions, (req, res) => {
      if (req.httpVersionMajor === 1) http1Handler(req, res);
      else options.handler(req, res);
    });
    // The HTTP/1.1 fallback's timers (Node arms them when a server starts listening).
    Object.assign(server, {
      headersTimeout: headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      connectionsCheckingInterval: 1_000,
    });
    server.emit("listening");
    server.on("session", onSession);
    server.on("stream", onStream);
    secure = server as unknown as Http2Server;
  } else {
    h1 = createHttp1Server(
      {
        requestTimeout: options.requestTimeoutMs,
        headersTimeout: headersTimeoutMs,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
        // Expired requests are found within a second (Node's default looks every 30 s).
        connectionsCheckingInterval: 1_000,
      },
      http1Handler,
    );
    // Node arms its header and request timers when a server starts listening; this one only
    // receives sockets, so they are armed here (stack notes: without this, no timeout holds).
    h1.emit("listening");
    h2c = createHttp2Server(h2Options, options.handler);
    h2c.on("session", onSession);
    h2c.on("stream", onStream);
  }

  // Answers the client does not take (it stops reading, or its HTTP/2 flow-control window stays
  // shut): each must be taken within the request timeout of being ready, else its connection
  // (HTTP/1.1) or stream (HTTP/2) is closed. Without this an answer could be held forever:
  // 4,000 zero-window HTTP/2 streams from 40 connections held 130 MB (found by review).
  const sweep = setInterval(() => {
    const now = Date.now();
    const overdue = (key: object, stalled: boolean) => {
      if (!stalled) {
        stalledSince.delete(key);
        return false;
      }
      const since = stalledSince.get(key) ?? now;
      stalledSince.set(key, since);
      return now - since >= options.requestTimeoutMs;
    };
    for (const res of active)
      if (overdue(res, res.writableEnded && !res.writableFinished)) res.socket?.destroy();
    for (const stream of streams) {
      if (overdue(stream, stream.writableEnded && !stream.closed)) stream.close(h2.NGHTTP2_CANCEL);
    }
  }, 1_000);
  sweep.unref();

  const release = (socket: Socket, key: string) => {
    sockets.delete(socket);
    const left = (perAddress.get(key) ?? 1) - 1;
    if (left > 0) perAddress.set(key, left);
    else perAddress.delete(key);
    if (closing && sockets.size === 0) onDrained?.();
  };

  const sniff = (socket: Socket) => {
    let received = Buffer.alloc(0);
    // A deadline, not an idle timer: a client sending a byte now and then is not given more.
    const deadline = setTimeout(() => socket.destroy(), headersTimeoutMs);
    deadline.unref();
    socket.once("close", () => clearTimeout(deadline));
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // Decide as soon as the bytes seen so far match the preface in full or stop matching it.
      const n = Math.min(received.length, PREFACE.length);
      if (n < PREFACE.length && received.subarray(0, n).equals(PREFACE.subarray(0, n))) return;
      socket.off("data", onData);
      clearTimeout(deadline);
      socket.pause();
      socket.unshift(received);
      if (received.subarray(0, PREFACE.length).equals(PREFACE)) {
        // The HTTP/2 session reads the unshifted bytes itself, then the socket's handle.
        h2c?.emit("connection", socket);
      } else {
        if (refused.has(peerOf(socket))) {
          // Answered without parsing: the cheapest refusal that still says what to do. What the
          // client sends meanwhile is read and dropped: a paused socket never sees its end, so
          // it would never close and would count against the cap for good (found by the
          // cap test: "too many connections" after every client had gone).
          socket.resume();
          socket.end(overCapacity());
          setTimeout(() => socket.destroy(), headersTimeoutMs).unref();
          return;
        }
        h1?.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  };

  const onConnection = (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const key = addressLimitKey(address) ?? "unknown";
    const peer = peerOf(socket);
    const count = (perAddress.get(key) ?? 0) + 1;
    perAddress.set(key, count);
    sockets.add(socket);
    socket.once("close", () => {
      refused.delete(peer);
      release(socket, key);
    });
    socket.on("error", () => socket.destroy());
    if (
      sockets.size > options.maxConnections ||
      (count > options.maxConnectionsPerAddress && !options.isExempt?.(address))
    ) {
      refused.add(peer);
    }
    if (secure) {
      // Over a cap on HTTPS: closed at once. A readable 503 would cost a TLS handshake per
      // refusal (0.8 ms of CPU each: 1,250 a second fill a core; found by review); clients
      // retry a refused connection as they would a 503.
      if (refused.has(peer)) {
        socket.destroy();
        return;
      }
      // The TLS server bounds the handshake (handshakeTimeout), then HTTP/1.1 or HTTP/2.
      secure.emit("connection", socket);
      return;
    }
    sniff(socket);
  };
  // libuv accepts one connection per listening socket per turn of the event loop (libuv#3696).
  // A saturated gateway turns its loop every 50 ms or so: one socket would accept 20 connections
  // a second, and a burst of connections (a flood, or every client reconnecting after a restart)
  // would queue new users behind it for many seconds, whatever admission refuses. Several
  // sockets on the same port (SO_REUSEPORT; the kernel spreads connections across them, and only
  // processes of the same user may join) accept that many per turn. Where the platform lacks
  // it, one socket.
  const acceptors: NetServer[] = [];
  const acceptor = () => createNetServer({ noDelay: true }, onConnection);

  return {
    async listen(host, port) {
      const bind = (at: number, reusePort: boolean) =>
        new Promise<NetServer>((done, fail) => {
          const server = acceptor();
          server.once("error", fail);
          server.listen({ port: at, host, backlog: 4096, reusePort }, () => {
            server.off("error", fail);
            done(server);
          });
        });
      // First alone, without SO_REUSEPORT: a port already taken fails as it always did, and a
      // second gateway started on the same port by mistake is not silently given half the
      // connections. Then the acceptors join each other on it.
      const alone = await bind(port, false);
      const bound = (alone.address() as AddressInfo).port;
      await new Promise((done) => alone.close(done));
      const first = await bind(bound, true).catch((err: NodeJS.ErrnoException) =>
        err.code === "ENOTSUP" ? bind(bound, false) : Promise.reject(err),
      );
      acceptors.push(first);
      for (let i = 1; i < ACCEPTORS; i++) {
        const more = await bind(bound, true).catch(() => undefined);
        if (!more) break;
        acceptors.push(more);
      }
      return bound;
    },
    close(graceMs) {
      closing = true;
      return new Promise((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          clearInterval(sweep);
          onDrained = undefined;
          for (const s of sockets) s.destroy();
          for (const session of sessions) session.destroy();
          if (h1) h1.close(() => undefined);
          resolve();
        };
        const timer = setTimeout(finish, graceMs);
        onDrained = finish;
        for (const a of acceptors) a.close();
        // HTTP/2: GOAWAY lets open streams finish; new ones go to another connection.
        for (const session of sessions) session.close();
        // HTTP/1.1: every answer not yet written tells its client to go; its connection then
        // closes after it. Idle connections are not closed here (see the top of this file).
        for (const res of active) if (!res.headersSent) res.setHeader("connection", "close");
        if (sockets.size === 0) finish();
      });
    },
    connections: () => sockets.size,
  };
}
