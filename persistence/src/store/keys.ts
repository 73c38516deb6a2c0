// The Redis key schema (also in the README). `<prefix>` is REDIS_KEY_PREFIX ("ea:" by default).
//
// Per person — everything carries the person's slot tag `{T}` (12 base32 characters of a keyed
// digest of the email), so one Redis Cluster slot holds it all and one script can change it
// atomically. D is the keyed digest of the email; no key name contains an address.
//
//   <prefix>{T}:c:<challenge id>   hash   a login code: app, D, email, key id, MAC, issued,
//                                         expires, attempts, state (p|c|s|x)
//                                         TTL: code expiry + CHALLENGE_RETENTION
//   <prefix>{T}:l:<app id>:<D>     string the pending challenge of (app, email)   TTL: code expiry
//   <prefix>{T}:f:<D>              hash   failures of the email across codes: n, and r (when
//                                         the window resets)                     TTL: until r
//   <prefix>{T}:e:<D>              set    erasure index: codes and pointers of the email
//                                         TTL: the latest code's expiry + retention
//   <prefix>{T}:idx:<D>            string email -> user id                        no TTL
//   <prefix>{T}:u:<user id>        hash   user: id, email, D, created, last login  no TTL
//   <prefix>{T}:us:<user id>       set    the user's session ids                   TTL: latest session end
//   <prefix>{T}:s:<session id>     hash   session: user, app, created, refreshed, idle/absolute
//                                         expiry, user agent                       TTL: idle expiry
//   <prefix>{T}:rt:<token hash>    string session id (current token) or "<sid>:old" (rotated)
//                                         TTL: idle expiry (current), session end (rotated)
//   <prefix>{T}:sr:<session id>    set    every token hash the session had         TTL: session end
//
// Client apps — few and read-mostly, in one slot:
//
//   <prefix>{apps}:a:<app id>      hash   id, settings (JSON), key prefix, key hash, disabled,
//                                         created, updated                         no TTL
//   <prefix>{apps}:k:<key hash>    string app id (an old key during its grace period has a TTL)
//   <prefix>{apps}:all             set    every app id
//
// Send limits (rate-limiter-flexible; one key each, any slot):
//
//   <prefix>rl:<limit>:<D | IP digest | app id | "all">   counter   TTL: the limit's window

export function personPrefix(prefix: string, tag: string): string {
  return `${prefix}{${tag}}:`;
}

export function appsPrefix(prefix: string): string {
  return `${prefix}{apps}:`;
}
