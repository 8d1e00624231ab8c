/**
 * The whole flow against the real servers: bookings → outbox → relay → RabbitMQ → notifier →
 * notifications + mailer. Also redeliveries, poison messages and a mailer that keeps failing.
 */
import { randomUUID } from 'node:crypto';
import { startWorkers, type Workers } from '../../../src/compose';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { writeReport } from '../../support/report';
import {
  AmqpTestClient,
  type Fixture,
  mapLimit,
  messagingConfig,
  quietLogger,
  RecordingMailer,
  reserveMany,
  seed,
  testPrefix,
  waitFor,
} from './helpers';

const BOUNCING = 'bounce';

let db: TestDatabase;
let amqp: AmqpTestClient;
let workers: Workers;
let fixture: Fixture;
const mailer = new RecordingMailer((mail) => mail.to.startsWith(BOUNCING));

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 15 });
  const prefix = testPrefix();
  amqp = await AmqpTestClient.open(prefix);
  workers = await startWorkers({ config: messagingConfig(db.url, { AMQP_PREFIX: prefix }), pool: db.pool, logger: quietLogger, mailer });
  fixture = await seed(db.pool, { users: 50, events: 10, capacity: 1_000 });
  await waitFor('the broker connection', async () => (await workers.health[0]!.check()) === 'up');
});

afterAll(async () => {
  await workers?.close();
  await amqp?.cleanup();
  await db?.drop();
});

const countNotifications = async (type: string, bookingIds?: string[], sentOnly = false) => {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM notifications WHERE type = $1 AND ($2::uuid[] IS NULL OR booking_id = ANY($2)) AND (sent_at IS NOT NULL OR NOT $3)`,
    [type, bookingIds ?? null, sentOnly],
  );
  return rows[0]!.n;
};

test('1,000 confirmed bookings → exactly 1,000 booking.confirmed notifications, each recorded and mailed once', async () => {
  const ids = await reserveMany(fixture, 1_000);
  const started = Date.now();
  await mapLimit(ids, 16, async (id) => {
    const result = await fixture.bookings.confirm(id);
    expect(result.kind).toBe('ok');
  });
  await waitFor('1,000 notifications sent', async () => (await countNotifications('booking.confirmed', ids, true)) === 1_000);
  const elapsed = Date.now() - started;
  writeReport('notifications-throughput', {
    confirmations: 1_000,
    elapsedMs: elapsed,
    perSecondConfirmsIncluded: Math.round(1_000_000 / elapsed),
  });

  const { rows } = await db.pool.query<{ booking_id: string; n: number; sent: number }>(
    `SELECT booking_id, count(*)::int AS n, count(sent_at)::int AS sent FROM notifications
      WHERE type = 'booking.confirmed' AND booking_id = ANY($1) GROUP BY booking_id`,
    [ids],
  );
  expect(rows).toHaveLength(1_000);
  expect(rows.every((r) => r.n === 1 && r.sent === 1)).toBe(true);
  const mails = mailer.countsByBooking();
  expect(ids.every((id) => mails.get(id) === 1)).toBe(true);
  // Every row made it out, and nothing is left in the queue once the notifier caught up.
  await waitFor(
    'an empty outbox backlog',
    async () => (await db.pool.query(`SELECT 1 FROM outbox WHERE published_at IS NULL`)).rowCount === 0,
  );
  await waitFor('an empty queue', async () => (await amqp.queueDepth(amqp.names.notifications)) === 0);
});

test('the same message delivered 5 times records one notification and sends one mail', async () => {
  const [bookingId] = await reserveMany(fixture, 1);
  const booking = (await fixture.bookings.get(bookingId!))!;
  const message = {
    id: randomUUID(),
    type: 'booking.cancelled',
    occurredAt: new Date().toISOString(),
    aggregateId: booking.id,
    data: { bookingId: booking.id, eventId: booking.eventId, userId: booking.userId, quantity: 1, amountCents: 2500, status: 'cancelled' },
  };
  for (let i = 0; i < 5; i++) amqp.publishRaw('booking.cancelled', JSON.stringify(message), { messageId: message.id });
  await waitFor(
    'the queue to drain',
    async () =>
      (await amqp.queueDepth(amqp.names.notifications)) === 0 && (await countNotifications('booking.cancelled', [booking.id], true)) === 1,
  );
  // Give any straggling duplicate time to (wrongly) take effect before asserting.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await countNotifications('booking.cancelled', [booking.id])).toBe(1);
  expect(mailer.countsByBooking().get(booking.id)).toBe(1);
});

test('a poison message lands in the DLQ with its reason and the next valid message is still processed', async () => {
  amqp.publishRaw('booking.confirmed', 'this is {not json');
  amqp.publishRaw('booking.confirmed', JSON.stringify({ id: 'not-a-uuid', type: 'booking.confirmed' }));
  const [bookingId] = await reserveMany(fixture, 1);
  expect((await fixture.bookings.confirm(bookingId!)).kind).toBe('ok');

  await waitFor('the valid message to be processed', async () => (await countNotifications('booking.confirmed', [bookingId!], true)) === 1);
  // drainDlq takes what is there now: collect across polls, the two may arrive apart
  const collected: Awaited<ReturnType<typeof amqp.drainDlq>> = [];
  const dead = await waitFor(
    'two dead letters',
    async () => {
      collected.push(...(await amqp.drainDlq()));
      return collected.length >= 2 ? collected : undefined;
    },
    10_000,
  );
  expect(dead.map((d) => d.body)).toEqual(['this is {not json', JSON.stringify({ id: 'not-a-uuid', type: 'booking.confirmed' })]);
  expect(dead[0]!.reason).toMatch(/not JSON/);
  expect(dead[1]!.reason).toMatch(/not a domain message: id/);
  expect(dead.every((d) => d.routingKey === 'booking.confirmed')).toBe(true);
});

test('a message whose handling keeps failing is retried, then dead-lettered; the consumer keeps going', async () => {
  const bouncer = await db.pool.query<{ id: string }>(`INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id`, [
    `${BOUNCING}-${randomUUID()}@example.test`,
  ]);
  const held = await fixture.bookings.reserve({ eventId: fixture.eventIds[0]!, userId: bouncer.rows[0]!.id, quantity: 2, holdMs: 60_000 });
  if (held.kind !== 'created') throw new Error(held.kind);
  const failuresBefore = mailer.failures.length;
  expect((await fixture.bookings.confirm(held.booking.id)).kind).toBe('ok');
  const [other] = await reserveMany(fixture, 1);
  expect((await fixture.bookings.confirm(other!)).kind).toBe('ok');

  const dead = await waitFor(
    'the failing message in the DLQ',
    async () => {
      const got = await amqp.drainDlq();
      return got.length > 0 ? got : undefined;
    },
    10_000,
  );
  expect(dead).toHaveLength(1);
  expect(JSON.parse(dead[0]!.body).aggregateId).toBe(held.booking.id);
  expect(dead[0]!.reason).toMatch(/^attempt 3: Error: mailbox unavailable/);
  expect(mailer.failures.length - failuresBefore).toBe(3); // NOTIFIER_MAX_ATTEMPTS
  // recorded once, never marked sent; the other booking went through meanwhile
  const { rows } = await db.pool.query(`SELECT attempts, sent_at FROM notifications WHERE booking_id = $1`, [held.booking.id]);
  expect(rows).toEqual([{ attempts: 3, sent_at: null }]);
  await waitFor('the other booking to be notified', async () => (await countNotifications('booking.confirmed', [other!], true)) === 1);
});
