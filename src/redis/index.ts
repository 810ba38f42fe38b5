// Barrel of rxllm/redis (issue 14): rate-limit, cooldown and budget stores on Redis. Loads ioredis only here.
export { REDIS_STORE_DEFAULTS, type RedisScriptClient, type RedisStoreOptions } from './client';
export {
  createRedisRateLimitStore,
  encodeRateLimitState,
  type RedisRateLimitStoreOptions,
} from './rateLimitStore';
export {
  createRedisCooldownStore,
  REDIS_COOLDOWN_STORE_DEFAULTS,
  type RedisCooldownStoreOptions,
} from './cooldownStore';
export { createRedisBudgetStore } from './budgetStore';
export {
  createRedisResumeStore,
  REDIS_RESUME_STORE_DEFAULTS,
  type RedisResumeClient,
  type RedisResumeConnection,
  type RedisResumeStore,
  type RedisResumeStoreOptions,
} from './resumeStore';
