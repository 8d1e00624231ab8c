/**
 * Pool warm-up against real PostgreSQL: the api opens DB_POOL_MIN connections before readiness
 * turns 200, keeps them through idle periods, and while the database cannot be reached it keeps
 * trying with readiness down. Connections go through a TCP proxy (slowed down, or cut) so the
 * moment before warm is observable.
 */
import express from 'express';
import { Client, type Pool } from 'pg';
import { Registry } from 'prom-client';
import { composeApi } from '../../src/compose';
import { createPool, postgresHealthCheck, warmPool } from '../../src/adapters/postgres/pool';
import { loadConfig } from '../../src/config';
import { healthRouter } from '../../src/http/health';
import { closeServer, listen } from '../../src/http/server';
import { createLogger } from '../../src/observability/logger';
import type { HealthCheck } from '../../src/ports';
import { TEST_JWT_SECRET } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { TEST_DATABASE_URL, uniqueName } from '../support/env';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
let proxy: TcpProxy;
const pools: Pool[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(TEST_DATABASE_URL);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
});

afterAll(async () => {
  for (const pool of pools) await pool.end().catch(() => undefined);
  await proxy?.close();
  await db?.drop();
});

function proxiedPool(applicationName: string, max = 10): Pool {
  const pool = createPool({ url: proxy.rewrite(db.url), max, statementTimeoutMs: 30_000, applicationName });
  pools.push(pool);
  return pool;
}

/** Connections PostgreSQL itself has open for this application name (not what the pool believes). */
async function serverConnections(applicationName: string): Promise<number> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

async function readiness(url: string): Promise<{ status: number; postgres: string | undefined }> {
  const response = await fetch(`${url}/healthz/ready`);
  const body = (await response.json()) as { checks: Record<string, string> };
  return { status: response.status, postgres: body.checks.postgres };
}

it('the api opens DB_POOL_MIN connections before readiness turns 200', async () => {
  const name = uniqueName('warm');
  const pool = proxiedPool(name);
  proxy.delay(100); // each connection takes several round trips: warm-up is visibly not instant
  const health: HealthCheck[] = [postgresHealthCheck(pool)];
  const config = loadConfig({ NODE_ENV: 'test', BCRYPT_COST: '4', DATABASE_URL: db.url, JWT_SECRET: TEST_JWT_SECRET, DB_POOL_MIN: '4' });
  const api = composeApi({
    pool,
    config,
    logger,
    jwtSecret: TEST_JWT_SECRET,
    health,
    metrics: new Registry(),
    isShuttingDown: () => false,
  });
  const { server, url } = await listen(api.app, '127.0.0.1', 0);
  try {
    const answers: Array<{ status: number; postgres: string | undefined; open: number }> = [];
    for (;;) {
      const answer = await readiness(url);
      // what PostgreSQL has open at the moment readiness answered
      answers.push({ ...answer, open: await serverConnections(name) });
      if (answer.status === 200) break;
      expect(answers.length).toBeLessThan(200);
      await sleep(20);
    }
    expect(answers[0]).toMatchObject({ status: 503, postgres: 'down' });
    expect(answers.at(-1)!.open).toBeGreaterThanOrEqual(4);
    expect(await api.warmup).toBeGreaterThanOrEqual(4);
  } finally {
    proxy.delay(0);
    await closeServer(server);
    await api.close();
  }
});

it('keeps the warm connections through idle periods; connections above the minimum still time out', async () => {
  const pool = proxiedPool(uniqueName('idle'));
  expect(await warmPool(pool, 3)).toBe(3);
  pool.options.idleTimeoutMillis = 50;
  const extra = await Promise.all(Array.from({ length: 6 }, () => pool.connect()));
  for (const client of extra) client.release();
  expect(pool.totalCount).toBe(6);
  await sleep(300);
  expect(pool.totalCount).toBe(3);
});

it('while the database cannot be reached, readiness is down and warm-up retries until it can', async () => {
  const pool = proxiedPool(uniqueName('cut'));
  const check = postgresHealthCheck(pool, 500);
  const app = express().use(healthRouter([check], () => false, new Registry()));
  const { server, url } = await listen(app, '127.0.0.1', 0);
  proxy.cut();
  const failures: unknown[] = [];
  const warming = warmPool(pool, 2, { retryMs: 20, onError: (error) => failures.push(error) });
  try {
    while (failures.length < 2) await sleep(10);
    expect(await readiness(url)).toMatchObject({ status: 503, postgres: 'down' });
    proxy.restore();
    expect(await warming).toBe(2);
    expect(await readiness(url)).toMatchObject({ status: 200, postgres: 'up' });
  } finally {
    proxy.restore();
    await closeServer(server);
  }
});

it('DB_POOL_MIN=0 opens nothing and does not hold readiness back', async () => {
  const pool = proxiedPool(uniqueName('none'));
  expect(await warmPool(pool, 0)).toBe(0);
  expect(pool.totalCount).toBe(0);
  expect(await postgresHealthCheck(pool).check()).toBe('up');
});

it('stops trying when the pool ends', async () => {
  const pool = proxiedPool(uniqueName('end'));
  proxy.cut();
  try {
    const warming = warmPool(pool, 2, { retryMs: 20 });
    await sleep(50);
    await pool.end();
    expect(await warming).toBe(0);
  } finally {
    proxy.restore();
  }
});
