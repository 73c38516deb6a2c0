-- Ends one session, if it belongs to the given app (when one is given).
-- KEYS[1] session key
-- ARGV: 1 P, 2 session id, 3 app id or ""
-- Returns 1 if a session was revoked, else 0.
local app = redis.call("HGET", KEYS[1], "app")
if not app or (ARGV[3] ~= "" and app ~= ARGV[3]) then
  return 0
end
return revoke_session(ARGV[1], ARGV[2])
