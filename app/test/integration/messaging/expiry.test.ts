/**
 * Hold expiry against the real servers: 1 s holds expire, release their seats once and emit
 * booking.expired (which the notifier records); a confirm racing the expiry ends as exactly one
 * of confirmed or expired.
 */
import { PostgresHoldExpiry } from '../../../src/adapters/postgres/expiry';
import { startWorkers, type Workers } from '../../../src/compose';
import { HoldExpirySweeper } from '../../../src/workers/expiry-sweeper';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { writeReport } from '../../support/report';
import { AmqpTestClient, mapLimit, messagingConfig, quietLogger, seatAccountingErrors, seed, testPrefix, waitFor } from './helpers';

let db: TestDatabase;
let amqp: AmqpTestClient;
let workers: Workers;

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 15 });
  const prefix = testPrefix();
  amqp = await AmqpTestClient.open(prefix);
  workers = await startWorkers({
    config: messagingConfig(db.url, { AMQP_PREFIX: prefix, EXPIRY_SWEEP_INTERVAL: '20ms' }),
    pool: db.pool,
    logger: quietLogger,
  });
});

afterAll(async () => {
  await workers?.close();
  await amqp?.cleanup();
  await db?.drop();
});

const statusOf = async (ids: string[]) =>
  new Map(
    (await db.pool.query<{ id: string; status: string }>(`SELECT id, status FROM bookings WHERE id = ANY($1)`, [ids])).rows.map((r) => [
      r.id,
      r.status,
    ]),
  );

test('1 s holds expire, release their seats and emit booking.expired, which is notified', async () => {
  const fixture = await seed(db.pool, { users: 10, events: 2, capacity: 50 });
  const ids = await mapLimit(
    Array.from({ length: 40 }, (_, i) => i),
    8,
    async (i) => {
      const r = await fixture.bookings.reserve({
        eventId: fixture.eventIds[i % 2]!,
        userId: fixture.userIds[i % 10]!,
        quantity: 2,
        holdMs: 1_000,
      });
      if (r.kind !== 'created') throw new Error(r.kind);
      return r.booking.id;
    },
  );
  // 40 holds of 2 seats over two events of 50: 10 seats left on each
  expect((await db.pool.query(`SELECT available FROM events ORDER BY available`)).rows).toEqual([{ available: 10 }, { available: 10 }]);
  const reservedAt = Date.now();
  await waitFor('every hold to expire', async () => [...(await statusOf(ids)).values()].every((s) => s === 'expired'), 10_000);
  expect(Date.now() - reservedAt).toBeGreaterThanOrEqual(900);
  expect((await db.pool.query(`SELECT available FROM events`)).rows).toEqual([{ available: 50 }, { available: 50 }]);
  const emitted = await db.pool.query<{ aggregate_id: string }>(`SELECT aggregate_id FROM outbox WHERE type = 'booking.expired'`);
  expect(emitted.rows.map((r) => r.aggregate_id).sort()).toEqual([...ids].sort());
  await waitFor(
    '40 expiry notifications',
    async () =>
      (await db.pool.query(`SELECT 1 FROM notifications WHERE type = 'booking.expired' AND booking_id = ANY($1)`, [ids])).rowCount === 40,
  );
  // sweeping again changes nothing
  expect(await new PostgresHoldExpiry(db.pool).expireDue(1_000)).toBe(0);
  expect((await db.pool.query(`SELECT available FROM events`)).rows).toEqual([{ available: 50 }, { available: 50 }]);
});

test('a confirm racing the expiry ends as exactly one of confirmed or expired, never both', async () => {
  // two more sweepers hammering besides the worker's own
  const extra = [0, 1].map(
    () => new HoldExpirySweeper({ expiry: new PostgresHoldExpiry(db.pool), logger: quietLogger, intervalMs: 5, batchSize: 7 }),
  );
  extra.forEach((s) => s.start());
  try {
    const fixture = await seed(db.pool, { users: 20, events: 4, capacity: 100 });
    // each 1 s hold gets its confirm fired at a moment spread around its own expiry (−300 … +150 ms)
    const confirms: Array<Promise<[string, string]>> = [];
    const ids = await mapLimit(
      Array.from({ length: 300 }, (_, i) => i),
      8,
      async (i) => {
        const r = await fixture.bookings.reserve({
          eventId: fixture.eventIds[i % 4]!,
          userId: fixture.userIds[i % 20]!,
          quantity: 1,
          holdMs: 1_000,
        });
        if (r.kind !== 'created') throw new Error(r.kind);
        const fireIn = r.booking.expiresAt.getTime() - Date.now() - 300 + (i % 46) * 10;
        confirms.push(
          new Promise<[string, string]>((resolve, reject) => {
            setTimeout(
              () => void fixture.bookings.confirm(r.booking.id).then((c) => resolve([r.booking.id, c.kind]), reject),
              Math.max(0, fireIn),
            );
          }),
        );
        return r.booking.id;
      },
    );
    const outcomes = await Promise.all(confirms);
    await waitFor('every hold settled', async () => [...(await statusOf(ids)).values()].every((s) => s !== 'pending'), 10_000);
    const final = await statusOf(ids);
    const events = await db.pool.query<{ aggregate_id: string; type: string }>(
      `SELECT aggregate_id, type FROM outbox WHERE aggregate_id = ANY($1) AND type IN ('booking.confirmed', 'booking.expired')`,
      [ids],
    );
    const emitted = new Map<string, string[]>();
    for (const e of events.rows) emitted.set(e.aggregate_id, [...(emitted.get(e.aggregate_id) ?? []), e.type]);

    let confirmed = 0;
    for (const [id, kind] of outcomes) {
      const status = final.get(id);
      if (kind === 'ok') {
        confirmed++;
        expect([id, status, emitted.get(id)]).toEqual([id, 'confirmed', ['booking.confirmed']]);
      } else {
        expect([id, kind, status, emitted.get(id)]).toEqual([id, 'refused', 'expired', ['booking.expired']]);
      }
    }
    // the race really happened both ways
    expect(confirmed).toBeGreaterThan(0);
    expect(confirmed).toBeLessThan(ids.length);
    expect(await seatAccountingErrors(db.pool)).toEqual([]);
    writeReport('expiry-race', { confirmed, expired: ids.length - confirmed });
  } finally {
    await Promise.all(extra.map((s) => s.close()));
  }
});
