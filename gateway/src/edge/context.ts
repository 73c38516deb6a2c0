// Values the edge interceptors hand to the handlers of a request.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { ClientApp } from "@emailauth/proto/persistence";

export const CLIENT_APP = createContextKey<ClientApp | undefined>(undefined, { description: "client app" });
export const REQUEST_ID = createContextKey<string>("", { description: "request id" });
/**
 * Names the request for idempotent upstream calls: the client app's `Idempotency-Key` header
 * when it sent one (so its own retries are safe too), else the request id (so the gateway's
 * retries to another replica are).
 */
export const IDEMPOTENCY_KEY = createContextKey<string>("", { description: "idempotency key" });

/** The authenticated client app of a request (the guard interceptor has set it). */
export function clientAppOf(ctx: HandlerContext): ClientApp {
  const app = ctx.values.get(CLIENT_APP);
  if (!app) throw new Error("no client app on an authenticated request");
  return app;
}
