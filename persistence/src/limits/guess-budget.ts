// Budgets of failed guesses, per client app and for the whole service, so that guessing spread
// over many emails stays bounded (the per-code and per-email limits bound it for one person
// only). Each guess is weighed by how guessable its code is (guess-weight.ts), so one budget
// serves every code length, and a budget is counted in "6-digit guesses".
//
//   - A verification of a code that can be guessed (pending, unexpired, of the calling app)
//     takes its weight from both budgets before the code is checked, so that concurrent
//     guesses cannot overshoot; a budget that would go over refuses (RATE_LIMITED), and
//     nothing is checked. The retry time is the end of the budget's hour, or a second from now
//     when only other verifications in flight on this replica made it go over.
//   - Once half of a budget is used, only strong codes (10 digits, alphanumeric) are still
//     checked; and once a quarter is spent on wrong guesses (not counting verifications in
//     flight, which mostly succeed), new codes are issued strong (hardened). So an attacker
//     who spends a budget on weak codes forces longer codes, not an outage: spending the other
//     half takes 10,000 times more guesses than the send limits allow in an hour.
//   - What a verification took is settled once the outcome is known: all of it comes back when
//     no guess was counted (unknown or used code, a replay); the code's earlier wrong guesses
//     come back too when the right code is typed (people mistype; only codes never guessed
//     right keep counting).
// The math with the defaults is in SECURITY.md.
import type { GuessOutcome } from "../store/store.ts";
import { MAX_GUESS_WEIGHT, STRONG_GUESS_WEIGHT } from "./guess-weight.ts";
import type { LimitsBackend } from "./send-limits.ts";
import { createWindowCounter, type WindowCount } from "./window-counter.ts";

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

const HOUR_MS = 3_600_000;
const PRESSURE_CACHE_MS = 1000;
/** A refusal caused only by other verifications in flight asks for a retry this soon. */
const TRANSIENT_RETRY_MS = 1000;

export function createGuessBudget(deps: {
  backend: LimitsBackend;
  config: GuessBudgetConfig;
  clock?: () => number;
  events?: GuessBudgetEvents;
}): GuessBudget {
  const clock = deps.clock ?? Date.now;
  const budgets: { scope: BudgetScope; points: number; key(app: string): string }[] = [
    { scope: "app", points: deps.config.appPerHour * MAX_GUESS_WEIGHT, key: (app) => `app:${app}` },
    { scope: "global", points: deps.config.globalPerHour * MAX_GUESS_WEIGHT, key: () => "all" },
  ];
  // Two counts per budget: what verifications hold, in flight or spent (admission decides on
  // it, so that guesses in flight cannot overshoot), and what wrong guesses spent (hardening
  // decides on it, so that a busy app's logins in flight do not harden its codes).
  const counter = createWindowCounter({ backend: deps.backend, name: "guess", windowMs: HOUR_MS, clock });
  const spent = createWindowCounter({ backend: deps.backend, name: "guess-spent", windowMs: HOUR_MS, clock });
  // Weight this replica has reserved and not yet settled, by counter key: a refusal that only
  // other verifications in flight caused is transient (retry in a second, not in an hour).
  const reservedHere = new Map<string, number>();
  const hold = (key: string, weight: number) => {
    const left = (reservedHere.get(key) ?? 0) + weight;
    if (left > 0) reservedHere.set(key, left);
    else reservedHere.delete(key);
  };
  // What each budget has used, as this replica last saw it (read when stale, and refreshed by
  // every reservation's own answer): enough to decide whether to harden new codes.
  const usage = new Map<string, { until: number; consumed: number }>();
  const remember = (key: string, consumed: number) => {
    if (usage.size > 20_000) usage.clear();
    usage.set(key, { until: clock() + PRESSURE_CACHE_MS, consumed });
  };
  const lastHardened = new Map<string, number>();

  return {
    async underPressure(clientAppId) {
      const now = clock();
      const consumed = await Promise.all(
        budgets.map(async (b) => {
          const key = b.key(clientAppId);
          const hit = usage.get(key);
          if (hit && hit.until > now) return hit.consumed;
          const seen = (await spent.get(key)).total;
          remember(key, seen);
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
      const keys = budgets.map((b) => b.key(clientAppId));
      for (const key of keys) hold(key, weight);
      let counts: WindowCount[];
      try {
        counts = await Promise.all(keys.map((key) => counter.add(key, weight)));
      } catch (err) {
        for (const key of keys) hold(key, -weight);
        throw err;
      }
      const giveBack = (n: number) =>
        Promise.all(
          keys.map((key, i) =>
            n > 0
              ? counter.subtract(key, n, (counts[i] as WindowCount).windowEnd).catch(() => undefined)
              : undefined,
          ),
        );
      const spend = (n: number) =>
        Promise.all(
          keys.map(async (key) => {
            const { total } = await spent.add(key, n);
            remember(key, total);
          }),
        ).catch(() => undefined);
      // Taken back from the current window only: a best estimate of what stays spent.
      const unspend = (n: number) =>
        Promise.all(
          keys.map(async (key) => {
            const { windowEnd } = await spent.get(key);
            if (windowEnd > 0) await spent.subtract(key, n, windowEnd);
            usage.delete(key);
          }),
        ).catch(() => undefined);
      let refusal: { scope: BudgetScope; retryAt: number; strongOnly: boolean } | undefined;
      budgets.forEach((b, i) => {
        const { total, windowEnd } = counts[i] as WindowCount;
        // Past half of a budget only strong codes are checked; past all of it, none.
        const cap = strong ? b.points : b.points / 2;
        if (total <= cap) return;
        // Without what other verifications of this replica hold right now, would it fit?
        const settled = total - ((reservedHere.get(keys[i] as string) ?? 0) - weight);
        const retryAt = settled <= cap ? clock() + TRANSIENT_RETRY_MS : windowEnd;
        if (!refusal || retryAt > refusal.retryAt)
          refusal = { scope: b.scope, retryAt, strongOnly: !strong && total <= b.points };
      });
      if (refusal) {
        // Nothing is checked: the weight goes back at once.
        await giveBack(weight);
        for (const key of keys) hold(key, -weight);
        deps.events?.refused?.({ scope: refusal.scope, clientAppId, strongOnly: refusal.strongOnly });
        return { ok: false, ...refusal };
      }
      let settled = false;
      return {
        ok: true,
        async settle(outcome) {
          if (settled) return;
          settled = true;
          // Best effort: a give-back that fails leaves the budget spent, the safe side.
          if (!outcome) await giveBack(weight);
          else if (outcome.succeeded) {
            const earlier = outcome.priorFailures * outcome.weight;
            await Promise.all([giveBack(weight + earlier), earlier > 0 ? unspend(earlier) : undefined]);
          } else {
            // A wrong guess keeps its weight (known before the check, so nothing to adjust).
            await Promise.all([giveBack(weight - outcome.weight), spend(outcome.weight)]);
          }
          // Released only once the count has been given back, so that the two never disagree
          // in the direction that would make a transient refusal look like a spent budget.
          for (const key of keys) hold(key, -weight);
        },
      };
    },
  };
}
