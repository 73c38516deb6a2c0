// The operations endpoints every service serves over HTTP:
//   GET /healthz  200 while the process is alive and its event loop turns
//   GET /readyz   200 when every dependency check passes, 503 otherwise (with the checks)
//   GET /metrics  Prometheus text format
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Metrics } from "../metrics/metrics.ts";
import type { Readiness } from "./readiness.ts";

export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

export function createOpsRoutes(deps: { metrics: Metrics; readiness: Readiness }): HttpRoute {
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = (req.url ?? "/").split("?")[0];
    switch (path) {
      case "/healthz":
        sendJson(res, 200, { status: "ok" });
        return true;
      case "/readyz": {
        const state = deps.readiness.current();
        sendJson(res, state.ready ? 200 : 503, {
          status: state.ready ? "ready" : "not ready",
          checks: state.checks,
        });
        return true;
      }
      case "/metrics": {
        const text = await deps.metrics.registry.metrics();
        res.writeHead(200, { "content-type": deps.metrics.registry.contentType });
        res.end(text);
        return true;
      }
      default:
        return false;
    }
  };
}
