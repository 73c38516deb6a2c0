// @emailauth/platform/redis: Redis clients, for the services that use Redis (a store, a
// queue). Apart from the main entry so that others do not load ioredis.
export {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
  type RedisClientOptions,
  redisCheck,
} from "./redis-client.ts";
export { parseRedisUrl, type RedisTarget } from "./redis-url.ts";
export { withRedisUnavailable } from "./unavailable.ts";
