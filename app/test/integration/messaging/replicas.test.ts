/**
 * Two complete worker replicas (relay + notifier + sweeper each) over one database and one
 * broker while 2,000 bookings are confirmed, cancelled or left to expire.
 */
import { startWorkers, type Workers } from '../../../src/compose';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import {
  AmqpTestClient,
  mapLimit,
  messagingConfig,
  quietLogger,
  RecordingMailer,
  seatAccountingErrors,
  seed,
  testPrefix,
  waitFor,
} from './helpers';

const BOOKINGS = 2_000;

let db: TestDatabase;
let amqp: AmqpTestClient;
const replicas: Workers[] = [];
const mailer = new RecordingMailer();

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 20 });
  const prefix = testPrefix();
  amqp = await AmqpTestClient.open(prefix);
  // small batches so the two relays interleave a lot
  const config = messagingConfig(db.url, {
    AMQP_PREFIX: prefix,
    OUTBOX_BATCH_SIZE: '25',
    EXPIRY_BATCH_SIZE: '20',
    EXPIRY_SWEEP_INTERVAL: '50ms',
  });
  for (let i = 0; i < 2; i++) replicas.push(await startWorkers({ config, pool: db.pool, logger: quietLogger, mailer }));
});

afterAll(async () => {
  await Promise.all(replicas.map((w) => w.close()));
  await amqp?.cleanup();
  await db?.drop();
});

test('two relays and two sweepers: every event published once and in order per booking, every hold settled once', async () => {
  const tapped = await amqp.tap();
  const fixture = await seed(db.pool, { users: 100, events: 20, capacity: 120 });
  // i % 4: 0,1 confirm; 2 cancel; 3 left to expire (1 s hold)
  const plan = Array.from({ length: BOOKINGS }, (_, i) => (['confirm', 'confirm', 'cancel', 'expire'] as const)[i % 4]!);
  const ids = await mapLimit(plan, 16, async (action, i) => {
    const reserved = await fixture.bookings.reserve({
      eventId: fixture.eventIds[i % fixture.eventIds.length]!,
      userId: fixture.userIds[i % fixture.userIds.length]!,
      quantity: 1,
      holdMs: action === 'expire' ? 1_000 : 120_000,
    });
    if (reserved.kind !== 'created') throw new Error(reserved.kind);
    const id = reserved.booking.id;
    if (action === 'confirm') expect((await fixture.bookings.confirm(id)).kind).toBe('ok');
    if (action === 'cancel') expect((await fixture.bookings.cancel(id)).kind).toBe('ok');
    return id;
  });
  expect(await seatAccountingErrors(db.pool)).toEqual([]);

  await waitFor(
    'every hold to be settled',
    async () => (await db.pool.query(`SELECT 1 FROM bookings WHERE status = 'pending'`)).rowCount === 0,
    30_000,
  );
  // each booking ends confirmed, cancelled or expired: one notification each
  await waitFor(
    'every notification',
    async () => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications`)).rows[0]!.n === BOOKINGS,
    30_000,
  );
  const outbox = await db.pool.query<{ id: string; type: string; aggregate_id: string }>(
    `SELECT id, type, aggregate_id FROM outbox ORDER BY seq`,
  );
  await waitFor('the tap to see every outbox row', async () => tapped.length >= outbox.rowCount!, 30_000);

  // statuses and seats
  const statuses = await db.pool.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM bookings GROUP BY status ORDER BY status`,
  );
  expect(statuses.rows).toEqual([
    { status: 'cancelled', n: BOOKINGS / 4 },
    { status: 'confirmed', n: BOOKINGS / 2 },
    { status: 'expired', n: BOOKINGS / 4 },
  ]);
  expect(await seatAccountingErrors(db.pool)).toEqual([]);
  const available = await db.pool.query<{ n: number }>(`SELECT sum(available)::int AS n FROM events`);
  expect(available.rows[0]!.n).toBe(20 * 120 - BOOKINGS / 2); // only confirmed seats stay taken

  // every expired hold emitted booking.expired exactly once
  const expiredEvents = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM bookings b WHERE b.status = 'expired'
        AND (SELECT count(*) FROM outbox o WHERE o.aggregate_id = b.id AND o.type = 'booking.expired') = 1`,
  );
  expect(expiredEvents.rows[0]!.n).toBe(BOOKINGS / 4);

  // every outbox row published exactly once (no relay duplicates in normal operation) and per booking in order
  expect(outbox.rowCount).toBe(BOOKINGS * 2);
  const seen = new Map<string, number>();
  for (const message of tapped) seen.set(message.id, (seen.get(message.id) ?? 0) + 1);
  expect(seen.size).toBe(outbox.rowCount);
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  const order = new Map<string, string[]>();
  for (const message of tapped) order.set(message.aggregateId, [...(order.get(message.aggregateId) ?? []), message.type]);
  const outOfOrder = ids.filter((id) => order.get(id)?.[0] !== 'booking.created' || order.get(id)?.length !== 2);
  expect(outOfOrder).toEqual([]);

  // every notification recorded once and mailed once
  const notifications = await db.pool.query<{ type: string; n: number }>(
    `SELECT type, count(*)::int AS n FROM notifications GROUP BY type ORDER BY type`,
  );
  expect(notifications.rows).toEqual([
    { type: 'booking.cancelled', n: BOOKINGS / 4 },
    { type: 'booking.confirmed', n: BOOKINGS / 2 },
    { type: 'booking.expired', n: BOOKINGS / 4 },
  ]);
  const mails = mailer.countsByBooking();
  expect(ids.filter((id) => mails.get(id) !== 1)).toEqual([]);
  await waitFor('an empty queue', async () => (await amqp.queueDepth(amqp.names.notifications)) === 0);
});
