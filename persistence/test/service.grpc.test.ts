// The PersistenceService over a real grpc-js connection, backed by a real redis-server: every
// RPC, and its errors as gRPC status codes with stable reasons.
import { randomUUID } from "node:crypto";
import { createLogSink, type RedisProcess, startRedis } from "@emailauth/devkit";
import {
  AppError,
  createGrpcClient,
  createLogger,
  createMetrics,
  createUpstream,
  grpcHealthCheck,
  type ServiceHost,
  serverCredentials,
  type Upstream,
} from "@emailauth/platform";
import { ChallengeState, CodeAlphabet, PersistenceServiceClient } from "@emailauth/proto/persistence";
import { persistenceReasons } from "@emailauth/proto/reasons";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPersistenceCore } from "../src/core.ts";
import type { Reason } from "../src/errors.ts";
import { createGuessBudget } from "../src/limits/guess-budget.ts";
import { createSendLimits } from "../src/limits/send-limits.ts";
import { createPersistenceServer } from "../src/server.ts";
import { openStore } from "../src/store/open-store.ts";

/** No idempotency key (every field of the request spelled out, as ts-proto wants). */
const NO_KEY = { idempotencyKey: "", requestFingerprint: Buffer.alloc(0), idempotencyKeyGenerated: false };

const SETTINGS = {
  displayName: "Shop",
  senderAddress: "",
  codeAlphabet: CodeAlphabet.CODE_ALPHABET_DIGITS,
  codeLength: 0,
  codeTtlSeconds: 0,
  allowedOrigins: [],
  sendsPerMinute: 0,
  loginMethods: [],
  linkUrl: "",
};

let redis: RedisProcess;
let server: ServiceHost;
let client: PersistenceServiceClient;
let api: Upstream<PersistenceServiceClient>;
const logs = createLogSink();

beforeAll(async () => {
  redis = await startRedis();
  const logger = createLogger({ service: "persistence", level: "debug", destination: logs.stream });
  const opened = openStore({ redisUrl: redis.url, prefix: "ea:", logger });
  const core = createPersistenceCore({
    store: opened.store,
    limits: createSendLimits({
      backend: opened.limitsBackend,
      config: { ipPerHour: 30, appPerMinute: 600, globalPerMinute: 6000 },
    }),
    emailLimits: { cooldownMs: 60_000, perHour: 5 },
    budget: createGuessBudget({
      backend: opened.limitsBackend,
      config: { appPerHour: 200, globalPerHour: 400 },
    }),
    pepper: "grpc-test-pepper-grpc-test-pepper-grpc",
    codeSecrets: ["grpc-test-code-secret-grpc-test-code-secret"],
    clock: Date.now,
    rules: { maxAttempts: 5, maxFailures: 100, failureWindowMs: 86_400_000, challengeRetentionMs: 3_600_000 },
    sessionLifetimes: { idleMs: 30 * 86_400_000, maxMs: 90 * 86_400_000 },
    clientAppCacheTtlMs: 0,
  });
  server = createPersistenceServer({
    logger,
    metrics: createMetrics({ service: "persistence", defaultMetrics: false }),
    credentials: serverCredentials(undefined),
    core,
    checks: opened.checks,
  });
  const { grpcPort } = await server.listen({ host: "127.0.0.1", grpcPort: 0, httpPort: 0 });
  client = await createGrpcClient({
    Client: PersistenceServiceClient,
    addresses: [`127.0.0.1:${grpcPort}`],
    credentials: credentials.createInsecure(),
  });
  api = createUpstream(client, {
    service: "persistence",
    reasons: persistenceReasons,
    metrics: createMetrics({ service: "test", defaultMetrics: false }),
    deadlineMs: 5_000,
  });
});

afterAll(async () => {
  client?.close();
  await server?.stop(1_000);
  await redis?.stop();
});

/** The call's failure: its gRPC status code and the reason it carried. */
async function failure(promise: Promise<unknown>): Promise<{ code: number; reason: Reason; retryAt?: Date }> {
  try {
    await promise;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const wire = err.cause as ServiceError;
    return { code: wire.code, reason: err.reason, ...(err.retryAt && { retryAt: err.retryAt }) };
  }
  throw new Error("expected the call to fail");
}

describe("PersistenceService over gRPC", () => {
  it("manages a client app's whole life", async () => {
    const created = await api.call("createClientApp", { settings: SETTINGS });
    const id = created.clientApp?.id ?? "";
    expect(created.apiKey).toMatch(/^eak_[a-z2-7]{52}$/);
    expect(created.clientApp?.settings).toMatchObject({
      displayName: "Shop",
      codeLength: 6,
      codeTtlSeconds: 600,
    });

    expect((await api.call("authenticateClientApp", { apiKey: created.apiKey })).clientApp?.id).toBe(id);
    expect((await api.call("getClientApp", { clientAppId: id })).clientApp?.keyPrefix).toBe(
      created.apiKey.slice(0, 12),
    );
    const listed = await api.call("listClientApps", { pageSize: 1000, pageToken: "" });
    expect(listed.clientApps.map((a) => a.id)).toContain(id);

    const updated = await api.call("updateClientApp", {
      clientAppId: id,
      settings: { ...SETTINGS, displayName: "Shop 2", codeAlphabet: CodeAlphabet.CODE_ALPHABET_ALPHANUMERIC },
    });
    expect(updated.clientApp?.settings).toMatchObject({
      displayName: "Shop 2",
      codeAlphabet: CodeAlphabet.CODE_ALPHABET_ALPHANUMERIC,
      codeLength: 8,
    });

    const rotated = await api.call("rotateClientAppKey", { clientAppId: id, graceSeconds: 0 });
    expect(await failure(api.call("authenticateClientApp", { apiKey: created.apiKey }))).toEqual({
      code: status.UNAUTHENTICATED,
      reason: "API_KEY_INVALID",
    });
    await api.call("disableClientApp", { clientAppId: id });
    expect(await failure(api.call("authenticateClientApp", { apiKey: rotated.apiKey }))).toEqual({
      code: status.UNAUTHENTICATED,
      reason: "CLIENT_APP_DISABLED",
    });
    await api.call("enableClientApp", { clientAppId: id });
    await api.call("authenticateClientApp", { apiKey: rotated.apiKey });
    expect((await api.call("deleteClientApp", { clientAppId: id })).deleted).toBe(true);
    expect(await failure(api.call("getClientApp", { clientAppId: id }))).toEqual({
      code: status.NOT_FOUND,
      reason: "CLIENT_APP_NOT_FOUND",
    });
  });

  it("logs a person in, refreshes, detects reuse, revokes and erases", async () => {
    const { clientApp } = await api.call("createClientApp", { settings: SETTINGS });
    const clientAppId = clientApp?.id ?? "";
    const email = `Jane.${randomUUID()}@Example.COM `;
    const issued = await api.call("issueLoginCode", {
      clientAppId,
      email,
      endUserIp: "203.0.113.9",
      ...NO_KEY,
    });
    expect(issued.email).toBe(email.trim().toLowerCase());
    expect(issued.code).toMatch(/^\d{6}$/);
    expect(issued.resendAvailableAt?.getTime()).toBeGreaterThan(Date.now() + 55_000);
    expect((await api.call("getChallenge", { challengeId: issued.challengeId })).state).toBe(
      ChallengeState.CHALLENGE_STATE_PENDING,
    );
    expect(
      await failure(api.call("issueLoginCode", { clientAppId, email, endUserIp: "", ...NO_KEY })),
    ).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      reason: "RATE_LIMITED",
    });

    const wrong = issued.code === "000000" ? "111111" : "000000";
    expect(
      await failure(
        api.call("consumeLoginCode", {
          clientAppId,
          email,
          code: wrong,
          linkToken: "",
          userAgent: "",
          ...NO_KEY,
        }),
      ),
    ).toEqual({
      code: status.UNAUTHENTICATED,
      reason: "CODE_INVALID",
    });
    const done = await api.call("consumeLoginCode", {
      clientAppId,
      email,
      code: issued.code,
      linkToken: "",
      userAgent: "Firefox",
      ...NO_KEY,
    });
    expect(done.newUser).toBe(true);
    const userId = done.user?.id ?? "";
    const sessionId = done.session?.id ?? "";
    expect((await api.call("getChallenge", { challengeId: issued.challengeId })).state).toBe(
      ChallengeState.CHALLENGE_STATE_CONSUMED,
    );

    expect((await api.call("getUser", { userId })).user?.email).toBe(issued.email);
    expect((await api.call("findUserByEmail", { email: issued.email.toUpperCase() })).user?.id).toBe(userId);
    expect((await api.call("getSession", { sessionId })).session?.userAgent).toBe("Firefox");
    expect(
      (await api.call("listUserSessions", { userId, clientAppId: "" })).sessions.map((s) => s.id),
    ).toEqual([sessionId]);

    const refreshed = await api.call("refreshSession", {
      clientAppId,
      refreshToken: done.refreshToken,
      ...NO_KEY,
    });
    expect(refreshed.session?.id).toBe(sessionId);
    expect(
      await failure(api.call("refreshSession", { clientAppId, refreshToken: done.refreshToken, ...NO_KEY })),
    ).toEqual({
      code: status.UNAUTHENTICATED,
      reason: "REFRESH_TOKEN_REUSED",
    });
    expect(await failure(api.call("getSession", { sessionId }))).toEqual({
      code: status.NOT_FOUND,
      reason: "SESSION_NOT_FOUND",
    });

    expect((await api.call("revokeSession", { sessionId, clientAppId })).revoked).toBe(false);
    expect((await api.call("revokeUserSessions", { userId, clientAppId: "" })).revokedCount).toBe(0);
    expect((await api.call("deleteUser", { userId })).deleted).toBe(true);
    expect(await failure(api.call("getUser", { userId }))).toEqual({
      code: status.NOT_FOUND,
      reason: "USER_NOT_FOUND",
    });
  });

  it("revokes sessions by refresh token and all of a user's at once", async () => {
    const { clientApp } = await api.call("createClientApp", { settings: SETTINGS });
    const clientAppId = clientApp?.id ?? "";
    const loginOnce = async (email: string) => {
      const issued = await api.call("issueLoginCode", {
        clientAppId,
        email,
        endUserIp: "",
        ...NO_KEY,
      });
      return api.call("consumeLoginCode", {
        clientAppId,
        challengeId: issued.challengeId,
        code: issued.code,
        linkToken: "",
        userAgent: "",
        ...NO_KEY,
      });
    };
    const a = await loginOnce(`a-${randomUUID()}@example.com`);
    expect((await api.call("revokeSession", { refreshToken: a.refreshToken, clientAppId })).revoked).toBe(
      true,
    );
    const email = `b-${randomUUID()}@example.com`;
    const b = await loginOnce(email);
    expect(
      (await api.call("revokeUserSessions", { userId: b.user?.id ?? "", clientAppId })).revokedCount,
    ).toBe(1);
  });

  it("refuses malformed requests with INVALID_ARGUMENT naming the field, before touching anything", async () => {
    const bad = [
      api.call("issueLoginCode", {
        clientAppId: "app_x",
        email: "a@b.co",
        endUserIp: "",
        ...NO_KEY,
      }),
      api.call("issueLoginCode", {
        clientAppId: `app_${"a".repeat(16)}`,
        email: "a@b.co",
        endUserIp: "999.1.1.1",
        ...NO_KEY,
      }),
      api.call("consumeLoginCode", {
        clientAppId: `app_${"a".repeat(16)}`,
        code: "123456",
        linkToken: "",
        userAgent: "",
        ...NO_KEY,
      }),
      api.call("consumeLoginCode", {
        clientAppId: `app_${"a".repeat(16)}`,
        challengeId: "chl_short",
        code: "123456",
        linkToken: "",
        userAgent: "",
        ...NO_KEY,
      }),
      api.call("getUser", { userId: "../../etc/passwd" }),
      api.call("rotateClientAppKey", { clientAppId: `app_${"a".repeat(16)}`, graceSeconds: 10_000_000 }),
    ];
    for (const call of bad) {
      expect(await failure(call)).toEqual({ code: status.INVALID_ARGUMENT, reason: "INVALID_ARGUMENT" });
    }
    expect(
      await failure(
        api.call("issueLoginCode", {
          clientAppId: `app_${"a".repeat(16)}`,
          email: "a@b\r\nBcc: x@y.z",
          endUserIp: "",
          ...NO_KEY,
        }),
      ),
    ).toEqual({ code: status.INVALID_ARGUMENT, reason: "EMAIL_INVALID" });
    expect(
      await failure(api.call("createClientApp", { settings: { ...SETTINGS, codeTtlSeconds: 3600 } })),
    ).toEqual({ code: status.INVALID_ARGUMENT, reason: "CLIENT_APP_SETTINGS_INVALID" });
    expect(
      await failure(
        api.call("issueLoginCode", {
          clientAppId: `app_${"a".repeat(16)}`,
          email: "a@b.co",
          endUserIp: "",
          ...NO_KEY,
        }),
      ),
    ).toEqual({ code: status.NOT_FOUND, reason: "CLIENT_APP_NOT_FOUND" });
  });

  it("binds an idempotency key to its request: the same request is answered, another refused", async () => {
    const { clientApp } = await api.call("createClientApp", { settings: SETTINGS });
    const clientAppId = clientApp?.id ?? "";
    const keyed = {
      idempotencyKey: `key-${randomUUID()}`,
      requestFingerprint: Buffer.from("fingerprint of the public request"),
      idempotencyKeyGenerated: false,
    };
    const email = `k-${randomUUID()}@example.com`;
    const first = await api.call("issueLoginCode", { clientAppId, email, endUserIp: "", ...keyed });
    const again = await api.call("issueLoginCode", { clientAppId, email, endUserIp: "", ...keyed });
    expect(again.challengeId).toBe(first.challengeId);
    const other = api.call("issueLoginCode", {
      clientAppId,
      email: `other-${email}`,
      endUserIp: "",
      ...keyed,
    });
    expect(await failure(other)).toEqual({
      code: status.FAILED_PRECONDITION,
      reason: "IDEMPOTENCY_KEY_REUSED",
    });
    const tooLong = api.call("issueLoginCode", {
      clientAppId,
      email,
      endUserIp: "",
      ...keyed,
      requestFingerprint: Buffer.alloc(65),
    });
    expect(await failure(tooLong)).toEqual({ code: status.INVALID_ARGUMENT, reason: "INVALID_ARGUMENT" });
  });

  it("answers anything that is not an API key with API_KEY_INVALID, however long", async () => {
    for (const apiKey of ["", "eak_short", `eak_${"a".repeat(150)}`, "x".repeat(1000)]) {
      expect(await failure(api.call("authenticateClientApp", { apiKey }))).toEqual({
        code: status.UNAUTHENTICATED,
        reason: "API_KEY_INVALID",
      });
    }
  });

  it("serves batches: each request its own result, bad ones refused alone, retries answered the same", async () => {
    const app = (await api.call("createClientApp", { settings: SETTINGS })).clientApp?.id ?? "";
    const issue = (email: string, key: string) => ({
      clientAppId: app,
      email,
      endUserIp: "",
      idempotencyKey: key,
      requestFingerprint: Buffer.alloc(0),
      idempotencyKeyGenerated: true,
    });
    const a = `batch-a-${randomUUID()}@example.com`;
    const b = `batch-b-${randomUUID()}@example.com`;
    const requests = [
      issue(a, `k-${randomUUID()}`),
      issue("not an email", `k-${randomUUID()}`),
      issue(b, `k-${randomUUID()}`),
      { ...issue(a, `k-${randomUUID()}`), clientAppId: "app_aaaaaaaaaaaaaaaa" },
    ];
    const first = await api.call("issueLoginCodes", { requests, requestIds: ["r1", "r2", "r3", "r4"] });
    expect(first.results.map((r) => r.error?.reason ?? "ok")).toEqual([
      "ok",
      "EMAIL_INVALID",
      "ok",
      "CLIENT_APP_NOT_FOUND",
    ]);
    expect(first.results[0]?.response?.email).toBe(a);
    // The same batch again (a retry after a lost answer): the same challenges and codes, no
    // second send (the cooldown would refuse one).
    const again = await api.call("issueLoginCodes", { requests, requestIds: [] });
    expect(again.results.map((r) => r.response?.challengeId)).toEqual(
      first.results.map((r) => r.response?.challengeId),
    );
    expect(again.results.map((r) => r.response?.code)).toEqual(first.results.map((r) => r.response?.code));

    // Logins in one batch: the right code, a wrong one, and a second use of the right one in
    // another batch sent at the same time: one session, and one only.
    const codeA = first.results[0]?.response?.code ?? "";
    const codeB = first.results[2]?.response?.code ?? "";
    const consume = (challengeId: string, code: string) => ({
      clientAppId: app,
      challengeId,
      code,
      linkToken: "",
      userAgent: "",
      idempotencyKey: `c-${randomUUID()}`,
      requestFingerprint: Buffer.alloc(0),
      idempotencyKeyGenerated: true,
    });
    const challengeA = first.results[0]?.response?.challengeId ?? "";
    const challengeB = first.results[2]?.response?.challengeId ?? "";
    const wrongB = codeB === "000000" ? "111111" : "000000";
    const [one, two] = await Promise.all([
      api.call("consumeLoginCodes", {
        requests: [consume(challengeA, codeA), consume(challengeB, wrongB)],
        requestIds: [],
      }),
      api.call("consumeLoginCodes", { requests: [consume(challengeA, codeA)], requestIds: [] }),
    ]);
    const outcomes = [one.results[0], two.results[0]].map((r) => r?.error?.reason ?? "session");
    expect(outcomes.sort()).toEqual(["CODE_INVALID", "session"]);
    expect(one.results[1]?.error?.reason).toBe("CODE_INVALID");
    // B's code survived its wrong guess in a batch.
    const b2 = await api.call("consumeLoginCodes", {
      requests: [consume(challengeB, codeB)],
      requestIds: [],
    });
    expect(b2.results[0]?.response?.session?.id).toMatch(/^ses_/);
  });

  it("refuses an empty batch and one of more than 128 requests as a whole", async () => {
    expect((await failure(api.call("issueLoginCodes", { requests: [], requestIds: [] }))).reason).toBe(
      "INVALID_ARGUMENT",
    );
    const many = Array.from({ length: 129 }, () => ({
      clientAppId: "app_aaaaaaaaaaaaaaaa",
      email: "x@example.com",
      endUserIp: "",
      ...NO_KEY,
    }));
    const refused = await failure(api.call("issueLoginCodes", { requests: many, requestIds: [] }));
    expect([refused.code, refused.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_ARGUMENT"]);
  });

  it("never logs a code, a token, a key or an email address", () => {
    const text = logs.text();
    expect(logs.lines().length).toBeGreaterThan(10);
    expect(text).not.toMatch(/eak_[a-z2-7]{8}|ert_[a-z2-7]{8}|@example\.com|"code":"\d/i);
  });

  it("reports UNAVAILABLE, and NOT_SERVING health, while Redis is down", async () => {
    const health = grpcHealthCheck(client, PersistenceServiceClient.serviceName);
    await health(AbortSignal.timeout(2_000));
    redis.kill();
    expect(await failure(api.call("getUser", { userId: `usr_${"a".repeat(38)}` }))).toEqual({
      code: status.UNAVAILABLE,
      reason: "STORE_UNAVAILABLE",
    });
    await server.readiness.refresh();
    await expect(health(AbortSignal.timeout(2_000))).rejects.toThrow("not serving");
  });
});
