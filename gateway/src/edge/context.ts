// Values the edge hands to the layers after it and to the handlers of a request.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { ClientApp } from "@emailauth/proto/persistence";

export const CLIENT_APP = createContextKey<ClientApp | undefined>(undefined, { description: "client app" });
/** The request's trace id: echoed, logged, passed upstream. It never decides anything. */
export const REQUEST_ID = createContextKey<string>("", { description: "request id" });
/** The address the request came from (the peer, or the client behind a trusted proxy). */
export const CLIENT_ADDRESS = createContextKey<string>("", { description: "client address" });
/** The client app's `Idempotency-Key` header, validated; "" when it sent none. */
export const IDEMPOTENCY_KEY = createContextKey<string>("", { description: "idempotency key" });

/** What the edge learns about a request while the layers below it run. */
export interface RpcState {
  /** Our interceptors ran: an error without our reason after this is a fault, not bad input. */
  handlerReached: boolean;
  /** Called when the handler starts: the body has arrived (admission counts it from here). */
  onHandler?: () => void;
}
export const RPC_STATE = createContextKey<RpcState>({ handlerReached: false }, { description: "rpc state" });

/** Admission's decision on a request, made once, before Connect reads it (rpc-edge.ts). */
export type AdmissionDecision =
  | { kind: "private" }
  | { kind: "admitted"; ticket: { begin(): void; done(): void } }
  | { kind: "refused"; reason: "OVERLOADED" | "UPSTREAM_UNAVAILABLE"; retryAfterMs: number };
export const ADMISSION = createContextKey<AdmissionDecision | undefined>(undefined, {
  description: "admission",
});

/** The authenticated client app of a request (the request gate has set it). */
export function clientAppOf(ctx: HandlerContext): ClientApp {
  const app = ctx.values.get(CLIENT_APP);
  if (!app) throw new Error("no client app on an authenticated request");
  return app;
}
