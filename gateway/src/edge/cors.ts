// CORS for browser callers. Preflights (which carry no API key, so no app) are answered for any
// origin; the real request is then checked against its client app's allowed origins by the
// guard interceptor, which refuses it (ORIGIN_NOT_ALLOWED) before anything is done. Responses
// echo the origin so that a browser can read the answer, refusals included.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { cors } from "@connectrpc/connect";

const ALLOW_HEADERS = [...cors.allowedHeaders, "Authorization", "Idempotency-Key", "X-Request-Id"].join(", ");
export const EXPOSE_HEADERS = [...cors.exposedHeaders, "Retry-After", "X-Request-Id"].join(", ");

/** Answers a CORS preflight; returns false for any other request. */
export function handlePreflight(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
): boolean {
  const origin = req.headers.origin;
  if (req.method !== "OPTIONS" || !origin || !req.headers["access-control-request-method"]) return false;
  (res as ServerResponse).writeHead(204, {
    "access-control-allow-origin": origin,
    "access-control-allow-methods": cors.allowedMethods.join(", "),
    "access-control-allow-headers": ALLOW_HEADERS,
    "access-control-max-age": "7200",
    vary: "Origin",
  });
  (res as ServerResponse).end();
  return true;
}

/** Adds the CORS headers of an actual (non-preflight) response. */
export function decorate(headers: Headers, origin: string | null): void {
  if (!origin) return;
  headers.set("access-control-allow-origin", origin);
  headers.set("access-control-expose-headers", EXPOSE_HEADERS);
  headers.append("vary", "Origin");
}
