// The magic-link login method at the edge: the email carries a link to the client app's own
// page (its registered link_url) with `challenge_id` and `link_token` added to the query. The
// page posts both back through VerifyLogin; opening the link by itself consumes nothing, so a
// mail system's link scanner cannot use up (or use) the login.
import type { GatewayLoginMethod } from "./login-method.ts";

/** The link for one challenge: the app's page with the two values its VerifyLogin call needs. */
export function magicLink(linkUrl: string, challengeId: string, linkToken: string): string {
  const url = new URL(linkUrl);
  url.searchParams.set("challenge_id", challengeId);
  url.searchParams.set("link_token", linkToken);
  return url.href;
}

export const linkMethod: GatewayLoginMethod = {
  // Not an RFC 8176 value (none names a link); "email" says what the person proved.
  amr: ["link", "email"],
  // The link_url persistence read with the token, not the gateway's cached copy of the app.
  emailPart: (issued) =>
    issued.linkToken && issued.linkUrl
      ? { link: magicLink(issued.linkUrl, issued.challengeId, issued.linkToken) }
      : {},
};
