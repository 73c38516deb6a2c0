// The magic-link login method: the email carries a link to the client app's own page with a
// 260-bit random token (lnk_ + 52 base32 characters). Following the link proves nothing by
// itself: the app's page posts the token back (VerifyLogin), so a mail scanner that opens
// the link consumes nothing. Unguessable, so it is never hardened; a wrong token still
// counts as an attempt at the challenge, like a wrong code.
import { newLinkToken } from "../../crypto/ids.ts";
import type { LoginMethod } from "./login-method.ts";

export const linkMethod: LoginMethod = {
  name: "link",
  newProof: () => newLinkToken(),
  canonical: (presented) => presented,
};
