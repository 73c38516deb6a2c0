-- Ends every session of a user, or only those of one app.
-- KEYS[1] the user's session set
-- ARGV: 1 P, 2 app id or ""
-- Returns how many live sessions were revoked.
local P, count = ARGV[1], 0
for _, sid in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  local app = redis.call("HGET", P .. "s:" .. sid, "app")
  if not app then
    revoke_session(P, sid)
  elseif ARGV[2] == "" or app == ARGV[2] then
    count = count + revoke_session(P, sid)
  end
end
return count
