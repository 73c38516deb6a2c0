// What the gateway does per login method (persistence's login/methods/ makes and checks the
// proofs): what the method adds to the login email, and the `amr` claim of the access tokens
// of a session it opened.
import type { IssueLoginCodeResponse } from "@emailauth/proto/persistence";

export interface GatewayLoginMethod {
  /** The access token's `amr` (RFC 8176 names where one fits). */
  readonly amr: readonly string[];
  /** The part of the email this method fills from the issued challenge. */
  emailPart(issued: Pick<IssueLoginCodeResponse, "challengeId" | "code" | "linkToken" | "linkUrl">): {
    code?: string;
    link?: string;
  };
}
