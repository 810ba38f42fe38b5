// Barrel of rxllm/redis (issue 14): rate-limit, cooldown and budget stores on Redis. Loads ioredis only here.
export {};
