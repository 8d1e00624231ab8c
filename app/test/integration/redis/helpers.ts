/** Shared fixtures of the Redis integration tests: a key prefix of their own, cleaned up after. */
import { Redis } from 'ioredis';
import { RedisConnection } from '../../../src/adapters/redis/connection';
import { createLogger } from '../../../src/observability/logger';
import { TEST_JWT_SECRET, startTestApi, type TestApi } from '../../support/api';
import { TEST_REDIS_URL, uniqueName } from '../../support/env';

export const quietLogger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function testKeyPrefix(): string {
  return `${uniqueName('gtr')}:`;
}

export function connect(
  prefix: string,
  url = TEST_REDIS_URL,
  overrides: { commandTimeoutMs?: number; breakerThreshold?: number; breakerHalfOpenMs?: number } = {},
) {
  return new RedisConnection({
    url,
    keyPrefix: prefix,
    commandTimeoutMs: overrides.commandTimeoutMs ?? 200,
    connectTimeoutMs: 1_000,
    breakerThreshold: overrides.breakerThreshold ?? 5,
    breakerHalfOpenMs: overrides.breakerHalfOpenMs ?? 500,
    logger: quietLogger,
  });
}

/** Every key under `prefix` matching `pattern` on the shared server. */
export async function scanKeys(prefix: string, pattern = '*'): Promise<string[]> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}${pattern}`, 'COUNT', 500);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    return found;
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under `prefix`; returns how many there were. */
export async function deleteKeys(prefix: string): Promise<number> {
  const keys = await scanKeys(prefix);
  if (keys.length === 0) return 0;
  const redis = new Redis(TEST_REDIS_URL);
  try {
    return await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/**
 * The real API on a database of its own, with Redis at `redisUrl` under a fresh key prefix.
 * Generous Redis deadlines by default: on a loaded CI machine a 200 ms command timeout would
 * open the breaker and turn these tests into outage tests (outage.test.ts sets its own).
 */
export async function startRedisApi(env: Record<string, string> = {}, redisUrl = TEST_REDIS_URL): Promise<TestApi & { prefix: string }> {
  const prefix = testKeyPrefix();
  const api = await startTestApi({ ...redisEnv(prefix, redisUrl), ...env });
  await waitForRedis(api.url);
  return Object.assign(api, { prefix });
}

/** The Redis variables of an API under `prefix`, with the generous deadlines explained above. */
export function redisEnv(prefix: string, redisUrl = TEST_REDIS_URL): Record<string, string> {
  return { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, REDIS_COMMAND_TIMEOUT: '2s', REDIS_BREAKER_THRESHOLD: '50' };
}

/** The whole environment of a test API on `databaseUrl` and Redis under `prefix` (for loadConfig). */
export function redisApiEnv(databaseUrl: string, prefix: string): Record<string, string> {
  return { NODE_ENV: 'test', BCRYPT_COST: '4', DATABASE_URL: databaseUrl, JWT_SECRET: TEST_JWT_SECRET, ...redisEnv(prefix) };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls readiness until the API reports Redis `up` (the service itself never waits for Redis). */
export async function waitForRedis(apiUrl: string, timeoutMs = 5_000): Promise<void> {
  const ready = apiUrl.replace(/\/api\/v1$/, '/healthz/ready');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = (await (await fetch(ready)).json()) as { checks: Record<string, string> };
    if (body.checks.redis === 'up') return;
    if (Date.now() > deadline) throw new Error(`redis not up after ${timeoutMs}ms: ${JSON.stringify(body)}`);
    await sleep(25);
  }
}
