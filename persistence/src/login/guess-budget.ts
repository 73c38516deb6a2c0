// Budgets of failed guesses, per client app and for the whole service, so that guessing spread
// over many emails stays bounded (the per-code and per-email limits bound it for one person
// only). Each guess is weighed by how guessable its code is (guess-weight.ts), so one budget
// serves every code length, and a budget is counted in "6-digit guesses".
//
//   - A verification takes its weight from both budgets before the code is checked, so that
//     concurrent guesses cannot overshoot; a budget that would go over refuses (RATE_LIMITED,
//     until its hour ends), and nothing is checked.
//   - Once half of a budget is used, only strong codes (10 digits, alphanumeric) are still
//     checked; and from a quarter on, new codes are issued strong (hardened). So an attacker
//     who spends a budget on weak codes forces longer codes, not an outage: spending the other
//     half takes 10,000 times more guesses than the send limits allow in an hour.
//   - What a verification took is settled once the outcome is known: all of it comes back when
//     no guess was counted (unknown or used code, a replay); the code's earlier wrong guesses
//     come back too when the right code is typed (people mistype; only codes never guessed
//     right keep counting).
// The math with the defaults is in SECURITY.md.
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from "rate-limiter-flexible";
import type { GuessOutcome } from "../store/store.ts";
import { MAX_GUESS_WEIGHT, STRONG_GUESS_WEIGHT } from "./guess-weight.ts";
import type { LimitsBackend } from "./send-limits.ts";

export interface GuessBudgetConfig {
  /** Failed 6-digit guesses (or their weight in other codes) one client app may use per hour. */
  appPerHour: number;
  /** The same for all client apps together. */
  globalPerHour: number;
}

export type BudgetScope = "app" | "global";

export type Reservation =
  | { ok: true; settle(outcome: GuessOutcome | undefined): Promise<void> }
  | { ok: false; retryAt: number; scope: BudgetScope; strongOnly: boolean };

export interface GuessBudget {
  /** Whether new codes of this app should be hardened (a budget is a quarter used). */
  underPressure(clientAppId: string): Promise<boolean>;
  /** Takes one guess of `weight` from the app's and the global budget, before it is checked. */
  reserve(clientAppId: string, weight: number): Promise<Reservation>;
}

export interface GuessBudgetEvents {
  /** A verification was refused because a budget is spent (for metrics and the audit log). */
  refused?(e: { scope: BudgetScope; clientAppId: string; strongOnly: boolean }): void;
  /** New codes of an app are hardened (reported when it starts, at most once a minute). */
  hardened?(e: { clientAppId: string; scope: BudgetScope }): void;
}

const HOUR_S = 3600;
const PRESSURE_CACHE_MS = 1000;

export function createGuessBudget(deps: {
  backend: LimitsBackend;
  config: GuessBudgetConfig;
  clock?: () => number;
  events?: GuessBudgetEvents;
}): GuessBudget {
  const clock = deps.clock ?? Date.now;
  const make = (name: string, perHour: number): RateLimiterAbstract => {
    const points = perHour * MAX_GUESS_WEIGHT;
    return deps.backend.kind === "redis"
      ? new RateLimiterRedis({
          storeClient: deps.backend.client,
          keyPrefix: `${deps.backend.prefix}rl:${name}`,
          points,
          duration: HOUR_S,
        })
      : new RateLimiterMemory({ keyPrefix: name, points, duration: HOUR_S });
  };
  const budgets: {
    scope: BudgetScope;
    limiter: RateLimiterAbstract;
    points: number;
    key(app: string): string;
  }[] = [
    {
      scope: "app",
      limiter: make("guess-app", deps.config.appPerHour),
      points: deps.config.appPerHour * MAX_GUESS_WEIGHT,
      key: (app) => app,
    },
    {
      scope: "global",
      limiter: make("guess-global", deps.config.globalPerHour),
      points: deps.config.globalPerHour * MAX_GUESS_WEIGHT,
      key: () => "all",
    },
  ];
  // What each budget has used, as this replica last saw it (read when stale, and refreshed by
  // every reservation's own answer): enough to decide whether to harden new codes.
  const usage = new Map<string, { until: number; consumed: number }>();
  const remember = (scope: BudgetScope, key: string, consumed: number) => {
    if (usage.size > 20_000) usage.clear();
    usage.set(`${scope}:${key}`, { until: clock() + PRESSURE_CACHE_MS, consumed });
  };
  const lastHardened = new Map<string, number>();

  const giveBack = async (clientAppId: string, weight: number) => {
    if (weight <= 0) return;
    // Best effort: a give-back that fails leaves the budget spent, the safe side.
    await Promise.all(
      budgets.map((b) => b.limiter.reward(b.key(clientAppId), weight).catch(() => undefined)),
    );
  };

  return {
    async underPressure(clientAppId) {
      const now = clock();
      const consumed = await Promise.all(
        budgets.map(async (b) => {
          const key = b.key(clientAppId);
          const hit = usage.get(`${b.scope}:${key}`);
          if (hit && hit.until > now) return hit.consumed;
          const seen = (await b.limiter.get(key))?.consumedPoints ?? 0;
          remember(b.scope, key, seen);
          return seen;
        }),
      );
      const index = budgets.findIndex((b, i) => (consumed[i] ?? 0) * 4 >= b.points);
      const scope = budgets[index]?.scope;
      if (scope && (lastHardened.get(clientAppId) ?? 0) + 60_000 <= now) {
        if (lastHardened.size > 10_000) lastHardened.clear();
        lastHardened.set(clientAppId, now);
        deps.events?.hardened?.({ clientAppId, scope });
      }
      return scope !== undefined;
    },

    async reserve(clientAppId, weight) {
      const strong = weight <= STRONG_GUESS_WEIGHT;
      const results = await Promise.allSettled(
        budgets.map((b) => b.limiter.consume(b.key(clientAppId), weight)),
      );
      let refusal: { scope: BudgetScope; msBeforeNext: number; strongOnly: boolean } | undefined;
      results.forEach((r, i) => {
        const b = budgets[i] as (typeof budgets)[number];
        const seen =
          r.status === "fulfilled" ? r.value : r.reason instanceof RateLimiterRes ? r.reason : undefined;
        if (seen) remember(b.scope, b.key(clientAppId), seen.consumedPoints);
        let refusedHere: RateLimiterRes | undefined;
        let strongOnly = false;
        if (r.status === "rejected") {
          if (!(r.reason instanceof RateLimiterRes)) return;
          refusedHere = r.reason;
        } else if (!strong && r.value.consumedPoints * 2 > b.points) {
          // Past half of the budget, weak codes are no longer checked; strong ones still are.
          refusedHere = r.value;
          strongOnly = true;
        }
        if (refusedHere && (!refusal || refusedHere.msBeforeNext > refusal.msBeforeNext)) {
          refusal = { scope: b.scope, msBeforeNext: refusedHere.msBeforeNext, strongOnly };
        }
      });
      const failure = results.find(
        (r): r is PromiseRejectedResult => r.status === "rejected" && !(r.reason instanceof RateLimiterRes),
      );
      if (failure || refusal) {
        // Nothing is checked: give back what was taken (a refusing limiter counted it too).
        await Promise.all(
          results.map((r, i) => {
            const b = budgets[i] as (typeof budgets)[number];
            const took = r.status === "fulfilled" || r.reason instanceof RateLimiterRes;
            return took ? b.limiter.reward(b.key(clientAppId), weight).catch(() => undefined) : undefined;
          }),
        );
        if (failure) throw failure.reason;
      }
      if (refusal) {
        deps.events?.refused?.({ scope: refusal.scope, clientAppId, strongOnly: refusal.strongOnly });
        return {
          ok: false,
          retryAt: clock() + Math.max(1000, refusal.msBeforeNext),
          scope: refusal.scope,
          strongOnly: refusal.strongOnly,
        };
      }
      return {
        ok: true,
        async settle(outcome) {
          if (!outcome) return giveBack(clientAppId, weight);
          if (outcome.succeeded)
            return giveBack(clientAppId, weight + outcome.priorFailures * outcome.weight);
          // A wrong guess keeps its weight (known before the check, so nothing to adjust).
          return giveBack(clientAppId, weight - outcome.weight);
        },
      };
    },
  };
}
