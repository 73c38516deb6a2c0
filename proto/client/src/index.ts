// @emailauth/client, the typed client for client apps: the public AuthService over the
// Connect protocol, on `fetch`, so the same code runs in Node (18+), Bun, Deno and browsers.
// Published compiled (dist/); this repository's own code imports "@emailauth/client/source".
//
//   import { createAuthClient } from "@emailauth/client";
//   const auth = createAuthClient({ baseUrl: "https://auth.example.com", apiKey: process.env.EMAILAUTH_API_KEY });
//   const { challengeId } = await auth.startLogin({ email: "jane@example.com", locale: "en" });
//   const session = await auth.verifyLogin({ target: { case: "challengeId", value: challengeId }, code });
//
// Errors are ConnectErrors: `err.code` (e.g. Code.Unauthenticated) and, for the stable reason,
// `errorReason(err)` ("CODE_INVALID", "RATE_LIMITED"...) and `retryAt(err)`.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AuthService } from "./gen/emailauth/auth/v1/auth_pb.ts";
import { ErrorDetailSchema } from "./gen/emailauth/common/v1/error_detail_pb.ts";

export interface AuthClientOptions {
  /** The gateway's base URL, e.g. https://auth.example.com. */
  baseUrl: string;
  /** The client app's API key (eak_...). Keep it on your server unless the app is browser-only. */
  apiKey: string;
  /** JSON (readable on the wire) or binary protobuf (smaller). Default: JSON. */
  useBinaryFormat?: boolean;
  /** A fetch implementation, if not the global one. */
  fetch?: typeof globalThis.fetch;
}

export type AuthClient = Client<typeof AuthService>;

export function createAuthClient(options: AuthClientOptions): AuthClient {
  const apiKey: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${options.apiKey}`);
    return next(req);
  };
  return createClient(
    AuthService,
    createConnectTransport({
      baseUrl: options.baseUrl,
      useBinaryFormat: options.useBinaryFormat ?? false,
      interceptors: [apiKey],
      ...(options.fetch && { fetch: options.fetch }),
    }),
  );
}

/**
 * The stable reasons the gateway gives (the README's error table; the OpenAPI document lists
 * them per method). New reasons may be added: handle unknown ones as their `code`.
 */
export type ErrorReason =
  | "INVALID_ARGUMENT"
  | "REQUEST_TOO_LARGE"
  | "IDEMPOTENCY_KEY_REUSED"
  | "EMAIL_INVALID"
  | "API_KEY_INVALID"
  | "ORIGIN_NOT_ALLOWED"
  | "LOGIN_METHOD_NOT_ALLOWED"
  | "RATE_LIMITED"
  | "EMAIL_LOCKED"
  | "CODE_INVALID"
  | "CHALLENGE_NOT_FOUND"
  | "SESSION_INVALID"
  | "REFRESH_TOKEN_REUSED"
  | "OVERLOADED"
  | "UPSTREAM_UNAVAILABLE"
  | "UNIMPLEMENTED"
  | "DEADLINE_EXCEEDED"
  | "CANCELED"
  | "INTERNAL"
  | (string & {});

/** The stable reason of an error from the gateway ("CODE_INVALID", "RATE_LIMITED"...). */
export function errorReason(err: unknown): ErrorReason | undefined {
  return err instanceof ConnectError ? err.findDetails(ErrorDetailSchema)[0]?.reason : undefined;
}

/** When the call may be retried (RATE_LIMITED, EMAIL_LOCKED). */
export function retryAt(err: unknown): Date | undefined {
  const detail = err instanceof ConnectError ? err.findDetails(ErrorDetailSchema)[0] : undefined;
  return detail?.retryAt ? timestampDate(detail.retryAt) : undefined;
}

export { Code, ConnectError } from "@connectrpc/connect";
export * from "./gen/emailauth/auth/v1/auth_pb.ts";
export { AuthService };
