// How guessable a code is, as a number the guess budgets can add up: the weight of one wrong
// guess is 10^12 / (number of possible codes), rounded up, so that a guess at a 6-digit code
// weighs 1,000,000 ("one 6-digit guess") and a guess at a 10-digit code 100. A budget of B
// 6-digit guesses (B × 10^6 weight) then bounds the expected number of codes guessed right,
// whatever the mix of code lengths, by about B / 10^6 (the math is in SECURITY.md).
import { type CodeAlphabet, MAX_GUESS_WEIGHT } from "../store/store.ts";

export { MAX_GUESS_WEIGHT };

/**
 * Codes this strong or stronger (10 digits, or any alphanumeric code) are still verified when
 * guessing has used half of a budget; weaker ones are not (see guess-budget.ts).
 */
export const STRONG_GUESS_WEIGHT = 100;

export function codeSpace(alphabet: CodeAlphabet, length: number): number {
  return (alphabet === "digits" ? 10 : 32) ** length;
}

export function guessWeight(alphabet: CodeAlphabet, length: number): number {
  return Math.max(1, Math.ceil(1e12 / codeSpace(alphabet, length)));
}
