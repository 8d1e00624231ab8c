/** The service's environment for a benchmark run: production mode, the run's own database and AMQP prefix. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './services';

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** BCRYPT_COST: the lowest value production mode accepts. */
export const BENCH_BCRYPT_COST = 10;

/**
 * Every RATE_LIMIT_* integer variable the service's config declares, set to the highest value it
 * accepts, so the benchmark measures the service and not its limiter (all load comes from one IP).
 * Read from app/src/config.ts so limiters added later are covered without editing the benchmark.
 */
export function rateLimitOverrides(configSource = readFileSync(path.join(ROOT, 'app/src/config.ts'), 'utf8')): Record<string, string> {
  const env: Record<string, string> = {};
  const integerVar = /\b(RATE_LIMIT_[A-Z0-9_]+)\s*:\s*integer\(\s*[^,]+,\s*[^,]+,\s*([0-9_]+)\s*\)/g;
  for (const match of configSource.matchAll(integerVar)) env[match[1]!] = match[2]!.replace(/_/g, '');
  // a switch, if there is one, stays on: the limiter runs, it just never refuses
  const booleanVar = /\b(RATE_LIMIT_(?:ENABLED|DISABLED))\b/g;
  for (const match of configSource.matchAll(booleanVar)) env[match[1]!] ??= match[1]!.endsWith('DISABLED') ? 'false' : 'true';
  return env;
}

/** BENCH_ENV_<NAME>=value in the benchmark's environment passes <NAME>=value to both services (experiments: DB_POOL_MAX, …). */
export function passthroughEnv(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key.startsWith('BENCH_ENV_') && value !== undefined) env[key.slice('BENCH_ENV_'.length)] = value;
  }
  return env;
}

export interface ServiceEnvInput {
  databaseUrl: string;
  amqpPrefix: string;
  port: number;
  jwtSecret: string;
}

export function newJwtSecret(): string {
  return randomBytes(48).toString('base64url');
}

export function serviceEnv(input: ServiceEnvInput, overrides: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(input.port),
    // production's level: every request writes one line (to a log file here)
    LOG_LEVEL: 'info',
    DATABASE_URL: input.databaseUrl,
    REDIS_URL,
    AMQP_URL,
    AMQP_PREFIX: input.amqpPrefix,
    REDIS_KEY_PREFIX: `${input.amqpPrefix}:`,
    JWT_SECRET: input.jwtSecret,
    BCRYPT_COST: String(BENCH_BCRYPT_COST),
    // longer than any run, so no token or hold lapses mid-benchmark
    ACCESS_TOKEN_TTL: '1h',
    BOOKING_HOLD_TTL: '1h',
    ...overrides,
  };
}
