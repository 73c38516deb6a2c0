// A login method is a way for the person to prove they hold the email address: the login
// email carries one one-time proof per method the client app uses (a code to type, a link to
// open), the store keeps only their MACs, and the first proof presented consumes the
// challenge. What differs between methods is only how a proof is made and how a presented
// one is put back in the form it was made in; the rest of the flow (limits, attempts, the
// failure lock, idempotency, the session) is the same for all and lives in login-codes.ts.
import type { ClientAppSettingsRecord, LoginMethodName } from "../../store/store.ts";

export interface LoginMethod {
  readonly name: LoginMethodName;
  /**
   * A fresh proof for a new challenge of an app with these settings, in clear: it goes into
   * the email and nowhere else. `hardened` asks for the strongest form while guessing is
   * under pressure (limits/guess-budget.ts).
   */
  newProof(settings: ClientAppSettingsRecord, hardened: boolean): string;
  /**
   * A presented proof in the form it was made in, ready to be MACed and compared. Anything
   * that cannot be right still goes on to be compared (and counted as an attempt): refusing
   * it early would answer faster and differently.
   */
  canonical(presented: string, settings: ClientAppSettingsRecord): string;
}
