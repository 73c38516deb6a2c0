// A small HTTP/1.1 server for routes such as the operations endpoints, with a shutdown that
// does not hang on kept-alive connections.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log/logger.ts";
import { type HttpRoute, sendJson } from "./ops-routes.ts";

export interface HttpServer {
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
  readonly server: Server;
}

export function createHttpServer(deps: { routes: HttpRoute[]; logger: Logger }): HttpServer {
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    void (async () => {
      for (const route of deps.routes) {
        if (await route(req, res)) return;
      }
      sendJson(res, 404, { error: "not found" });
    })().catch((err: unknown) => {
      deps.logger.error({ err }, "http route failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });
  return {
    server,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Connections still busy get a moment to finish, then go.
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      });
    },
  };
}
