// The request gate and the error interceptor on their own, over a fake authenticator: the
// order of the gate's checks (nothing is looked up for a malformed Idempotency-Key), what it
// hands to the handlers, and how failures become public errors, logged only when they are
// ours. The real thing runs end to end in test/edge.test.ts and test/security.test.ts.
import { Writable } from "node:stream";
import type { DescService } from "@bufbuild/protobuf";
import { createContextValues, createHandlerContext } from "@connectrpc/connect";
import { AppError, createLogger } from "@emailauth/platform";
import { AuthService } from "@emailauth/proto/auth";
import { Health } from "@emailauth/proto/health";
import type { ClientApp } from "@emailauth/proto/persistence";
import { describe, expect, it } from "vitest";
import type { ClientAppAuthenticator } from "../auth/client-app-auth.ts";
import { appError } from "../errors.ts";
import { CLIENT_APP, IDEMPOTENCY_KEY, REQUEST_ID, RPC_STATE } from "./context.ts";
import { createErrorInterceptor, createRequestGate } from "./interceptors.ts";
import { reasonOf } from "./public-errors.ts";

const app = {
  id: "app_aaaaaaaaaaaaaaaa",
  settings: { allowedOrigins: ["https://shop.example"] },
} as ClientApp;

function harness(answer: ClientApp | Error = app, appRequestsPerSecond = 100) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: "test",
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }),
  });
  const presented: (string | null)[] = [];
  const authenticator = {
    async authenticate(header: string | null) {
      presented.push(header);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as ClientAppAuthenticator;
  const gate = createRequestGate({ authenticator, appRequestsPerSecond, logger });
  const context = (headers: Record<string, string>, service: DescService = AuthService) => {
    const values = createContextValues().set(REQUEST_ID, "req-1");
    const method = service.methods[0];
    if (!method) throw new Error("no method");
    return createHandlerContext({
      service,
      method,
      protocolName: "connect",
      requestMethod: "POST",
      url: `http://gateway/${service.typeName}/${method.name}`,
      requestHeader: headers,
      contextValues: values,
    });
  };
  return { gate, context, presented, lines };
}

async function refusal(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return reasonOf(err as never);
  }
  throw new Error("expected a refusal");
}

describe("the request gate", () => {
  it("authenticates AuthService calls and hands the app and the Idempotency-Key on", async () => {
    const h = harness();
    const ctx = h.context({ authorization: "Bearer eak_x", "idempotency-key": "retry-1" });
    await h.gate(ctx);
    expect(h.presented).toEqual(["Bearer eak_x"]);
    expect(ctx.values.get(CLIENT_APP)).toBe(app);
    expect(ctx.values.get(IDEMPOTENCY_KEY)).toBe("retry-1");
  });

  it("lets health and reflection through without a key", async () => {
    const h = harness(appError("API_KEY_INVALID"));
    await h.gate(h.context({}, Health));
    expect(h.presented).toEqual([]);
  });

  it("refuses a malformed Idempotency-Key before looking the key up", async () => {
    const h = harness();
    for (const key of ["", "a".repeat(101), "spaces are not allowed", "semi;colon"]) {
      expect(
        await refusal(h.gate(h.context({ authorization: "Bearer eak_x", "idempotency-key": key }))),
      ).toBe("INVALID_ARGUMENT");
    }
    expect(h.presented).toEqual([]);
  });

  it("refuses an origin the app does not list, and allows server calls with none", async () => {
    const h = harness();
    expect(
      await refusal(h.gate(h.context({ authorization: "Bearer eak_x", origin: "https://evil.example" }))),
    ).toBe("ORIGIN_NOT_ALLOWED");
    await h.gate(h.context({ authorization: "Bearer eak_x", origin: "https://shop.example" }));
    await h.gate(h.context({ authorization: "Bearer eak_x" }));
  });

  it("holds one app to its request rate, with a retry time", async () => {
    const h = harness(app, 2);
    const ctx = () => h.context({ authorization: "Bearer eak_x" });
    await h.gate(ctx());
    await h.gate(ctx());
    const before = Date.now();
    try {
      await h.gate(ctx());
      expect.unreachable("the third request in a second should be refused");
    } catch (err) {
      expect(reasonOf(err as never)).toBe("RATE_LIMITED");
      expect(String((err as Error).message)).toMatch(/retry/i);
      expect(Date.now() - before).toBeLessThan(1000);
    }
  });

  it("passes a refused key on as it is, unlogged; an unexpected failure as INTERNAL, logged", async () => {
    const refused = harness(appError("API_KEY_INVALID"));
    expect(await refusal(refused.gate(refused.context({ authorization: "Bearer eak_x" })))).toBe(
      "API_KEY_INVALID",
    );
    expect(refused.lines).toEqual([]);

    const broken = harness(new TypeError("cache exploded"));
    expect(await refusal(broken.gate(broken.context({ authorization: "Bearer eak_x" })))).toBe("INTERNAL");
    expect(broken.lines).toMatchObject([{ level: "error", msg: "request failed", requestId: "req-1" }]);
  });
});

describe("the error interceptor", () => {
  const logger = createLogger({
    service: "test",
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });
  const request = (values = createContextValues().set(RPC_STATE, { handlerReached: false })) =>
    ({ stream: false, method: AuthService.methods[0], contextValues: values }) as never;

  it("marks the handler reached, and turns what handlers throw into public errors", async () => {
    const values = createContextValues().set(RPC_STATE, { handlerReached: false });
    const interceptor = createErrorInterceptor({ logger });
    const failing = interceptor(async () => {
      throw appError("CODE_INVALID");
    });
    expect(await refusal(failing(request(values)))).toBe("CODE_INVALID");
    expect(values.get(RPC_STATE).handlerReached).toBe(true);

    const buggy = interceptor(async () => {
      throw new RangeError("index out of range");
    });
    const err = await buggy(request()).catch((e: unknown) => e);
    expect(reasonOf(err as never)).toBe("INTERNAL");
    // Nothing of the bug reaches the caller.
    expect(String((err as Error).message)).not.toContain("index out of range");
    expect(err).not.toBeInstanceOf(AppError);
  });
});
