// The API-key cache and the throttle of failed keys, over a fake persistence (the real lookups
// are covered end to end in test/security.test.ts and test/edge.test.ts).
import { AppError } from "@emailauth/platform";
import type { ClientApp } from "@emailauth/proto/persistence";
import { describe, expect, it } from "vitest";
import { appError } from "../errors.ts";
import type { PersistenceUpstream } from "../upstreams.ts";
import { createClientAppAuthenticator } from "./client-app-auth.ts";

const KEY = `eak_${"a".repeat(52)}`;
const OTHER = `eak_${"b".repeat(52)}`;
const app = { id: "app_aaaaaaaaaaaaaaaa" } as ClientApp;

function harness(answers: Record<string, ClientApp | AppError>, failuresPerMinute = 3) {
  let now = 1_000_000;
  const lookups: string[] = [];
  const persistence = {
    async call(_method: string, request: { apiKey: string }) {
      lookups.push(request.apiKey);
      await Promise.resolve();
      const answer = answers[request.apiKey] ?? appError("API_KEY_INVALID");
      if (answer instanceof AppError) throw answer;
      return { clientApp: answer };
    },
  } as unknown as PersistenceUpstream;
  const auth = createClientAppAuthenticator({
    persistence,
    ttlMs: 30_000,
    failuresPerMinute,
    clock: () => now,
  });
  return {
    auth,
    lookups,
    advance: (ms: number) => {
      now += ms;
    },
    as: (key: string | null, clientAddress = "203.0.113.9") =>
      auth.authenticate(key === null ? null : `Bearer ${key}`, { clientAddress }),
  };
}

describe("the client app authenticator", () => {
  it("looks a key up once, shares the lookup between concurrent requests, caches it for the TTL", async () => {
    const h = harness({ [KEY]: app });
    const [a, b] = await Promise.all([h.as(KEY), h.as(KEY)]);
    expect([a.id, b.id]).toEqual([app.id, app.id]);
    await h.as(KEY);
    expect(h.lookups).toEqual([KEY]);
    h.advance(30_001);
    await h.as(KEY);
    expect(h.lookups).toEqual([KEY, KEY]);
  });

  it("refuses what is not shaped like a key without a lookup", async () => {
    const h = harness({});
    for (const header of [null, "eak_short", "not-a-key"]) {
      await expect(h.as(header, `198.51.100.${header?.length ?? 0}`)).rejects.toMatchObject({
        reason: "API_KEY_INVALID",
      });
    }
    expect(h.lookups).toEqual([]);
  });

  it("throttles an address that presents failed keys, but not a key that worked lately", async () => {
    const h = harness({ [KEY]: app }, 2);
    await h.as(KEY); // valid: remembered as recently valid
    h.advance(30_001); // past the cache: a lookup again
    for (let i = 0; i < 2; i++)
      await expect(h.as(OTHER)).rejects.toMatchObject({ reason: "API_KEY_INVALID" });
    await expect(h.as(OTHER)).rejects.toMatchObject({ reason: "RATE_LIMITED", retryAt: expect.any(Date) });
    // The app that shares the address keeps working.
    expect((await h.as(KEY)).id).toBe(app.id);
    // Another address is not held for this one's failures.
    await expect(h.as(OTHER, "192.0.2.1")).rejects.toMatchObject({ reason: "API_KEY_INVALID" });
  });

  it("does not count an outage against the address, nor remember it as a refusal", async () => {
    const h = harness({ [KEY]: appError("UPSTREAM_UNAVAILABLE") }, 1);
    await expect(h.as(KEY)).rejects.toMatchObject({ reason: "UPSTREAM_UNAVAILABLE" });
    await expect(h.as(KEY)).rejects.toMatchObject({ reason: "UPSTREAM_UNAVAILABLE" });
    expect(h.lookups).toEqual([KEY, KEY]);
  });
});
