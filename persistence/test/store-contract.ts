// The store contract: one suite of behaviours that every storage driver must show, run
// unchanged against the memory driver, a real standalone redis-server and a real 3-master
// Redis Cluster (store.*.test.ts). It drives the persistence domain (codes, sessions, users,
// client apps) over the driver, so it checks the rules the product promises, not a key layout.
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { createTestClock, type TestClock, waitFor } from "@emailauth/devkit";
import { AppError, type CallContext, createLogger, createMetrics, serveBatch } from "@emailauth/platform";
import { Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientAppSettingsInput } from "../src/client-apps/client-apps.ts";
import { createPersistenceCore, type PersistenceCore } from "../src/core.ts";
import { newChallengeId, newLinkToken } from "../src/crypto/ids.ts";
import type { Reason } from "../src/errors.ts";
import type { IdempotencyRequest } from "../src/idempotency/idempotency.ts";
import { createGuessBudget, type GuessBudgetConfig } from "../src/limits/guess-budget.ts";
import { createSendLimits, type LimitsBackend } from "../src/limits/send-limits.ts";
import { generateCode } from "../src/login/methods/code.ts";
import { createPersistenceHandlers } from "../src/service/handlers.ts";
import type { LoginMethodName, LoginRules, Store } from "../src/store/store.ts";

export interface DriverHarness {
  /** A store over the driver, using this clock where the driver keeps time itself. */
  makeStore(clock: () => number): Store;
  limitsBackend: LimitsBackend;
  /** Every key in the database (Redis drivers), for erasure checks. */
  keys?(): Promise<string[]>;
  close(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const RULES: LoginRules = {
  maxAttempts: 5,
  maxFailures: 100,
  failureWindowMs: DAY,
  challengeRetentionMs: HOUR,
};

interface Limits {
  emailCooldownMs: number;
  emailPerHour: number;
  ipPerHour: number;
  appPerMinute: number;
  globalPerMinute: number;
}

// Generous limits and budgets, so that only the tests about them meet them.
const OPEN_LIMITS: Limits = {
  emailCooldownMs: 0,
  emailPerHour: 1_000_000,
  ipPerHour: 1_000_000,
  appPerMinute: 1_000_000,
  globalPerMinute: 100_000_000,
};
const OPEN_BUDGET: GuessBudgetConfig = { appPerHour: 1_000_000, globalPerHour: 10_000_000 };

const NO_KEY: IdempotencyRequest = { key: "", requestFingerprint: new Uint8Array(), generated: false };
/** A client app's Idempotency-Key (checked app-wide), with the gateway's fingerprint. */
const keyed = (key: string, requestFingerprint = new Uint8Array()): IdempotencyRequest => ({
  key,
  requestFingerprint,
  generated: false,
});

const SETTINGS: ClientAppSettingsInput = {
  displayName: "Example",
  senderAddress: "",
  codeAlphabet: "digits",
  codeLength: 6,
  codeTtlSeconds: 600,
  allowedOrigins: [],
  sendsPerMinute: 0,
  loginMethods: [],
  linkUrl: "",
};

const uniqueEmail = () => `person-${randomUUID()}@example.com`;

async function reasonOf(promise: Promise<unknown>): Promise<{ reason: Reason; retryAt: Date | undefined }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return { reason: err.reason, retryAt: err.retryAt };
    throw err;
  }
  throw new Error("expected the call to fail");
}

/** A code of the same alphabet and length that is not `code`. */
function wrongCode(code: string): string {
  let other = code;
  while (other === code) other = generateCode("digits", code.length);
  return other;
}

export function describeStoreContract(name: string, setup: () => Promise<DriverHarness>): void {
  describe(`store contract: ${name}`, () => {
    let harness: DriverHarness;
    beforeAll(async () => {
      harness = await setup();
    });
    afterAll(async () => {
      await harness?.close();
    });

    interface World {
      core: PersistenceCore;
      clock: TestClock;
    }

    /** The limits backend, with counters of its own when a test needs them untouched by others. */
    function backendFor(isolated: boolean): LimitsBackend {
      const b = harness.limitsBackend;
      return isolated && b.kind === "redis" ? { ...b, prefix: `${b.prefix}t-${randomUUID()}:` } : b;
    }

    function world(
      options: {
        limits?: Partial<Limits>;
        rules?: Partial<LoginRules>;
        budget?: Partial<GuessBudgetConfig>;
        store?: (s: Store) => Store;
      } = {},
    ): World {
      const clock = createTestClock();
      const base = harness.makeStore(clock.now);
      const store = options.store ? options.store(base) : base;
      const limits = { ...OPEN_LIMITS, ...options.limits };
      const core = createPersistenceCore({
        store,
        limits: createSendLimits({ backend: harness.limitsBackend, config: limits }),
        emailLimits: { cooldownMs: limits.emailCooldownMs, perHour: limits.emailPerHour },
        budget: createGuessBudget({
          backend: backendFor(options.budget !== undefined),
          config: { ...OPEN_BUDGET, ...options.budget },
          clock: clock.now,
        }),
        pepper: "contract-test-pepper-contract-test-pepper",
        codeSecrets: ["contract-test-code-secret-0123456789abcdef"],
        clock: clock.now,
        rules: { ...RULES, ...options.rules },
        sessionLifetimes: { idleMs: 30 * DAY, maxMs: 90 * DAY },
        clientAppCacheTtlMs: 0,
      });
      return { core, clock };
    }

    async function appIn(w: World, settings: Partial<ClientAppSettingsInput> = {}) {
      return (await w.core.clientApps.create({ ...SETTINGS, ...settings })).app;
    }

    /** Issues a code as a client app does by default: no end-user IP, no idempotency key. */
    function issue(w: World, clientAppId: string, email: string) {
      return w.core.login.issue({ clientAppId, email, ipDigest: undefined, idempotency: NO_KEY });
    }

    /** Tries a code on a challenge: no user agent, no idempotency key. */
    function consume(w: World, clientAppId: string, challengeId: string, code: string) {
      return w.core.login.consume({
        clientAppId,
        target: { challengeId },
        proof: { method: "code", value: code },
        userAgent: "",
        idempotency: NO_KEY,
      });
    }

    async function login(w: World, appId: string, email: string) {
      const issued = await issue(w, appId, email);
      return w.core.login.consume({
        clientAppId: appId,
        target: { challengeId: issued.challengeId },
        proof: { method: "code", value: issued.code },
        userAgent: "test-agent/1.0",
        idempotency: NO_KEY,
      });
    }

    describe("login codes", () => {
      it("logs a person in with the emailed code and creates the user on the first login", async () => {
        const w = world();
        const app = await appIn(w);
        const email = uniqueEmail();
        const issued = await issue(w, app.id, email);
        expect(issued.code).toMatch(/^\d{6}$/);
        expect(issued.challengeId).toMatch(/^chl_[a-z2-7]{38}$/);
        expect(issued.expiresAt).toBe(w.clock.now() + 600_000);

        const first = await w.core.login.consume({
          clientAppId: app.id,
          target: { challengeId: issued.challengeId },
          proof: { method: "code", value: issued.code },
          userAgent: "test-agent/1.0",
          idempotency: NO_KEY,
        });
        expect(first.newUser).toBe(true);
        expect(first.user).toMatchObject({ email, createdAt: w.clock.now() });
        expect(first.user.id).toMatch(/^usr_[a-z2-7]{38}$/);
        expect(first.session).toMatchObject({
          userId: first.user.id,
          clientAppId: app.id,
          userAgent: "test-agent/1.0",
        });
        expect(first.refreshToken).toMatch(/^ert_[a-z2-7]{64}$/);

        w.clock.advance(MINUTE);
        const second = await login(w, app.id, email);
        expect(second.newUser).toBe(false);
        expect(second.user.id).toBe(first.user.id);
        expect(second.session.id).not.toBe(first.session.id);
        expect((await w.core.users.findByEmail(email)).id).toBe(first.user.id);
      });

      it("creates no account for a code that is never used (a typo creates nothing)", async () => {
        const w = world();
        const app = await appIn(w);
        const email = uniqueEmail();
        await issue(w, app.id, email);
        expect((await reasonOf(w.core.users.findByEmail(email))).reason).toBe("USER_NOT_FOUND");
      });

      it("verifies by email against the most recent code of that email for that app", async () => {
        const w = world();
        const app = await appIn(w);
        const email = uniqueEmail();
        const older = await issue(w, app.id, email);
        const newer = await issue(w, app.id, email);
        const byEmail = (code: string) =>
          w.core.login.consume({
            clientAppId: app.id,
            target: { email },
            proof: { method: "code", value: code },
            userAgent: "",
            idempotency: NO_KEY,
          });
        if (older.code !== newer.code)
          expect((await reasonOf(byEmail(older.code))).reason).toBe("CODE_INVALID");
        const done = await byEmail(newer.code);
        expect(done.user.email).toBe(email);
        expect((await w.core.login.getChallenge(newer.challengeId)).state).toBe("consumed");
      });

      it("accepts the code as people type it: spaces, dashes, letter case", async () => {
        const w = world();
        const app = await appIn(w, { codeAlphabet: "alphanumeric", codeLength: 10 });
        const email = uniqueEmail();
        const issued = await issue(w, app.id, email);
        expect(issued.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{10}$/);
        const typed = `${issued.code.slice(0, 5).toLowerCase()} - ${issued.code.slice(5)}`;
        const done = await consume(w, app.id, issued.challengeId, typed);
        expect(done.user.email).toBe(email);
      });

      it("gives one answer for wrong, used, superseded, expired, foreign and unknown codes", async () => {
        const w = world();
        const app = await appIn(w);
        const other = await appIn(w);
        const email = uniqueEmail();
        const refusal = (challengeId: string, code: string, clientAppId = app.id) =>
          reasonOf(consume(w, clientAppId, challengeId, code));

        const a = await issue(w, app.id, email);
        expect((await refusal(a.challengeId, wrongCode(a.code))).reason).toBe("CODE_INVALID"); // wrong
        expect((await refusal(a.challengeId, a.code, other.id)).reason).toBe("CODE_INVALID"); // another app
        const used = await issue(w, app.id, email);
        expect((await refusal(a.challengeId, a.code)).reason).toBe("CODE_INVALID"); // superseded
        await consume(w, app.id, used.challengeId, used.code);
        expect((await refusal(used.challengeId, used.code)).reason).toBe("CODE_INVALID"); // used
        const late = await issue(w, app.id, email);
        w.clock.advance(600_000);
        expect((await refusal(late.challengeId, late.code)).reason).toBe("CODE_INVALID"); // expired
        expect((await w.core.login.getChallenge(late.challengeId)).state).toBe("expired");
        const unknown = `chl_${late.challengeId.slice(4, 16)}${"a".repeat(26)}`;
        expect((await refusal(unknown, late.code)).reason).toBe("CODE_INVALID"); // unknown
        expect((await w.core.login.getChallenge(a.challengeId)).state).toBe("superseded");
      });

      it("kills a code after 5 wrong guesses: then even the right code fails", async () => {
        const w = world();
        const app = await appIn(w);
        const issued = await issue(w, app.id, uniqueEmail());
        for (let i = 0; i < 5; i++) {
          const r = await reasonOf(consume(w, app.id, issued.challengeId, wrongCode(issued.code)));
          expect(r.reason).toBe("CODE_INVALID");
        }
        const right = consume(w, app.id, issued.challengeId, issued.code);
        expect((await reasonOf(right)).reason).toBe("CODE_INVALID");
        expect(await w.core.login.getChallenge(issued.challengeId)).toMatchObject({
          state: "exhausted",
          failedAttempts: 5,
        });
      });

      it("opens exactly one session for 50 concurrent uses of the right code", async () => {
        const w = world();
        const app = await appIn(w);
        const issued = await issue(w, app.id, uniqueEmail());
        const results = await Promise.allSettled(
          Array.from({ length: 50 }, () => consume(w, app.id, issued.challengeId, issued.code)),
        );
        const ok = results.filter((r) => r.status === "fulfilled");
        expect(ok).toHaveLength(1);
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(rejected.every((r) => (r.reason as AppError).reason === "CODE_INVALID")).toBe(true);
        const userId = (ok[0] as PromiseFulfilledResult<{ user: { id: string } }>).value.user.id;
        expect(await w.core.sessions.listForUser({ userId, clientAppId: "" })).toHaveLength(1);
      });

      it("counts exactly 5 of 50 concurrent wrong guesses, and the code is dead", async () => {
        const w = world();
        const app = await appIn(w);
        const email = uniqueEmail();
        const issued = await issue(w, app.id, email);
        const bad = wrongCode(issued.code);
        const results = await Promise.allSettled(
          Array.from({ length: 50 }, () => consume(w, app.id, issued.challengeId, bad)),
        );
        expect(results.every((r) => r.status === "rejected")).toBe(true);
        expect(await w.core.login.getChallenge(issued.challengeId)).toMatchObject({
          state: "exhausted",
          failedAttempts: 5,
        });
        // Only those 5 count against the email: 94 more failures (99 in all) leave it open...
        const failTimes = async (times: number) => {
          for (let done = 0; done < times; ) {
            const next = await issue(w, app.id, email);
            for (let i = 0; i < 5 && done < times; i++, done++) {
              await reasonOf(consume(w, app.id, next.challengeId, wrongCode(next.code)));
            }
          }
        };
        await failTimes(94);
        await failTimes(1);
        // ...and the 100th locks it.
        expect((await reasonOf(issue(w, app.id, email))).reason).toBe("EMAIL_LOCKED");
      });

      it("keeps one live code when codes for one email are issued concurrently", async () => {
        const w = world();
        const app = await appIn(w);
        const email = uniqueEmail();
        const issued = await Promise.all(Array.from({ length: 20 }, () => issue(w, app.id, email)));
        const states = await Promise.all(issued.map((i) => w.core.login.getChallenge(i.challengeId)));
        expect(states.filter((s) => s.state === "pending")).toHaveLength(1);
        expect(states.filter((s) => s.state === "superseded")).toHaveLength(19);
        const live = issued[states.findIndex((s) => s.state === "pending")];
        const done = await w.core.login.consume({
          clientAppId: app.id,
          target: { email },
          proof: { method: "code", value: live?.code ?? "" },
          userAgent: "",
          idempotency: NO_KEY,
        });
        expect(done.user.email).toBe(email);
      });

      it("locks the email after 100 failed guesses across codes, until the window passes", async () => {
        const w = world();
        const app = await appIn(w);
        const email = uniqueEmail();
        for (let code = 0; code < 20; code++) {
          // A new code does not reset the budget.
          const issued = await issue(w, app.id, email);
          for (let i = 0; i < 5; i++) {
            await reasonOf(consume(w, app.id, issued.challengeId, wrongCode(issued.code)));
          }
        }
        const locked = await reasonOf(issue(w, app.id, email));
        expect(locked.reason).toBe("EMAIL_LOCKED");
        expect(locked.retryAt?.getTime()).toBeGreaterThan(w.clock.now() + DAY - HOUR);
        expect(locked.retryAt?.getTime()).toBeLessThanOrEqual(w.clock.now() + DAY);
        const byEmail = await reasonOf(
          w.core.login.consume({
            clientAppId: app.id,
            target: { email },
            proof: { method: "code", value: "000000" },
            userAgent: "",
            idempotency: NO_KEY,
          }),
        );
        expect(byEmail.reason).toBe("CODE_INVALID");

        w.clock.advance(DAY);
        const after = await issue(w, app.id, email);
        expect(
          (
            await w.core.login.consume({
              clientAppId: app.id,
              target: { email },
              proof: { method: "code", value: after.code },
              userAgent: "",
              idempotency: NO_KEY,
            })
          ).user.email,
        ).toBe(email);
      });

      it("lets a successful login reset the failure count", async () => {
        const w = world({ rules: { maxFailures: 6 } });
        const app = await appIn(w);
        const email = uniqueEmail();
        const guessWrong = async (times: number) => {
          const issued = await issue(w, app.id, email);
          for (let i = 0; i < times; i++) {
            await reasonOf(consume(w, app.id, issued.challengeId, wrongCode(issued.code)));
          }
        };
        await guessWrong(4);
        await login(w, app.id, email);
        await guessWrong(4);
        await login(w, app.id, email);
      });

      it("forgets a challenge once its retention after expiry has passed (real expiry)", async () => {
        const store = harness.makeStore(Date.now);
        const now = Date.now();
        const challengeId = newChallengeId("expiryexpiry");
        await store.issueChallenge({
          tag: challengeId.slice(4, 16),
          digest: "d".repeat(52),
          email: "expiry@example.com",
          clientAppId: "app_aaaaaaaaaaaaaaaa",
          challengeId,
          kid: "k",
          proofMacs: { code: "m" },
          now,
          expiresAt: now + 300,
          rules: { ...RULES, challengeRetentionMs: 200 },
          emailLimits: { cooldownMs: 0, perHour: 100 },
          guessWeight: 1_000_000,
        });
        expect(await store.getChallenge({ challengeId, now: Date.now() })).toBeDefined();
        await waitFor("the challenge to expire", async () => {
          const keys = harness.keys ? await harness.keys() : [];
          const gone = !keys.some((k) => k.includes(challengeId));
          return gone && (await store.getChallenge({ challengeId, now: Date.now() })) === undefined;
        });
      });
    });

    describe("login methods (code, magic link)", () => {
      const LINK_URL = "https://shop.example/login/link";
      const both = { loginMethods: ["code", "link"] as LoginMethodName[], linkUrl: LINK_URL };
      const linkOnly = { loginMethods: ["link"] as LoginMethodName[], linkUrl: LINK_URL };
      const prove = (
        w: World,
        clientAppId: string,
        challengeId: string,
        proof: { method: LoginMethodName; value: string },
        idempotency: IdempotencyRequest = NO_KEY,
      ) => w.core.login.consume({ clientAppId, target: { challengeId }, proof, userAgent: "", idempotency });

      it("issues a code and a link token for an app using both, and either one logs in", async () => {
        const w = world();
        const app = await appIn(w, both);
        const a = await issue(w, app.id, uniqueEmail());
        expect(a.code).toMatch(/^\d{6}$/);
        expect(a.linkToken).toMatch(/^lnk_[a-z2-7]{52}$/);
        // The page the link opens, read with the token (not a caller's cached copy of the app).
        expect(a.linkUrl).toBe(LINK_URL);
        const byLink = await prove(w, app.id, a.challengeId, { method: "link", value: a.linkToken });
        expect(byLink.session.loginMethod).toBe("link");

        const b = await issue(w, app.id, uniqueEmail());
        const byCode = await prove(w, app.id, b.challengeId, { method: "code", value: b.code });
        expect(byCode.session.loginMethod).toBe("code");
        // Codes keep their own form: a code app's tokens are never link tokens.
        expect((await issue(w, (await appIn(w)).id, uniqueEmail())).linkToken).toBe("");
      });

      it("lets only the first proof of an email work: the link after the code fails, and the code after the link", async () => {
        const w = world();
        const app = await appIn(w, both);
        const a = await issue(w, app.id, uniqueEmail());
        await prove(w, app.id, a.challengeId, { method: "code", value: a.code });
        expect(
          (await reasonOf(prove(w, app.id, a.challengeId, { method: "link", value: a.linkToken }))).reason,
        ).toBe("CODE_INVALID");

        const b = await issue(w, app.id, uniqueEmail());
        await prove(w, app.id, b.challengeId, { method: "link", value: b.linkToken });
        expect(
          (await reasonOf(prove(w, app.id, b.challengeId, { method: "code", value: b.code }))).reason,
        ).toBe("CODE_INVALID");
        // And the link itself works once.
        expect(
          (await reasonOf(prove(w, app.id, b.challengeId, { method: "link", value: b.linkToken }))).reason,
        ).toBe("CODE_INVALID");
      });

      it("gives exactly one session to a code and a link presented at the same time", async () => {
        const w = world();
        const app = await appIn(w, both);
        const issued = await issue(w, app.id, uniqueEmail());
        const outcomes = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            prove(
              w,
              app.id,
              issued.challengeId,
              i % 2 ? { method: "code", value: issued.code } : { method: "link", value: issued.linkToken },
            ),
          ),
        );
        expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      });

      it("refuses the method an app does not use, and stops pending proofs of a method the app drops", async () => {
        const w = world();
        const linkApp = await appIn(w, linkOnly);
        const l = await issue(w, linkApp.id, uniqueEmail());
        expect(l.code).toBe("");
        expect(
          (await reasonOf(prove(w, linkApp.id, l.challengeId, { method: "code", value: "123456" }))).reason,
        ).toBe("LOGIN_METHOD_NOT_ALLOWED");

        const codeApp = await appIn(w);
        const c = await issue(w, codeApp.id, uniqueEmail());
        expect(
          (
            await reasonOf(
              prove(w, codeApp.id, c.challengeId, { method: "link", value: `lnk_${"a".repeat(52)}` }),
            )
          ).reason,
        ).toBe("LOGIN_METHOD_NOT_ALLOWED");

        const bothApp = await appIn(w, both);
        const pending = await issue(w, bothApp.id, uniqueEmail());
        await w.core.clientApps.update(bothApp.id, { ...SETTINGS, loginMethods: ["code"], linkUrl: "" });
        expect(
          (
            await reasonOf(
              prove(w, bothApp.id, pending.challengeId, { method: "link", value: pending.linkToken }),
            )
          ).reason,
        ).toBe("LOGIN_METHOD_NOT_ALLOWED");
        expect(
          (await prove(w, bothApp.id, pending.challengeId, { method: "code", value: pending.code })).user,
        ).toBeDefined();
      });

      it("counts a wrong link token as a wrong guess: five kill the challenge, link and code", async () => {
        const w = world();
        const app = await appIn(w, both);
        const issued = await issue(w, app.id, uniqueEmail());
        for (let i = 0; i < 5; i++) {
          const wrong = { method: "link" as const, value: newLinkToken() };
          expect((await reasonOf(prove(w, app.id, issued.challengeId, wrong))).reason).toBe("CODE_INVALID");
        }
        expect((await w.core.login.getChallenge(issued.challengeId)).state).toBe("exhausted");
        for (const proof of [
          { method: "link" as const, value: issued.linkToken },
          { method: "code" as const, value: issued.code },
        ]) {
          expect((await reasonOf(prove(w, app.id, issued.challengeId, proof))).reason).toBe("CODE_INVALID");
        }
      });

      it("expires the link with the code, retires it with a newer login, and keeps it to its app", async () => {
        const w = world();
        const app = await appIn(w, both);
        const other = await appIn(w, both);
        const email = uniqueEmail();

        const expiring = await issue(w, app.id, email);
        w.clock.advance(600_000);
        expect(
          (
            await reasonOf(
              prove(w, app.id, expiring.challengeId, { method: "link", value: expiring.linkToken }),
            )
          ).reason,
        ).toBe("CODE_INVALID");

        w.clock.advance(MINUTE);
        const older = await issue(w, app.id, email);
        w.clock.advance(MINUTE);
        const newer = await issue(w, app.id, email);
        expect(
          (await reasonOf(prove(w, app.id, older.challengeId, { method: "link", value: older.linkToken })))
            .reason,
        ).toBe("CODE_INVALID");
        // Another app presenting this app's link gets nothing, and spends nothing of it.
        expect(
          (await reasonOf(prove(w, other.id, newer.challengeId, { method: "link", value: newer.linkToken })))
            .reason,
        ).toBe("CODE_INVALID");
        expect(
          (await prove(w, app.id, newer.challengeId, { method: "link", value: newer.linkToken })).user.email,
        ).toBe(email);
      });

      it("answers a retried link verification with its first answer, and binds the key to the link", async () => {
        const w = world();
        const app = await appIn(w, both);
        const issued = await issue(w, app.id, uniqueEmail());
        const link = { method: "link" as const, value: issued.linkToken };
        const first = await prove(w, app.id, issued.challengeId, link, keyed("link-retry"));
        const again = await prove(w, app.id, issued.challengeId, link, keyed("link-retry"));
        expect(again.session.id).toBe(first.session.id);
        expect(again.refreshToken).toBe(first.refreshToken);
        expect(again.session.loginMethod).toBe("link");
        expect(
          (
            await reasonOf(
              prove(
                w,
                app.id,
                issued.challengeId,
                { method: "code", value: issued.code },
                keyed("link-retry"),
              ),
            )
          ).reason,
        ).toBe("IDEMPOTENCY_KEY_REUSED");
      });

      it("keeps the session's login method through refreshes and in lists", async () => {
        const w = world();
        const app = await appIn(w, both);
        const issued = await issue(w, app.id, uniqueEmail());
        const done = await prove(w, app.id, issued.challengeId, { method: "link", value: issued.linkToken });
        w.clock.advance(MINUTE);
        const refreshed = await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: done.refreshToken,
          idempotency: keyed("refresh-link"),
        });
        expect(refreshed.session.loginMethod).toBe("link");
        const replayed = await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: done.refreshToken,
          idempotency: keyed("refresh-link"),
        });
        expect(replayed.session.loginMethod).toBe("link");
        expect((await w.core.sessions.get(done.session.id)).loginMethod).toBe("link");
        const listed = await w.core.sessions.listForUser({ userId: done.user.id, clientAppId: "" });
        expect(listed.map((s) => s.loginMethod)).toEqual(["link"]);
      });

      it("refuses link settings that could not work or could leak the token", async () => {
        const w = world();
        const refused = async (settings: Partial<ClientAppSettingsInput>) =>
          (await reasonOf(appIn(w, settings))).reason;
        expect(await refused({ loginMethods: ["link"] })).toBe("CLIENT_APP_SETTINGS_INVALID");
        expect(await refused({ loginMethods: ["code", "code"] })).toBe("CLIENT_APP_SETTINGS_INVALID");
        for (const linkUrl of [
          "http://shop.example/login",
          "javascript:alert(1)",
          "https://user:pass@shop.example/login",
          "https://shop.example/login#here",
          "https://shop.example/login?link_token=x",
          "/login",
          `https://shop.example/${"a".repeat(1100)}`,
          // Short as typed, too long once percent-encoded.
          `https://shop.example/${"€".repeat(300)}`,
          "https://shop.example/log in",
        ]) {
          expect([linkUrl, await refused({ ...both, linkUrl })]).toEqual([
            linkUrl,
            "CLIENT_APP_SETTINGS_INVALID",
          ]);
        }
        for (const linkUrl of [
          "http://localhost:3000/magic",
          "http://127.0.0.1:3000/magic",
          "https://shop.example/l?from=email",
        ]) {
          expect((await appIn(w, { ...both, linkUrl })).settings.linkUrl).toBe(linkUrl);
        }
        // Stored as links will spell it.
        expect(
          (await appIn(w, { ...both, linkUrl: "HTTPS://Shop.Example:443/a/../login" })).settings.linkUrl,
        ).toBe("https://shop.example/login");
        // Codes only by default, for apps made before login methods existed too.
        expect((await appIn(w)).settings.loginMethods).toEqual(["code"]);
      });
    });

    describe("batches (IssueLoginCodes, ConsumeLoginCodes)", () => {
      // The batch methods as the server runs them: the unary handlers, per request.
      function batchesOf(w: World) {
        const deps = {
          logger: createLogger({
            service: "test",
            level: "silent",
            destination: new Writable({ write: (_c, _e, cb) => cb() }),
          }),
          metrics: createMetrics({ service: "test", defaultMetrics: false }),
        };
        const handlers = createPersistenceHandlers(w.core);
        const ctx: CallContext = {
          requestId: "batch",
          logger: deps.logger,
          signal: new AbortController().signal,
          deadline: undefined,
          metadata: new Metadata(),
        };
        const issueMany = serveBatch("IssueLoginCode", handlers.issueLoginCode, deps);
        const consumeMany = serveBatch("ConsumeLoginCode", handlers.consumeLoginCode, deps);
        const keyless = {
          endUserIp: "",
          idempotencyKey: "",
          requestFingerprint: Buffer.alloc(0),
          idempotencyKeyGenerated: false,
        };
        return {
          issue: (requests: { clientAppId: string; email: string }[]) =>
            issueMany({ requests: requests.map((r) => ({ ...r, ...keyless })), requestIds: [] }, ctx),
          consume: (requests: { clientAppId: string; challengeId: string; code: string }[]) =>
            consumeMany(
              {
                requests: requests.map((r) => ({ ...r, linkToken: "", userAgent: "", ...keyless })),
                requestIds: [],
              },
              ctx,
            ),
        };
      }

      it("answers each request of a batch mixing good and bad ones, and the good ones work", async () => {
        const w = world();
        const app = await appIn(w);
        const batch = batchesOf(w);
        const [a, b] = [uniqueEmail(), uniqueEmail()];
        const issued = await batch.issue([
          { clientAppId: app.id, email: a },
          { clientAppId: app.id, email: "no-at-sign" },
          { clientAppId: "app_aaaaaaaaaaaaaaaa", email: b },
          { clientAppId: app.id, email: b },
        ]);
        expect(issued.results.map((r) => r.error?.reason ?? "ok")).toEqual([
          "ok",
          "EMAIL_INVALID",
          "CLIENT_APP_NOT_FOUND",
          "ok",
        ]);
        const codeA = issued.results[0]?.response?.code ?? "";
        const consumed = await batch.consume([
          { clientAppId: app.id, challengeId: issued.results[0]?.response?.challengeId ?? "", code: codeA },
          {
            clientAppId: app.id,
            challengeId: issued.results[3]?.response?.challengeId ?? "",
            code: wrongCode(codeA),
          },
          { clientAppId: app.id, challengeId: "chl_nonsense", code: codeA },
        ]);
        expect(consumed.results.map((r) => r.error?.reason ?? "ok")).toEqual([
          "ok",
          "CODE_INVALID",
          "INVALID_ARGUMENT",
        ]);
        expect(consumed.results[0]?.response?.user?.email).toBe(a);
      });

      it("keeps one live code for an email issued in concurrent batches, and one session for its code", async () => {
        const w = world();
        const app = await appIn(w);
        const batch = batchesOf(w);
        const email = uniqueEmail();
        const batches = await Promise.all(
          Array.from({ length: 5 }, () =>
            batch.issue(Array.from({ length: 4 }, () => ({ clientAppId: app.id, email }))),
          ),
        );
        const issued = batches.flatMap((b) => b.results.map((r) => r.response));
        expect(issued.every((i) => i !== undefined)).toBe(true);
        const states = await Promise.all(issued.map((i) => w.core.login.getChallenge(i?.challengeId ?? "")));
        expect(states.filter((s) => s.state === "pending")).toHaveLength(1);
        const live = issued[states.findIndex((s) => s.state === "pending")];
        const tries = await Promise.all(
          Array.from({ length: 3 }, () =>
            batch.consume(
              Array.from({ length: 3 }, () => ({
                clientAppId: app.id,
                challengeId: live?.challengeId ?? "",
                code: live?.code ?? "",
              })),
            ),
          ),
        );
        const outcomes = tries.flatMap((t) => t.results.map((r) => r.error?.reason ?? "session"));
        expect(outcomes.filter((o) => o === "session")).toHaveLength(1);
        expect(outcomes.filter((o) => o === "CODE_INVALID")).toHaveLength(8);
      });
    });

    describe("send limits", () => {
      it("allows one code per email per cooldown and says when to retry", async () => {
        const w = world({ limits: { emailCooldownMs: MINUTE } });
        const app = await appIn(w);
        const email = uniqueEmail();
        const first = await issue(w, app.id, email);
        expect(first.resendAvailableAt).toBeGreaterThan(Date.now() + MINUTE - 2_000);
        const refused = await reasonOf(issue(w, app.id, email));
        expect(refused.reason).toBe("RATE_LIMITED");
        expect(refused.retryAt?.getTime()).toBeGreaterThan(Date.now() + MINUTE - 2_000);
        // Another email is not affected.
        await issue(w, app.id, uniqueEmail());
      });

      it("caps sends per email per hour", async () => {
        const w = world({ limits: { emailPerHour: 3 } });
        const app = await appIn(w);
        const email = uniqueEmail();
        for (let i = 0; i < 3; i++) await issue(w, app.id, email);
        const refused = await reasonOf(issue(w, app.id, email));
        expect(refused.reason).toBe("RATE_LIMITED");
        expect(refused.retryAt?.getTime()).toBeGreaterThan(Date.now() + HOUR - MINUTE);
      });

      it("caps sends per end-user IP when the app forwards it", async () => {
        const w = world({ limits: { ipPerHour: 2 } });
        const app = await appIn(w);
        const ipDigest = `ip${randomUUID()}`;
        await w.core.login.issue({
          clientAppId: app.id,
          email: uniqueEmail(),
          ipDigest,
          idempotency: NO_KEY,
        });
        await w.core.login.issue({
          clientAppId: app.id,
          email: uniqueEmail(),
          ipDigest,
          idempotency: NO_KEY,
        });
        expect(
          (
            await reasonOf(
              w.core.login.issue({
                clientAppId: app.id,
                email: uniqueEmail(),
                ipDigest,
                idempotency: NO_KEY,
              }),
            )
          ).reason,
        ).toBe("RATE_LIMITED");
        await issue(w, app.id, uniqueEmail());
      });

      it("caps sends per client app, and a refused send costs the other limits nothing", async () => {
        const w = world({ limits: { emailCooldownMs: MINUTE } });
        const app = await appIn(w, { sendsPerMinute: 2 });
        const email = uniqueEmail();
        await issue(w, app.id, email);
        // Refused by the email cooldown: the app's point it took is given back...
        expect((await reasonOf(issue(w, app.id, email))).reason).toBe("RATE_LIMITED");
        // ...so the app still has its second send.
        await issue(w, app.id, uniqueEmail());
        const refused = await reasonOf(issue(w, app.id, uniqueEmail()));
        expect(refused.reason).toBe("RATE_LIMITED");
        expect(refused.retryAt?.getTime()).toBeLessThanOrEqual(Date.now() + MINUTE + 1_000);
      });
    });

    describe("idempotent retries", () => {
      it("answers an issue retried with the same key with the first answer, taking no second send", async () => {
        const w = world({ limits: { emailCooldownMs: MINUTE } });
        const app = await appIn(w);
        const email = uniqueEmail();
        const call = () =>
          w.core.login.issue({
            clientAppId: app.id,
            email,
            ipDigest: undefined,
            idempotency: keyed("req-1"),
          });
        const first = await call();
        const again = await call();
        expect(again).toEqual({ ...first, replayed: true });
        const states = await w.core.login.getChallenge(first.challengeId);
        expect(states.state).toBe("pending");
        // Without the key it is a new request, and the cooldown applies.
        const other = issue(w, app.id, email);
        expect((await reasonOf(other)).reason).toBe("RATE_LIMITED");
      });

      it("refuses a key used again with another request, for any email of the app, and answers nothing", async () => {
        const w = world();
        const app = await appIn(w);
        const other = await appIn(w);
        const email = uniqueEmail();
        const issue1 = (to: string, clientAppId = app.id, ipDigest?: string) =>
          w.core.login.issue({ clientAppId, email: to, ipDigest, idempotency: keyed("same-key") });
        await issue1(email);
        expect((await reasonOf(issue1(uniqueEmail()))).reason).toBe("IDEMPOTENCY_KEY_REUSED");
        expect((await reasonOf(issue1(email, app.id, "ip-digest"))).reason).toBe("IDEMPOTENCY_KEY_REUSED");
        // The caller's fingerprint of its request counts too (e.g. another language).
        const withFingerprint = w.core.login.issue({
          clientAppId: app.id,
          email,
          ipDigest: undefined,
          idempotency: keyed("same-key", new Uint8Array([1])),
        });
        expect((await reasonOf(withFingerprint)).reason).toBe("IDEMPOTENCY_KEY_REUSED");
        // Scoped to the app: another app's key of the same name is its own.
        await issue1(email, other.id);
      });

      it("answers a login retried with the same key with the same session, not CODE_INVALID", async () => {
        const w = world();
        const app = await appIn(w);
        const issued = await issue(w, app.id, uniqueEmail());
        const call = (key: string) =>
          w.core.login.consume({
            clientAppId: app.id,
            target: { challengeId: issued.challengeId },
            proof: { method: "code", value: issued.code },
            userAgent: "ua",
            idempotency: keyed(key),
          });
        const first = await call("req-2");
        const again = await call("req-2");
        expect(again.refreshToken).toBe(first.refreshToken);
        expect(again.session.id).toBe(first.session.id);
        expect(again.user).toMatchObject({ id: first.user.id, email: first.user.email });
        expect(again.newUser).toBe(true);
        expect((await reasonOf(call("req-3"))).reason).toBe("CODE_INVALID");
        expect(await w.core.sessions.listForUser({ userId: first.user.id, clientAppId: "" })).toHaveLength(1);
      });

      it("never answers a login's key replayed with a wrong code, by email, or with a made-up challenge", async () => {
        const w = world();
        const app = await appIn(w);
        const email = uniqueEmail();
        const issued = await issue(w, app.id, email);
        const consumeWith = (target: { challengeId: string } | { email: string }, code: string) =>
          w.core.login.consume({
            clientAppId: app.id,
            target,
            proof: { method: "code", value: code },
            userAgent: "",
            idempotency: keyed("k"),
          });
        const done = await consumeWith({ challengeId: issued.challengeId }, issued.code);
        const sameTag = `chl_${issued.challengeId.slice(4, 16)}${"a".repeat(26)}`;
        for (const attempt of [
          consumeWith({ challengeId: issued.challengeId }, wrongCode(issued.code)),
          consumeWith({ email }, issued.code),
          consumeWith({ challengeId: sameTag }, issued.code),
        ]) {
          expect((await reasonOf(attempt)).reason).toBe("IDEMPOTENCY_KEY_REUSED");
        }
        // The same refusal inside the person's slot alone, for keys the caller made itself.
        const generated = { key: "g-1", requestFingerprint: new Uint8Array(), generated: true };
        const first = await w.core.login.issue({
          clientAppId: app.id,
          email,
          ipDigest: undefined,
          idempotency: NO_KEY,
        });
        await w.core.login.consume({
          clientAppId: app.id,
          target: { challengeId: first.challengeId },
          proof: { method: "code", value: first.code },
          userAgent: "",
          idempotency: generated,
        });
        const replayedWrong = w.core.login.consume({
          clientAppId: app.id,
          target: { challengeId: `chl_${first.challengeId.slice(4, 16)}${"b".repeat(26)}` },
          proof: { method: "code", value: first.code },
          userAgent: "",
          idempotency: generated,
        });
        expect((await reasonOf(replayedWrong)).reason).toBe("IDEMPOTENCY_KEY_REUSED");
        expect(done.refreshToken).toMatch(/^ert_/);
      });

      it("answers a login's replay only while its session stands: not after a revoke or a refresh", async () => {
        const w = world();
        const app = await appIn(w);
        const loginWith = async (key: string) => {
          const issued = await issue(w, app.id, uniqueEmail());
          const call = () =>
            w.core.login.consume({
              clientAppId: app.id,
              target: { challengeId: issued.challengeId },
              proof: { method: "code", value: issued.code },
              userAgent: "",
              idempotency: keyed(key),
            });
          return { first: await call(), call };
        };
        const revoked = await loginWith("revoked");
        await w.core.sessions.revoke({ sessionId: revoked.first.session.id }, app.id);
        expect((await reasonOf(revoked.call())).reason).toBe("SESSION_INVALID");

        const refreshed = await loginWith("refreshed");
        await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: refreshed.first.refreshToken,
          idempotency: NO_KEY,
        });
        // Its refresh token was rotated: handing it out again would revoke the session on use.
        expect((await reasonOf(refreshed.call())).reason).toBe("SESSION_INVALID");
      });

      it("records a wrong guess with its key: a retry of it is not a second guess", async () => {
        const w = world();
        const app = await appIn(w);
        const issued = await issue(w, app.id, uniqueEmail());
        const bad = wrongCode(issued.code);
        for (let i = 0; i < 10; i++) {
          const retry = w.core.login.consume({
            clientAppId: app.id,
            target: { challengeId: issued.challengeId },
            proof: { method: "code", value: bad },
            userAgent: "",
            idempotency: keyed("typo-1"),
          });
          expect((await reasonOf(retry)).reason).toBe("CODE_INVALID");
        }
        expect((await w.core.login.getChallenge(issued.challengeId)).failedAttempts).toBe(1);
        await consume(w, app.id, issued.challengeId, issued.code);
      });

      it("gives every one of 20 concurrent identical logins the same session", async () => {
        const w = world();
        const app = await appIn(w);
        const issued = await issue(w, app.id, uniqueEmail());
        const results = await Promise.all(
          Array.from({ length: 20 }, () =>
            w.core.login.consume({
              clientAppId: app.id,
              target: { challengeId: issued.challengeId },
              proof: { method: "code", value: issued.code },
              userAgent: "",
              idempotency: keyed("together"),
            }),
          ),
        );
        expect(new Set(results.map((r) => r.refreshToken)).size).toBe(1);
        expect(new Set(results.map((r) => r.session.id)).size).toBe(1);
      });

      it("answers a refresh retried with the same key with the same new token, without calling it reuse", async () => {
        const w = world();
        const app = await appIn(w);
        const first = await login(w, app.id, uniqueEmail());
        const call = (key: string) =>
          w.core.sessions.refresh({
            clientAppId: app.id,
            refreshToken: first.refreshToken,
            idempotency: keyed(key),
          });
        const r1 = await call("req-4");
        const retried = await call("req-4");
        expect(retried.refreshToken).toBe(r1.refreshToken);
        expect(retried.session.id).toBe(first.session.id);
        // 20 more at once: the same answer, no reuse detected.
        const together = await Promise.all(Array.from({ length: 20 }, () => call("req-4")));
        expect(new Set(together.map((r) => r.refreshToken))).toEqual(new Set([r1.refreshToken]));
        // A made-up token of the same person's slot with the key: refused, not answered.
        const madeUp = `ert_${first.refreshToken.slice(4, 16)}${"b".repeat(52)}`;
        const forged = w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: madeUp,
          idempotency: keyed("req-4"),
        });
        expect((await reasonOf(forged)).reason).toBe("IDEMPOTENCY_KEY_REUSED");
        // The new token works (then the retry's answer no longer stands); the old one, sent as
        // a new request, is reuse.
        await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: r1.refreshToken,
          idempotency: NO_KEY,
        });
        expect((await reasonOf(call("req-4"))).reason).toBe("SESSION_INVALID");
        expect((await reasonOf(call("req-5"))).reason).toBe("REFRESH_TOKEN_REUSED");
      });

      it("answers a refresh's replay only while its session stands", async () => {
        const w = world();
        const app = await appIn(w);
        const first = await login(w, app.id, uniqueEmail());
        const call = () =>
          w.core.sessions.refresh({
            clientAppId: app.id,
            refreshToken: first.refreshToken,
            idempotency: keyed("r"),
          });
        await call();
        await w.core.sessions.revoke({ sessionId: first.session.id }, app.id);
        expect((await reasonOf(call())).reason).toBe("SESSION_INVALID");
      });

      it("keeps the answers of different operations apart under one key", async () => {
        const w = world();
        const app = await appIn(w);
        const issued = await w.core.login.issue({
          clientAppId: app.id,
          email: uniqueEmail(),
          ipDigest: undefined,
          idempotency: keyed("same-key"),
        });
        const done = await w.core.login.consume({
          clientAppId: app.id,
          target: { challengeId: issued.challengeId },
          proof: { method: "code", value: issued.code },
          userAgent: "",
          idempotency: keyed("same-key"),
        });
        expect(done.refreshToken).toMatch(/^ert_/);
      });

      it("finishes an issue retried after the first try died before its step: no cooldown met", async () => {
        let failNext = true;
        const w = world({
          limits: { emailCooldownMs: MINUTE },
          // The first try reaches the store and dies there (a replica killed mid-call).
          store: (store) => ({
            ...store,
            kind: store.kind,
            issueChallenge: (p) => {
              if (!failNext) return store.issueChallenge(p);
              failNext = false;
              return Promise.reject(new Error("replica died"));
            },
          }),
        });
        const app = await appIn(w);
        const email = uniqueEmail();
        const call = () =>
          w.core.login.issue({
            clientAppId: app.id,
            email,
            ipDigest: undefined,
            idempotency: keyed("retry-me"),
          });
        await expect(call()).rejects.toThrow("replica died");
        const issued = await call();
        expect((await w.core.login.getChallenge(issued.challengeId)).state).toBe("pending");
      });

      it("issues a new code for a retry of a code that was canceled (its email never went out)", async () => {
        const w = world({ limits: { emailCooldownMs: MINUTE } });
        const app = await appIn(w);
        const email = uniqueEmail();
        const call = () =>
          w.core.login.issue({
            clientAppId: app.id,
            email,
            ipDigest: undefined,
            idempotency: keyed("unsent"),
          });
        const first = await call();
        await w.core.login.cancel({ clientAppId: app.id, challengeId: first.challengeId });
        const retried = await call();
        expect(retried.challengeId).not.toBe(first.challengeId);
        expect((await w.core.login.getChallenge(retried.challengeId)).state).toBe("pending");
        expect(await call()).toEqual({ ...retried, replayed: true });
      });

      it("cancels an unsent code and gives back its send limits", async () => {
        const w = world({ limits: { emailCooldownMs: MINUTE, emailPerHour: 1 } });
        const app = await appIn(w);
        const email = uniqueEmail();
        const issued = await issue(w, app.id, email);
        expect(await w.core.login.cancel({ clientAppId: app.id, challengeId: issued.challengeId })).toBe(
          true,
        );
        expect(await w.core.login.cancel({ clientAppId: app.id, challengeId: issued.challengeId })).toBe(
          false,
        );
        expect((await w.core.login.getChallenge(issued.challengeId)).state).toBe("canceled");
        const attempt = consume(w, app.id, issued.challengeId, issued.code);
        expect((await reasonOf(attempt)).reason).toBe("CODE_INVALID");
        // No cooldown to wait out, and the hour's one send is still there.
        await issue(w, app.id, email);
      });

      it("leaves an expired code alone: nothing to cancel, no send given back", async () => {
        const w = world({ limits: { emailPerHour: 1 } });
        const app = await appIn(w);
        const email = uniqueEmail();
        const issued = await issue(w, app.id, email);
        w.clock.advance(600_000);
        expect(await w.core.login.cancel({ clientAppId: app.id, challengeId: issued.challengeId })).toBe(
          false,
        );
        expect((await reasonOf(issue(w, app.id, email))).reason).toBe("RATE_LIMITED");
      });
    });

    describe("guess budgets", () => {
      /** Weak (6-digit) codes for fresh emails, issued before any guessing. */
      const weakCodes = (w: World, appId: string, n: number) =>
        Promise.all(Array.from({ length: n }, () => issue(w, appId, uniqueEmail())));
      const guessWrongOnce = (w: World, appId: string, issued: { challengeId: string; code: string }) =>
        reasonOf(consume(w, appId, issued.challengeId, wrongCode(issued.code)));

      it("hardens new codes from a quarter of an app's budget, and stops checking weak ones from half", async () => {
        // 8 six-digit guesses an hour: hardened from 2, weak codes refused past 4.
        const w = world({ budget: { appPerHour: 8 } });
        const app = await appIn(w);
        const [pending, ...targets] = await weakCodes(w, app.id, 5);
        for (const t of targets.slice(0, 2)) await guessWrongOnce(w, app.id, t);
        w.clock.advance(2_000); // past the replica's one-second cache of the budget's state
        const hardened = await issue(w, app.id, uniqueEmail());
        expect(hardened.code).toMatch(/^\d{10}$/);
        for (const t of targets.slice(2, 4)) await guessWrongOnce(w, app.id, t);
        // Half spent: a 6-digit code is not even checked (no attempt counted)...
        const refused = await reasonOf(consume(w, app.id, pending?.challengeId ?? "", pending?.code ?? ""));
        expect(refused.reason).toBe("RATE_LIMITED");
        expect(refused.retryAt?.getTime()).toBeGreaterThan(Date.now());
        expect((await w.core.login.getChallenge(pending?.challengeId ?? "")).failedAttempts).toBe(0);
        // ...while a hardened code still logs its person in.
        const done = await consume(w, app.id, hardened.challengeId, hardened.code);
        expect(done.refreshToken).toMatch(/^ert_/);
      });

      it("is per app, and the global budget bounds all apps together", async () => {
        const w = world({ budget: { appPerHour: 4, globalPerHour: 6 } });
        const [a, b, c] = [await appIn(w), await appIn(w), await appIn(w)];
        const ofA = await weakCodes(w, a.id, 2);
        const [b1, b2] = await weakCodes(w, b.id, 2);
        const [c1] = await weakCodes(w, c.id, 1);
        for (const t of ofA) await guessWrongOnce(w, a.id, t); // a: half of its budget
        // b is not held back by a's spending...
        expect((await consume(w, b.id, b1?.challengeId ?? "", b1?.code ?? "")).refreshToken).toMatch(/^ert_/);
        await guessWrongOnce(w, b.id, b2 as { challengeId: string; code: string }); // all: 3 of 6
        // ...but all apps together are: c, which guessed nothing, is past half of the global.
        const refused = await reasonOf(consume(w, c.id, c1?.challengeId ?? "", c1?.code ?? ""));
        expect(refused.reason).toBe("RATE_LIMITED");
      });

      it("gives a code's wrong guesses back when its person types it right (people mistype)", async () => {
        const w = world({ budget: { appPerHour: 4 } });
        const app = await appIn(w);
        for (const issued of await weakCodes(w, app.id, 5)) {
          await guessWrongOnce(w, app.id, issued);
          await consume(w, app.id, issued.challengeId, issued.code);
        }
        // Five typos, each followed by the right code: nothing is left spent, so new codes are
        // not hardened and a weak code is still checked.
        w.clock.advance(2_000);
        const next = await issue(w, app.id, uniqueEmail());
        expect(next.code).toMatch(/^\d{6}$/);
        expect((await consume(w, app.id, next.challengeId, next.code)).refreshToken).toMatch(/^ert_/);
      });

      it("takes nothing for a burst of verifications of dead codes, nor for duplicates of one code", async () => {
        const w = world({ budget: { appPerHour: 4 } });
        const app = await appIn(w);
        const used = await issue(w, app.id, uniqueEmail());
        await consume(w, app.id, used.challengeId, used.code);
        const target = await issue(w, app.id, uniqueEmail());
        // 200 at once on a used code, and 200 at once on one live code (only 5 guesses count).
        await Promise.all([
          ...Array.from({ length: 200 }, () => reasonOf(consume(w, app.id, used.challengeId, used.code))),
          ...Array.from({ length: 200 }, () => reasonOf(consume(w, app.id, target.challengeId, "000000"))),
        ]);
        // One at a time, and weak codes stop past half the budget: 2 wrong guesses counted.
        expect((await w.core.login.getChallenge(target.challengeId)).failedAttempts).toBe(
          target.code === "000000" ? 0 : 2,
        );
        // The burst of dead-code checks and duplicates took nothing beyond those 2: a strong
        // code is still checked (and the 2 spent harden new codes).
        const strong = await issue(w, app.id, uniqueEmail());
        expect(strong.code).toMatch(/^\d{10}$/);
        expect((await consume(w, app.id, strong.challengeId, strong.code)).refreshToken).toMatch(/^ert_/);
      });

      it("asks for a retry in a second when only verifications in flight filled a budget", async () => {
        const w = world({ budget: { appPerHour: 4 } });
        const app = await appIn(w);
        // Weak half: 2 six-digit guesses. Six right codes verified at once: some wait their turn.
        const codes = await Promise.all(Array.from({ length: 6 }, () => issue(w, app.id, uniqueEmail())));
        const results = await Promise.allSettled(codes.map((c) => consume(w, app.id, c.challengeId, c.code)));
        const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        for (const r of refused) {
          expect((r.reason as AppError).reason).toBe("RATE_LIMITED");
          expect(((r.reason as AppError).retryAt?.getTime() ?? 0) - w.clock.now()).toBeLessThanOrEqual(1000);
        }
        // Nothing was spent: each of them gets in on a retry.
        for (const [i, r] of results.entries()) {
          if (r.status === "rejected")
            await consume(w, app.id, codes[i]?.challengeId ?? "", codes[i]?.code ?? "");
        }
      });

      it("takes nothing for codes that cannot be guessed: unknown, used, or another app's", async () => {
        const w = world({ budget: { appPerHour: 2 } });
        const app = await appIn(w);
        const other = await appIn(w);
        const used = await issue(w, app.id, uniqueEmail());
        await consume(w, app.id, used.challengeId, used.code);
        const foreign = await issue(w, other.id, uniqueEmail());
        for (let i = 0; i < 20; i++) {
          await reasonOf(consume(w, app.id, `chl_${"c".repeat(38)}`, "123456"));
          await reasonOf(consume(w, app.id, used.challengeId, used.code));
          await reasonOf(consume(w, app.id, foreign.challengeId, foreign.code));
        }
        const fresh = await issue(w, app.id, uniqueEmail());
        expect((await consume(w, app.id, fresh.challengeId, fresh.code)).refreshToken).toMatch(/^ert_/);
      });
    });

    describe("sessions", () => {
      it("rotates refresh tokens: each works once", async () => {
        const w = world();
        const app = await appIn(w);
        const first = await login(w, app.id, uniqueEmail());
        w.clock.advance(HOUR);
        const r1 = await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: first.refreshToken,
          idempotency: NO_KEY,
        });
        expect(r1.refreshToken).not.toBe(first.refreshToken);
        expect(r1.session).toMatchObject({ id: first.session.id, refreshedAt: w.clock.now() });
        expect(r1.session.idleExpiresAt).toBe(w.clock.now() + 30 * DAY);
        const r2 = await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: r1.refreshToken,
          idempotency: NO_KEY,
        });
        expect(r2.session.id).toBe(first.session.id);
      });

      it("revokes the whole session when a rotated refresh token is used again", async () => {
        const w = world();
        const app = await appIn(w);
        const first = await login(w, app.id, uniqueEmail());
        const r1 = await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: first.refreshToken,
          idempotency: NO_KEY,
        });
        const reuse = await reasonOf(
          w.core.sessions.refresh({
            clientAppId: app.id,
            refreshToken: first.refreshToken,
            idempotency: NO_KEY,
          }),
        );
        expect(reuse.reason).toBe("REFRESH_TOKEN_REUSED");
        // The thief's reuse also ends the legitimate holder's session.
        expect(
          (
            await reasonOf(
              w.core.sessions.refresh({
                clientAppId: app.id,
                refreshToken: r1.refreshToken,
                idempotency: NO_KEY,
              }),
            )
          ).reason,
        ).toBe("SESSION_INVALID");
        expect((await reasonOf(w.core.sessions.get(first.session.id))).reason).toBe("SESSION_NOT_FOUND");
      });

      it("refuses another app's refresh token without revoking anything", async () => {
        const w = world();
        const app = await appIn(w);
        const other = await appIn(w);
        const first = await login(w, app.id, uniqueEmail());
        expect(
          (
            await reasonOf(
              w.core.sessions.refresh({
                clientAppId: other.id,
                refreshToken: first.refreshToken,
                idempotency: NO_KEY,
              }),
            )
          ).reason,
        ).toBe("SESSION_INVALID");
        await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: first.refreshToken,
          idempotency: NO_KEY,
        });
      });

      it("ends a session after its idle timeout, and after its absolute lifetime however active", async () => {
        const w = world();
        const app = await appIn(w);
        const idle = await login(w, app.id, uniqueEmail());
        const active = await login(w, app.id, uniqueEmail());
        let token = active.refreshToken;
        for (let i = 0; i < 4; i++) {
          w.clock.advance(20 * DAY);
          token = (
            await w.core.sessions.refresh({ clientAppId: app.id, refreshToken: token, idempotency: NO_KEY })
          ).refreshToken;
        }
        expect(
          (
            await reasonOf(
              w.core.sessions.refresh({
                clientAppId: app.id,
                refreshToken: idle.refreshToken,
                idempotency: NO_KEY,
              }),
            )
          ).reason,
        ).toBe("SESSION_INVALID");
        w.clock.advance(active.session.expiresAt - w.clock.now());
        expect(
          (
            await reasonOf(
              w.core.sessions.refresh({ clientAppId: app.id, refreshToken: token, idempotency: NO_KEY }),
            )
          ).reason,
        ).toBe("SESSION_INVALID");
      });

      it("revokes one session by id or by refresh token, scoped to the app", async () => {
        const w = world();
        const app = await appIn(w);
        const other = await appIn(w);
        const email = uniqueEmail();
        const a = await login(w, app.id, email);
        const b = await login(w, app.id, email);
        expect(await w.core.sessions.revoke({ sessionId: a.session.id }, other.id)).toBe(false);
        expect(await w.core.sessions.revoke({ sessionId: a.session.id }, app.id)).toBe(true);
        expect(await w.core.sessions.revoke({ sessionId: a.session.id }, app.id)).toBe(false);
        expect(await w.core.sessions.revoke({ refreshToken: b.refreshToken }, app.id)).toBe(true);
        expect(
          (
            await reasonOf(
              w.core.sessions.refresh({
                clientAppId: app.id,
                refreshToken: b.refreshToken,
                idempotency: NO_KEY,
              }),
            )
          ).reason,
        ).toBe("SESSION_INVALID");
        expect(await w.core.sessions.listForUser({ userId: a.user.id, clientAppId: "" })).toEqual([]);
      });

      it("lists and revokes a user's sessions, all of them or one app's", async () => {
        const w = world();
        const app = await appIn(w);
        const other = await appIn(w);
        const email = uniqueEmail();
        const s1 = await login(w, app.id, email);
        w.clock.advance(1_000);
        const s2 = await login(w, other.id, email);
        w.clock.advance(1_000);
        const s3 = await login(w, app.id, email);
        const userId = s1.user.id;
        const all = await w.core.sessions.listForUser({ userId, clientAppId: "" });
        expect(all.map((s) => s.id)).toEqual([s3.session.id, s2.session.id, s1.session.id]);
        expect(await w.core.sessions.revokeForUser({ userId, clientAppId: app.id })).toBe(2);
        expect((await w.core.sessions.listForUser({ userId, clientAppId: "" })).map((s) => s.id)).toEqual([
          s2.session.id,
        ]);
        expect(await w.core.sessions.revokeForUser({ userId, clientAppId: "" })).toBe(1);
        expect(await w.core.sessions.listForUser({ userId, clientAppId: "" })).toEqual([]);
      });
    });

    describe("users", () => {
      it("erases everything about a person, and a new login makes a new user", async () => {
        const w = world({ limits: { emailCooldownMs: MINUTE } });
        const app = await appIn(w);
        const email = uniqueEmail();
        const issued = await w.core.login.issue({
          clientAppId: app.id,
          email,
          ipDigest: undefined,
          idempotency: keyed("k1"),
        });
        const first = await w.core.login.consume({
          clientAppId: app.id,
          target: { challengeId: issued.challengeId },
          proof: { method: "code", value: issued.code },
          userAgent: "",
          idempotency: keyed("k2"),
        });
        await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: first.refreshToken,
          idempotency: keyed("k3"),
        });
        if (harness.keys) expect((await harness.keys()).some((k) => k.includes(":iq:"))).toBe(true);
        const pending = await w.core.login
          .issue({ clientAppId: app.id, email, ipDigest: undefined, idempotency: NO_KEY })
          .catch(() => undefined);
        expect(pending).toBeUndefined(); // the cooldown of that email is on record too
        const person = w.core.peppered.person(email);

        expect(await w.core.users.delete(first.user.id)).toBe(true);
        expect(await w.core.users.delete(first.user.id)).toBe(false);
        expect((await reasonOf(w.core.users.get(first.user.id))).reason).toBe("USER_NOT_FOUND");
        expect((await reasonOf(w.core.users.findByEmail(email))).reason).toBe("USER_NOT_FOUND");
        expect((await reasonOf(w.core.sessions.get(first.session.id))).reason).toBe("SESSION_NOT_FOUND");
        if (harness.keys) {
          const left = (await harness.keys()).filter(
            (k) => k.includes(person.tag) || k.includes(person.digest),
          );
          expect(left).toEqual([]);
        }
        // The send limits of the email were forgotten too: a new code goes out at once.
        const again = await login(w, app.id, email);
        expect(again.newUser).toBe(true);
        expect(again.user.id).not.toBe(first.user.id);
      });
    });

    describe("client apps", () => {
      it("authenticates with the API key shown once, stored only as a hash", async () => {
        const w = world();
        const { app, apiKey } = await w.core.clientApps.create({ ...SETTINGS, displayName: "Shop" });
        expect(apiKey).toMatch(/^eak_[a-z2-7]{52}$/);
        expect(app.keyPrefix).toBe(apiKey.slice(0, 12));
        expect((await w.core.clientApps.authenticate(apiKey)).id).toBe(app.id);
        expect((await reasonOf(w.core.clientApps.authenticate(`eak_${"b".repeat(52)}`))).reason).toBe(
          "API_KEY_INVALID",
        );
        expect((await reasonOf(w.core.clientApps.authenticate("not-a-key"))).reason).toBe("API_KEY_INVALID");
        if (harness.keys) expect((await harness.keys()).join()).not.toContain(apiKey.slice(4));
      });

      it("rotates a key with a grace period for the old one", async () => {
        const w = world();
        const { app, apiKey: oldKey } = await w.core.clientApps.create(SETTINGS);
        const { apiKey: newKey } = await w.core.clientApps.rotateKey(app.id, 1);
        expect((await w.core.clientApps.authenticate(newKey)).id).toBe(app.id);
        expect((await w.core.clientApps.authenticate(oldKey)).id).toBe(app.id);
        w.clock.advance(1_001); // the memory driver keeps time with the clock; Redis with its own
        await waitFor("the old key's grace period to end", async () => {
          return (await reasonOf(w.core.clientApps.authenticate(oldKey))).reason === "API_KEY_INVALID";
        });
        const { apiKey: newest } = await w.core.clientApps.rotateKey(app.id, 0);
        expect((await reasonOf(w.core.clientApps.authenticate(newKey))).reason).toBe("API_KEY_INVALID");
        expect((await w.core.clientApps.authenticate(newest)).keyPrefix).toBe(newest.slice(0, 12));
      });

      it("stops a disabled app: its key, its logins and its refresh tokens", async () => {
        const w = world();
        const { app, apiKey } = await w.core.clientApps.create(SETTINGS);
        const session = await login(w, app.id, uniqueEmail());
        expect((await w.core.clientApps.setDisabled(app.id, true)).disabled).toBe(true);
        expect((await reasonOf(w.core.clientApps.authenticate(apiKey))).reason).toBe("CLIENT_APP_DISABLED");
        expect((await reasonOf(issue(w, app.id, uniqueEmail()))).reason).toBe("CLIENT_APP_DISABLED");
        expect(
          (
            await reasonOf(
              w.core.sessions.refresh({
                clientAppId: app.id,
                refreshToken: session.refreshToken,
                idempotency: NO_KEY,
              }),
            )
          ).reason,
        ).toBe("SESSION_INVALID");
        await w.core.clientApps.setDisabled(app.id, false);
        await w.core.sessions.refresh({
          clientAppId: app.id,
          refreshToken: session.refreshToken,
          idempotency: NO_KEY,
        });
      });

      it("updates settings within bounds, and refuses settings out of bounds naming the field", async () => {
        const w = world();
        const { app } = await w.core.clientApps.create(SETTINGS);
        const updated = await w.core.clientApps.update(app.id, {
          ...SETTINGS,
          displayName: "  Renamed  ",
          allowedOrigins: ["https://app.example.com", "https://app.example.com"],
          codeLength: 8,
        });
        expect(updated.settings).toMatchObject({
          displayName: "Renamed",
          allowedOrigins: ["https://app.example.com"],
          codeLength: 8,
        });
        expect((await w.core.clientApps.get(app.id)).settings.codeLength).toBe(8);
        const bad = await reasonOf(w.core.clientApps.update(app.id, { ...SETTINGS, codeTtlSeconds: 3600 }));
        expect(bad.reason).toBe("CLIENT_APP_SETTINGS_INVALID");
        const tooShort = w.core.clientApps.create({ ...SETTINGS, codeLength: 4 });
        await expect(tooShort).rejects.toThrow("code_length: 6 to 10 for digits codes");
      });

      it("lists apps page by page, and deletes them", async () => {
        const w = world();
        const created = await Promise.all([1, 2, 3].map(() => w.core.clientApps.create(SETTINGS)));
        const mine = new Set(created.map((c) => c.app.id));
        const seen = new Set<string>();
        let pageToken = "";
        for (let guard = 0; guard < 1000; guard++) {
          const page = await w.core.clientApps.list({ pageSize: 2, pageToken });
          for (const a of page.apps) if (mine.has(a.id)) seen.add(a.id);
          pageToken = page.nextPageToken;
          if (!pageToken) break;
        }
        expect(seen).toEqual(mine);
        const [first] = created;
        expect(await w.core.clientApps.delete(first?.app.id ?? "")).toBe(true);
        expect(await w.core.clientApps.delete(first?.app.id ?? "")).toBe(false);
        expect((await reasonOf(w.core.clientApps.authenticate(first?.apiKey ?? ""))).reason).toBe(
          "API_KEY_INVALID",
        );
        expect((await reasonOf(w.core.clientApps.get(first?.app.id ?? ""))).reason).toBe(
          "CLIENT_APP_NOT_FOUND",
        );
      });
    });
  });
}
