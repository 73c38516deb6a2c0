import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { persistenceConfig } from "../config.ts";
import { CODE_LENGTHS } from "../store/store.ts";
import { codeSpace, guessWeight, MAX_GUESS_WEIGHT } from "./guess-weight.ts";
import { expectedTakeoversPerDay } from "./guessing-bound.ts";

const defaults = {
  globalPerHour: Number(persistenceConfig.vars.GUESS_BUDGET_GLOBAL_PER_HOUR.default),
  appPerHour: Number(persistenceConfig.vars.GUESS_BUDGET_APP_PER_HOUR.default),
  maxAttempts: Number(persistenceConfig.vars.CODE_MAX_ATTEMPTS.default),
};
const root = join(import.meta.dirname, "..", "..", "..");

describe("the guessing bound", () => {
  it("keeps expected takeovers by guessing at or below 0.01 a day with the default settings", () => {
    const figure = expectedTakeoversPerDay(defaults);
    expect(figure).toBeLessThanOrEqual(0.01);
    expect(figure.toFixed(4)).toBe("0.0090");
    // One app alone spends at most its own budget.
    expect(expectedTakeoversPerDay({ ...defaults, globalPerHour: defaults.appPerHour }).toFixed(4)).toBe(
      "0.0045",
    );
  });

  it("rests on weights that never undercount a guess's chance, for every allowed code", () => {
    for (const alphabet of ["digits", "alphanumeric"] as const) {
      const { min, max } = CODE_LENGTHS[alphabet];
      for (let length = min; length <= max; length++) {
        // weight / 10¹² ≥ 1/N: the budget, in weight, bounds the sum of the guesses' chances.
        expect(guessWeight(alphabet, length) * codeSpace(alphabet, length)).toBeGreaterThanOrEqual(1e12);
        expect(guessWeight(alphabet, length)).toBeLessThanOrEqual(MAX_GUESS_WEIGHT);
      }
    }
  });

  it("is the figure SECURITY.md and the README state", () => {
    const figure = expectedTakeoversPerDay(defaults).toFixed(4);
    for (const doc of ["SECURITY.md", "README.md"]) {
      expect([doc, readFileSync(join(root, doc), "utf8").includes(`${figure} accounts a day`)]).toEqual([
        doc,
        true,
      ]);
    }
  });
});
