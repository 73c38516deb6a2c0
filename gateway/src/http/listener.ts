// One port for every protocol the gateway speaks.
//
// With a certificate: HTTPS, HTTP/2 with HTTP/1.1 fallback chosen by ALPN (Node does this
// itself with `allowHTTP1`).
// Without one (development, or behind a TLS-terminating proxy): Node cannot serve HTTP/1.1 and
// cleartext HTTP/2 (h2c) on one port by itself, so the first bytes of each connection are
// peeked: the HTTP/2 connection preface ("PRI * HTTP/2.0") goes to an HTTP/2 server, anything
// else to an HTTP/1.1 server. gRPC clients use h2c with prior knowledge; curl and browsers
// use HTTP/1.1.
//
// Shutdown stops accepting, lets requests in flight finish, and closes kept-alive connections
// so that nothing hangs.
import { readFileSync } from "node:fs";
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createHttp2Server,
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";

export type Handler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

export interface ListenerOptions {
  handler: Handler;
  tls?: { certFile: string; keyFile: string };
  /** Time to receive a whole request (headers and body) on HTTP/1.1. */
  requestTimeoutMs: number;
  /** Idle connections are closed after this. */
  idleTimeoutMs?: number;
}

export interface Listener {
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting; resolves when in-flight requests are done or `graceMs` passed. */
  close(graceMs: number): Promise<void>;
}

const PREFACE = Buffer.from("PRI * HTTP/2.0");

export function createListener(options: ListenerOptions): Listener {
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  // HTTP/1.1 requests in flight per socket, so that shutdown closes idle sockets at once and
  // busy ones right after their response.
  const busy = new Map<Socket, number>();
  // Sockets speaking HTTP/2: their session's GOAWAY closes them, not us.
  const h2Sockets = new WeakSet<Socket>();
  const idle = options.idleTimeoutMs ?? 60_000;
  let closing = false;
  let onSocketClosed: (() => void) | undefined;

  const handler: Handler = (req, res) => {
    if (req.httpVersionMajor === 1) {
      const socket = req.socket as Socket;
      busy.set(socket, (busy.get(socket) ?? 0) + 1);
      if (closing) (res as ServerResponse).setHeader("connection", "close");
      res.once("close", () => {
        const left = (busy.get(socket) ?? 1) - 1;
        if (left > 0) busy.set(socket, left);
        else {
          busy.delete(socket);
          if (closing) socket.end();
        }
      });
    }
    options.handler(req, res);
  };
  const track = (s: Socket) => {
    sockets.add(s);
    s.once("close", () => {
      sockets.delete(s);
      busy.delete(s);
      onSocketClosed?.();
    });
  };
  const trackSession = (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  };

  let server: Server;
  if (options.tls) {
    const secure = createSecureServer(
      {
        cert: readFileSync(options.tls.certFile),
        key: readFileSync(options.tls.keyFile),
        allowHTTP1: true,
        minVersion: "TLSv1.2",
      },
      handler,
    );
    secure.setTimeout(idle);
    secure.on("session", trackSession);
    secure.on("secureConnection", (socket: TLSSocket) => {
      track(socket);
      if (socket.alpnProtocol === "h2") h2Sockets.add(socket);
    });
    server = secure;
  } else {
    const h1 = createHttp1Server(
      {
        requestTimeout: options.requestTimeoutMs,
        headersTimeout: Math.min(options.requestTimeoutMs, 10_000),
        keepAliveTimeout: 5_000,
      },
      handler,
    );
    const h2 = createHttp2Server({}, handler);
    h2.setTimeout(idle);
    h2.on("session", trackSession);
    server = createNetServer((socket) => {
      track(socket);
      let received = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        // Decide as soon as the bytes seen so far match the preface in full or stop matching it.
        const n = Math.min(received.length, PREFACE.length);
        if (n < PREFACE.length && received.subarray(0, n).equals(PREFACE.subarray(0, n))) return;
        socket.off("data", onData);
        socket.setTimeout(0);
        socket.pause();
        socket.unshift(received);
        if (received.subarray(0, PREFACE.length).equals(PREFACE)) {
          // The HTTP/2 session reads the unshifted bytes itself, then the socket's handle.
          h2Sockets.add(socket);
          h2.emit("connection", socket);
        } else {
          h1.emit("connection", socket);
          socket.resume();
        }
      };
      socket.on("data", onData);
      // A connection that never sends a request line is dropped.
      socket.setTimeout(options.requestTimeoutMs, () => socket.destroy());
      socket.on("error", () => socket.destroy());
    });
  }

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close(graceMs) {
      closing = true;
      return new Promise((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          onSocketClosed = undefined;
          for (const s of sockets) s.destroy();
          resolve();
        };
        const timer = setTimeout(finish, graceMs);
        onSocketClosed = () => {
          if (sockets.size === 0) finish();
        };
        server.close();
        // HTTP/2: GOAWAY lets open streams finish; new streams go to another connection.
        for (const session of sessions) session.close();
        // HTTP/1.1: idle connections close now, busy ones after their response.
        for (const s of sockets) if (!busy.has(s) && !h2Sockets.has(s)) s.end();
        onSocketClosed();
      });
    },
  };
}
