// A link that goes into an email as it is, defined once for the services that store one (a
// client app's link_url) and send one (the magic link): an absolute http(s) URL, with no
// white space or control characters, no user:password and no fragment. Services add their
// own rules on top (https only, a length).
const CONTROL_OR_SPACE = /[\p{Cc}\s]/u;

/** The parsed link, or why it cannot be one. */
export function parseWebLink(raw: string): { url: URL } | { problem: string } {
  if (CONTROL_OR_SPACE.test(raw)) return { problem: "not a URL" };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: "not an absolute URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { problem: "not an http(s) URL" };
  if (url.username || url.password) return { problem: "no credentials in the URL" };
  if (raw.includes("#")) return { problem: "no fragment" };
  return { url };
}
