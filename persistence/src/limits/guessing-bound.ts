// The bound on guessing that the failed-guess budgets give, whatever an attacker does, across
// all emails and client apps (SECURITY.md, "Guessing", has the derivation):
//
//     E  ≤  25 × G × (1 + 2a / 10⁶) / 10⁶    expected codes guessed right in any 24 hours
//
//   G  the global budget, GUESS_BUDGET_GLOBAL_PER_HOUR, in wrong 6-digit guesses an hour;
//      a day overlaps at most 25 of its hourly windows
//   a  the wrong guesses a code allows (CODE_MAX_ATTEMPTS); 2a/10⁶ covers guessing without
//      replacement within one code and the wrong guesses a right one gives back
// One wrong guess at a code of N possible values weighs ⌈10¹²/N⌉ ≥ 10¹²/N in the budget, so
// the chance it had of being right (1/N) is at most its weight / 10¹²: the budget bounds the
// sum of those chances, for every mix of code lengths.

export interface GuessingSettings {
  globalPerHour: number;
  maxAttempts: number;
}

/** Hourly budget windows a 24-hour period can overlap. */
const WINDOWS_PER_DAY = 25;

export function expectedTakeoversPerDay(s: GuessingSettings): number {
  return (WINDOWS_PER_DAY * s.globalPerHour * (1 + (2 * s.maxAttempts) / 1e6)) / 1e6;
}
