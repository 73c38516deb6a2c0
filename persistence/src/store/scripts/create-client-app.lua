-- Registers a client app and its key.
-- KEYS[1] app key, KEYS[2] key-hash key, KEYS[3] set of all apps
-- ARGV: 1 app id, 2 settings JSON, 3 key prefix, 4 key hash, 5 now
redis.call("HSET", KEYS[1], "id", ARGV[1], "settings", ARGV[2], "kp", ARGV[3], "kh", ARGV[4],
  "dis", "0", "ca", ARGV[5], "ua", ARGV[5])
redis.call("SET", KEYS[2], ARGV[1])
redis.call("SADD", KEYS[3], ARGV[1])
return 1
