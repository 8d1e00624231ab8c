/**
 * Broker outage: a TCP proxy between the worker and RabbitMQ is cut for 10 s while 500 bookings
 * are confirmed. The api side keeps working (the outbox absorbs the events); after the restore
 * every notification arrives, none twice, with no manual step.
 */
import { startWorkers, type Workers } from '../../../src/compose';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { TEST_AMQP_URL } from '../../support/env';
import { writeReport } from '../../support/report';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { AmqpTestClient, mapLimit, messagingConfig, quietLogger, RecordingMailer, reserveMany, seed, testPrefix, waitFor } from './helpers';

const OUTAGE_MS = 10_000;

let db: TestDatabase;
let amqp: AmqpTestClient;
let proxy: TcpProxy;
let workers: Workers;
const mailer = new RecordingMailer();

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 15 });
  const prefix = testPrefix();
  amqp = await AmqpTestClient.open(prefix);
  const target = new URL(TEST_AMQP_URL);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
  workers = await startWorkers({
    config: messagingConfig(db.url, { AMQP_PREFIX: prefix, AMQP_URL: proxy.rewrite(TEST_AMQP_URL) }),
    pool: db.pool,
    logger: quietLogger,
    mailer,
  });
});

afterAll(async () => {
  await workers?.close();
  await proxy?.close();
  await amqp?.cleanup();
  await db?.drop();
});

const brokerHealth = () => workers.health.find((h) => h.name === 'rabbitmq')!.check();
const notified = async (ids: string[]) =>
  (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications WHERE booking_id = ANY($1)`, [ids])).rows[0]!.n;

test('500 confirmations during a 10 s broker outage: all notifications arrive after it, none twice', async () => {
  const fixture = await seed(db.pool, { users: 40, events: 5, capacity: 1_000 });
  await waitFor('the broker connection', async () => (await brokerHealth()) === 'up');
  const ids = await reserveMany(fixture, 500);
  // the booking.created events flow while the broker is up
  await waitFor(
    'the backlog to drain before the cut',
    async () => (await db.pool.query(`SELECT 1 FROM outbox WHERE published_at IS NULL`)).rowCount === 0,
  );

  proxy.cut();
  const cutAt = Date.now();
  await waitFor('the worker to report the broker down', async () => (await brokerHealth()) === 'down', 5_000);

  // The api side is unaffected: confirmations commit, their events wait in the outbox.
  await mapLimit(ids, 8, async (id) => expect((await fixture.bookings.confirm(id)).kind).toBe('ok'));
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`);
  expect(rows[0]!.n).toBe(500);
  expect(await notified(ids)).toBe(0);

  await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - cutAt))));
  // the relay kept trying during the outage and recorded why it failed
  const failing = await db.pool.query<{ attempts: number; last_error: string }>(
    `SELECT attempts, last_error FROM outbox WHERE published_at IS NULL ORDER BY attempts DESC LIMIT 1`,
  );
  expect(failing.rows[0]!.attempts).toBeGreaterThan(0);
  expect(failing.rows[0]!.last_error).toBeTruthy();
  expect(await brokerHealth()).toBe('down');

  proxy.restore();
  const restoredAt = Date.now();
  await waitFor('the broker connection to come back', async () => (await brokerHealth()) === 'up', 15_000);
  const reconnectMs = Date.now() - restoredAt;
  await waitFor('500 notifications', async () => (await notified(ids)) === 500, 30_000);
  writeReport('broker-outage', { reconnectMsAfterRestore: reconnectMs, fiveHundredNotificationsMsAfterRestore: Date.now() - restoredAt });

  const perBooking = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM notifications WHERE booking_id = ANY($1) GROUP BY booking_id, type HAVING count(*) > 1`,
    [ids],
  );
  expect(perBooking.rows).toEqual([]);
  const mails = mailer.countsByBooking();
  expect(ids.filter((id) => mails.get(id) !== 1)).toEqual([]);
  expect((await db.pool.query(`SELECT 1 FROM outbox WHERE published_at IS NULL`)).rowCount).toBe(0);
});
