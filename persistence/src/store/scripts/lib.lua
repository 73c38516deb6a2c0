-- Shared helpers, prepended to every script by redis-store.ts.
--
-- Cluster note: every script declares its first key, and builds the others from the person's
-- key prefix P = "<prefix>{<tag>}:" (passed as ARGV[1]). All of them carry the same hash tag,
-- so they live in the declared key's slot: Redis Cluster serves them from one node, and the
-- script stays atomic there.

-- The field of a challenge that keeps the MAC of its proof for a login method. Codes keep
-- "mac", the name they had before other methods existed (pending codes survive an upgrade).
local function proof_field(method)
  if method == "code" then
    return "mac"
  end
  return "mac:" .. method
end

-- Forgets every proof of a challenge: once it is used, retired or dead, none may work.
local function drop_proofs(c)
  for _, f in ipairs(redis.call("HKEYS", c)) do
    if string.sub(f, 1, 3) == "mac" then
      redis.call("HDEL", c, f)
    end
  end
end

-- Integers as strings without exponent notation.
local function fmt(n)
  return string.format("%d", n)
end

-- Sets the key's expiry to `at` unless it already expires later.
local function extend(key, at)
  if redis.call("PEXPIRETIME", key) < at then
    redis.call("PEXPIREAT", key, fmt(at))
  end
end

-- Ends a session: the session record, every refresh token it ever had, its entry in the
-- user's set. Returns 1 if the session existed.
local function revoke_session(P, sid)
  local skey = P .. "s:" .. sid
  local uid = redis.call("HGET", skey, "uid")
  local sr = P .. "sr:" .. sid
  for _, h in ipairs(redis.call("SMEMBERS", sr)) do
    redis.call("DEL", P .. "rt:" .. h)
  end
  redis.call("DEL", sr)
  if not uid then
    return 0
  end
  redis.call("DEL", skey)
  redis.call("SREM", P .. "us:" .. uid, sid)
  return 1
end

-- Whether a session is live and `token_hash` is its current refresh token (not rotated since):
-- what an idempotent answer that handed out that token needs to still stand.
local function session_stands(P, sid, token_hash, now)
  local s = redis.call("HMGET", P .. "s:" .. sid, "ie", "exp")
  if not s[1] or tonumber(s[1]) <= now or tonumber(s[2]) <= now then
    return false
  end
  return redis.call("GET", P .. "rt:" .. token_hash) == sid
end

-- The failure counter of an email: a hash {n = failures, r = when the window resets}. The key
-- also expires at r, so it cleans itself up; comparing r with `now` keeps the rule exact.
-- Returns the reset time if the email is locked (n >= max), else nil.
local function locked_until(fkey, now, max_failures)
  local f = redis.call("HMGET", fkey, "n", "r")
  if f[1] and tonumber(f[2]) > now and tonumber(f[1]) >= max_failures then
    return tonumber(f[2])
  end
  return nil
end

local function count_failure(fkey, now, window)
  local r = tonumber(redis.call("HGET", fkey, "r") or "0")
  if r <= now then
    r = now + window
    redis.call("HSET", fkey, "n", "1", "r", fmt(r))
    redis.call("PEXPIREAT", fkey, fmt(r))
  else
    redis.call("HINCRBY", fkey, "n", 1)
  end
end
