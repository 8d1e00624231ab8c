/**
 * PgListener against real PostgreSQL through a TCP proxy: a LISTEN that cannot be placed, or is
 * lost, is retried (a cockatiel policy: exponential backoff with jitter) until it is back, and a
 * NOTIFY reaches it again; close() ends the retrying.
 */
import type { Pool } from 'pg';
import { PgListener } from '../../src/adapters/postgres/listener';
import { createPool } from '../../src/adapters/postgres/pool';
import { createLogger } from '../../src/observability/logger';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { TEST_DATABASE_URL } from '../support/env';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
let proxy: TcpProxy;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(TEST_DATABASE_URL);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  pool = createPool({
    url: proxy.rewrite(db.url),
    max: 4,
    statementTimeoutMs: 5_000,
    queryTimeoutMs: 2_000,
    connectTimeoutMs: 1_000,
    applicationName: 'pg-listener-test',
  });
});

afterAll(async () => {
  await pool?.end();
  await proxy?.close();
  await db?.drop();
});

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function listenerOn(channel: string) {
  const received: string[] = [];
  const events: string[] = [];
  const listener = new PgListener({
    pool,
    channel,
    logger,
    retryMs: 20,
    maxRetryMs: 100,
    heartbeatMs: 50,
    onNotification: (payload) => received.push(payload),
    onListening: (missedSince) => events.push(missedSince === undefined ? 'listening' : 'listening again'),
    onLost: () => events.push('lost'),
  });
  return { listener, received, events };
}

const notify = (channel: string, payload: string) => db.pool.query('SELECT pg_notify($1, $2)', [channel, payload]);

test('a LISTEN that could not be placed at start is retried until the database answers', async () => {
  const { listener, received, events } = listenerOn('listener_start');
  proxy.cut();
  try {
    await listener.start(); // never rejects
    expect(listener.listening).toBe(false);
    await sleep(150); // several attempts fail meanwhile
    expect(listener.listening).toBe(false);
    proxy.restore();
    await until('the LISTEN', () => listener.listening);
    expect(events).toEqual(['listening']);
    await notify('listener_start', 'one');
    await until('the notification', () => received.length === 1);
    expect(received).toEqual(['one']);
  } finally {
    proxy.restore();
    await listener.close();
  }
});

test('a lost LISTEN is re-established and notifications arrive again', async () => {
  const { listener, received, events } = listenerOn('listener_lost');
  await listener.start();
  expect(listener.listening).toBe(true);
  try {
    proxy.cut();
    await until('the loss', () => events.includes('lost'));
    await sleep(150);
    proxy.restore();
    await until('the LISTEN again', () => listener.listening);
    expect(events).toEqual(['listening', 'lost', 'listening again']);
    await notify('listener_lost', 'after');
    await until('the notification', () => received.length === 1);
    expect(received).toEqual(['after']);
  } finally {
    proxy.restore();
    await listener.close();
  }
});

test('close() ends the retrying: no connection is taken afterwards', async () => {
  const { listener } = listenerOn('listener_closed');
  proxy.cut();
  try {
    await listener.start();
    await listener.close();
    let taken = 0;
    pool.on('acquire', () => taken++);
    proxy.restore();
    await sleep(250); // longer than the longest wait between attempts
    expect(listener.listening).toBe(false);
    expect(taken).toBe(0);
  } finally {
    proxy.restore();
  }
});
