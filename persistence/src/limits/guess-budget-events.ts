// What the guess budgets report to operators: a counter of refused verifications by budget,
// and audit log events (at most one a minute per app and budget, so an attack does not flood
// the log). The counter is the aggregate-guessing signal to alert on.
import { Counter, type Logger, type Metrics } from "@emailauth/platform";
import type { GuessBudgetEvents } from "./guess-budget.ts";

export function createGuessBudgetEvents(deps: { logger: Logger; metrics: Metrics }): GuessBudgetEvents {
  const refusals = new Counter({
    name: "emailauth_guess_budget_refusals_total",
    help: "Verifications refused because a failed-guess budget is spent, by budget (app or global) and by what is refused (weak codes only, or all).",
    labelNames: ["budget", "refused"],
    registers: [deps.metrics.registry],
  });
  const hardened = new Counter({
    name: "emailauth_guess_budget_hardened_total",
    help: "Times a client app's new codes were switched to the longest length because a failed-guess budget is under pressure, by budget.",
    labelNames: ["budget"],
    registers: [deps.metrics.registry],
  });
  const lastLogged = new Map<string, number>();
  const oncePerMinute = (key: string) => {
    const now = Date.now();
    if ((lastLogged.get(key) ?? 0) + 60_000 > now) return false;
    if (lastLogged.size > 10_000) lastLogged.clear();
    lastLogged.set(key, now);
    return true;
  };
  return {
    refused({ scope, clientAppId, strongOnly }) {
      refusals.inc({ budget: scope, refused: strongOnly ? "weak" : "all" });
      if (oncePerMinute(`refused:${scope}:${clientAppId}`)) {
        deps.logger.warn(
          { event: "guess_budget.spent", budget: scope, clientAppId, refused: strongOnly ? "weak" : "all" },
          "failed-guess budget spent: verifications refused",
        );
      }
    },
    hardened({ clientAppId, scope }) {
      hardened.inc({ budget: scope });
      deps.logger.warn(
        { event: "guess_budget.hardened", budget: scope, clientAppId },
        "failed-guess budget under pressure: new codes are issued at their longest",
      );
    },
  };
}
