/**
 * startWorkers as main.ts calls it: with no AMQP_URL the memory bus carries the events (and the
 * log says so); with an unreachable broker startup does not block and the worker is not ready.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { startWorkers } from '../../../src/compose';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { TEST_AMQP_URL } from '../../support/env';
import { startTcpProxy } from '../../support/tcp-proxy';
import { AmqpTestClient, mapLimit, messagingConfig, RecordingMailer, reserveMany, seed, testPrefix, waitFor } from './helpers';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function capturingLogger() {
  const lines: Array<{ msg: string; level: number }> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

test('without AMQP_URL the memory bus carries events from the outbox to the notifier, and the log says so', async () => {
  const { logger, lines } = capturingLogger();
  const mailer = new RecordingMailer();
  const workers = await startWorkers({ config: messagingConfig(db.url, { AMQP_URL: '' }), pool: db.pool, logger, mailer });
  try {
    // no broker check without a broker; the relay's own check is there either way
    expect(workers.health.map((check) => check.name)).toEqual(['outbox-relay']);
    expect(lines.some((l) => /AMQP_URL not set: using the in-process memory event bus/.test(l.msg))).toBe(true);
    const fixture = await seed(db.pool, { users: 5, events: 1, capacity: 100 });
    const ids = await reserveMany(fixture, 30);
    await mapLimit(ids.slice(0, 20), 4, (id) => fixture.bookings.confirm(id));
    await mapLimit(ids.slice(20), 4, (id) => fixture.bookings.cancel(id));
    await waitFor(
      '30 notifications',
      async () => (await db.pool.query(`SELECT 1 FROM notifications WHERE booking_id = ANY($1)`, [ids])).rowCount === 30,
    );
    expect(ids.every((id) => mailer.countsByBooking().get(id) === 1)).toBe(true);
  } finally {
    await workers.close();
  }
  expect(lines.some((l) => l.msg === 'workers stopped')).toBe(true);
});

test('with the broker unreachable startup does not block, the worker is not ready, and it becomes ready when the broker answers', async () => {
  const target = new URL(TEST_AMQP_URL);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
  proxy.cut();
  const prefix = testPrefix();
  const amqp = await AmqpTestClient.open(prefix);
  const started = Date.now();
  const workers = await startWorkers({
    config: messagingConfig(db.url, { AMQP_URL: proxy.rewrite(TEST_AMQP_URL), AMQP_PREFIX: prefix }),
    pool: db.pool,
    logger: pino({ level: 'silent' }),
  });
  try {
    expect(Date.now() - started).toBeLessThan(3_000);
    const broker = workers.health.find((h) => h.name === 'rabbitmq')!;
    expect(broker.critical).toBe(true);
    expect(await broker.check()).toBe('down');
    proxy.restore();
    await waitFor('the worker to be ready', async () => (await broker.check()) === 'up', 10_000);
    // the topology was declared on connect
    expect(await amqp.queueDepth(amqp.names.notifications)).toBe(0);
  } finally {
    await workers.close();
    await proxy.close();
    await amqp.cleanup();
  }
});
