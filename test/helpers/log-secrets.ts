// Finds secrets in log output as whole tokens: a secret counts only where it stands alone,
// not as part of a longer word, so that a 6-digit code found inside a random request id
// ("…fd5e79631187") is not taken for a leak, while `"code":"963118"` or "code 963118" is.
const WORD = "A-Za-z0-9_";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The secrets that occur in `text` as whole tokens. */
export function leakedSecrets(text: string, secrets: Iterable<string>): string[] {
  const found: string[] = [];
  for (const secret of secrets) {
    if (!text.includes(secret)) continue;
    if (new RegExp(`(?<![${WORD}])${escapeRegExp(secret)}(?![${WORD}])`).test(text)) found.push(secret);
  }
  return found;
}
