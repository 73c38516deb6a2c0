-- Lists a user's live sessions, and drops the ids of sessions that have expired.
-- KEYS[1] the user's session set
-- ARGV: 1 P
-- Returns a flat list: sid, app, created, refreshed, idle expires, expires, user agent,
-- login method ("" for sessions from before methods), ...
local P, out = ARGV[1], {}
for _, sid in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  local s = redis.call("HMGET", P .. "s:" .. sid, "app", "ca", "ref", "ie", "exp", "ua", "lm")
  if s[1] then
    table.insert(out, sid)
    for i = 1, 7 do
      table.insert(out, s[i] or "")
    end
  else
    revoke_session(P, sid)
  end
end
return out
