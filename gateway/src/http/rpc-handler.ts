// The Node request handler of the RPCs: Connect's router (protocol negotiation, decoding,
// request gate, interceptors, handlers), with our edge wrapped around each of its handlers
// (rpc-edge.ts) and the request's context values set from the connection. Like
// connectNodeAdapter, which it replaces so that the edge sees every answer.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { ContextValues } from "@connectrpc/connect";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  createConnectRouter,
} from "@connectrpc/connect";
import type {
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";

export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;

export interface RpcHandlerOptions extends Partial<ConnectRouterOptions> {
  routes(router: ConnectRouter): void;
  /** Wraps each RPC's handler (the edge). */
  wrap(handler: UniversalHandler): UniversalHandler;
  /**
   * Before Connect sees the request: an answer to write as is (a refusal), or undefined to go
   * on. Given the unwrapped handler (which RPC), the request's content type and origin.
   */
  early?(
    handler: UniversalHandler,
    request: { contentType: string | undefined; origin: string | undefined },
    values: ContextValues,
  ): { status: number; headers: Record<string, string>; body: Uint8Array } | undefined;
  /** The context values of a request, from its connection and headers. */
  contextValues(req: NodeRequest): ContextValues;
  /** Everything that is not an RPC path. */
  fallback(req: NodeRequest, res: NodeResponse): void;
  /**
   * A request Connect cannot even represent (no Host, or one that is not a valid authority,
   * on HTTP/1.x): answered here, as the caller's error.
   */
  unreadable(req: NodeRequest, res: NodeResponse, values: ContextValues, err: unknown): void;
}

/** Said to the handlers' signal when the client goes away (a reason: see below). */
const CLIENT_GONE = new ConnectError("the client went away", Code.Canceled);

/**
 * Connect's universalRequestFromNodeRequest, less two costs measured on every request: its
 * AbortController is aborted without a reason when the response closes, which builds a
 * DOMException with a stack trace (4 % of the gateway's CPU under load), and its body is a
 * transpiled async generator around the request (the request is an async iterable itself).
 * The signal still says the client went away; a reset's HTTP/2 code is not told apart.
 */
function universalRequestOf(
  req: NodeRequest,
  res: NodeResponse,
  values: ContextValues,
): UniversalServerRequest {
  const authority = "authority" in req ? req.authority : req.headers.host;
  if (authority === undefined) {
    throw new ConnectError(
      "unable to determine request authority from Node.js server request",
      Code.Internal,
    );
  }
  const encrypted = "encrypted" in req.socket && (req.socket as { encrypted?: boolean }).encrypted;
  const controller = new AbortController();
  const abort = () => controller.abort(CLIENT_GONE);
  // HTTP/2: the request closes with its stream. HTTP/1.1: it closes as soon as its body is
  // read, so the response's close is the one that says the exchange is over.
  if ("stream" in req) req.once("close", abort);
  else {
    req.once("error", abort);
    res.once("close", abort);
  }
  const header = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) header.append(name, v);
    else header.append(name, value);
  }
  return {
    httpVersion: req.httpVersion,
    method: req.method ?? "",
    url: new URL(req.url ?? "", `${encrypted ? "https" : "http"}://${authority}`).toString(),
    header,
    body: req as AsyncIterable<Uint8Array>,
    signal: controller.signal,
    contextValues: values,
  };
}

export function createRpcHandler(options: RpcHandlerOptions): (req: NodeRequest, res: NodeResponse) => void {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const paths = new Map<string, { raw: UniversalHandler; handler: UniversalHandler }>();
  for (const raw of router.handlers) paths.set(raw.requestPath, { raw, handler: options.wrap(raw) });
  return (req, res) => {
    const route = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (!route) {
      options.fallback(req, res);
      return;
    }
    const { raw, handler } = route;
    const values = options.contextValues(req);
    const answer = options.early?.(
      raw,
      { contentType: req.headers["content-type"], origin: req.headers.origin },
      values,
    );
    if (answer) {
      // The body is not read: Node discards it (HTTP/1.1 keep-alive) or the stream is closed.
      (res as ServerResponse).writeHead(answer.status, answer.headers);
      res.end(answer.body);
      return;
    }
    let uReq: UniversalServerRequest;
    try {
      uReq = universalRequestOf(req, res, values);
    } catch (err) {
      // Thrown synchronously: uncaught, it would end the process.
      options.unreadable(req, res, values, err);
      return;
    }
    handler(uReq)
      .then((uRes) => universalResponseToNodeResponse(withPlainGrpcMessage(uRes), res))
      // The edge has logged a handler that threw; a write that fails means the client has
      // gone. Either way, end the response.
      .catch(() => {
        try {
          if (!res.headersSent) (res as ServerResponse).writeHead(500);
          res.end();
        } catch {
          // already closed
        }
      });
  };
}

/**
 * The gRPC spec percent-encodes grpc-message only outside printable ASCII (and "%" itself);
 * connect-node encodes it with encodeURIComponent, which also turns ",", ":", "/"... into
 * %XX. grpc-js decodes with decodeURI, which leaves those escaped: its users read
 * "missing%2C unknown". Re-encoded the spec's way, every client reads the same text.
 */
export function grpcPercentEncode(text: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(text)) {
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function respell(headers: Headers | undefined): void {
  const message = headers?.get("grpc-message");
  if (!headers || message == null) return;
  let text: string;
  try {
    text = decodeURIComponent(message);
  } catch {
    return;
  }
  headers.set("grpc-message", grpcPercentEncode(text));
}

function withPlainGrpcMessage(uRes: UniversalServerResponse): UniversalServerResponse {
  respell(uRes.header);
  const { body, trailer } = uRes;
  if (!trailer) return uRes;
  if (body === undefined || body instanceof Uint8Array) {
    respell(trailer);
    return uRes;
  }
  // gRPC fills the trailer as its body ends, and the trailer is written after that.
  return {
    ...uRes,
    body: (async function* () {
      yield* body;
      respell(trailer);
    })(),
  };
}
