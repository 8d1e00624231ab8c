import type { Pool } from 'pg';
import { PostgresBookingStore } from '../../src/adapters/postgres/bookings';
import { PostgresHoldSchedule } from '../../src/adapters/postgres/holds';
import { createPool } from '../../src/adapters/postgres/pool';
import type { ReserveInput, ReserveResult } from '../../src/ports';
import { createTestDatabase, type TestDatabase } from '../support/db';

/**
 * The group-commit path of PostgresBookingStore against the real PostgreSQL. To make a batch on
 * purpose, a test holds the event's row lock in a transaction of its own: the first reservation
 * goes out and waits on the lock, the next ones queue behind it, and releasing the lock lets the
 * first statement finish and the queue go out as ONE statement (its bookings share created_at,
 * the transaction's timestamp).
 */
let db: TestDatabase;
let bookings: PostgresBookingStore;
let organizerId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  bookings = new PostgresBookingStore(db.pool);
  organizerId = (await newUsers(1))[0]!;
});
afterAll(() => db.drop());

async function newUsers(count: number): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash, role) SELECT gen_random_uuid() || '@example.test', 'x', 'organizer' FROM generate_series(1, $1) RETURNING id`,
    [count],
  );
  return rows.map((row) => row.id);
}

async function newEvent(capacity: number): Promise<string> {
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO events (organizer_id, name, starts_at, ends_at, price_cents, capacity, available)
     VALUES ($1, 'Batch show', now() + interval '10 days', now() + interval '10 days 2 hours', 1500, $2, $2) RETURNING id`,
    [organizerId, capacity],
  );
  return rows[0]!.id;
}

const reserve = (eventId: string, userId: string, quantity: number, extra: Partial<ReserveInput> = {}, store = bookings) =>
  store.reserve({ eventId, userId, quantity, holdMs: 60_000, ...extra });

/** Holds the event's row lock until release(); `sql` runs in the same transaction just before it commits. */
async function holdEventRow(eventId: string) {
  const client = await db.pool.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [eventId]);
  return {
    async release(sql?: string) {
      try {
        if (sql) await client.query(sql, [eventId]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    },
  };
}

/** Resolves once `count` statements of this database wait on a lock (the batch's first statement is out). */
async function untilWaitingOnLock(count = 1): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (rows[0]!.n >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no statement waited on a lock within 5 s`);
}

/**
 * Makes a batch on purpose: `first` goes out and waits on the event's row lock, `queue` runs
 * while it waits (what it submits for the event queues behind it), then the lock is released.
 */
async function behindLock<T>(eventId: string, first: () => Promise<ReserveResult>, queue: () => Promise<T> | T) {
  const lock = await holdEventRow(eventId);
  const inFlight = first();
  await untilWaitingOnLock();
  const queued = await queue();
  await lock.release();
  return { first: await inFlight, queued };
}

async function seatState(eventId: string) {
  const { rows } = await db.pool.query<{ capacity: number; available: number; held: number; bookings: number; created_events: number }>(
    `SELECT e.capacity, e.available,
            coalesce((SELECT sum(quantity) FROM bookings b WHERE b.event_id = e.id AND b.status IN ('pending', 'confirmed')), 0)::int AS held,
            (SELECT count(*) FROM bookings b WHERE b.event_id = e.id)::int AS bookings,
            (SELECT count(*) FROM outbox o JOIN bookings b ON b.id = o.aggregate_id WHERE b.event_id = e.id AND o.type = 'booking.created')::int AS created_events
       FROM events e WHERE e.id = $1`,
    [eventId],
  );
  return rows[0]!;
}

/** Bookings (ids) grouped by the statement that made them: one group per distinct created_at, oldest first. */
async function statementsOf(eventId: string): Promise<string[][]> {
  const { rows } = await db.pool.query<{ ids: string[] }>(
    'SELECT array_agg(id ORDER BY id) AS ids FROM bookings WHERE event_id = $1 GROUP BY created_at ORDER BY created_at',
    [eventId],
  );
  return rows.map((row) => row.ids);
}

const bookingOf = (result: ReserveResult) => {
  if (result.kind !== 'created') throw new Error(`expected a booking, got ${JSON.stringify(result)}`);
  return result.booking;
};

it('serves a queue in arrival order; a request that does not fit is refused and smaller ones behind it still get seats', async () => {
  const eventId = await newEvent(10);
  const buyers = await newUsers(6);
  const { first: one, queued } = await behindLock(
    eventId,
    () => reserve(eventId, buyers[0]!, 1),
    // queued while the first statement waits: 3 + 4 fit (2 left), 5 does not, 2 does (0 left), 1 does not
    () => [3, 4, 5, 2, 1].map((quantity, i) => reserve(eventId, buyers[i + 1]!, quantity)),
  );
  const [three, four, five, two, last] = await Promise.all(queued);

  expect(bookingOf(one).quantity).toBe(1);
  expect([three, four, two].map((r) => bookingOf(r!).quantity)).toEqual([3, 4, 2]);
  expect(bookingOf(four!)).toMatchObject({ userId: buyers[2], amountCents: 6000, status: 'pending' });
  expect(five).toEqual({ kind: 'sold_out', available: 0 });
  expect(last).toEqual({ kind: 'sold_out', available: 0 });
  // the queue went out as ONE statement after the first one
  const ids = (results: Array<ReserveResult | undefined>) => results.map((r) => bookingOf(r!).id).sort();
  expect(await statementsOf(eventId)).toEqual([ids([one]), ids([three, four, two])]);
  expect(await seatState(eventId)).toEqual({ capacity: 10, available: 0, held: 10, bookings: 4, created_events: 4 });
});

it('tells the callers of a batch that did not fit how many seats are left', async () => {
  const eventId = await newEvent(21);
  const buyers = await newUsers(9);
  const { queued } = await behindLock(
    eventId,
    () => reserve(eventId, buyers[0]!, 1),
    () => buyers.slice(1).map((buyer) => reserve(eventId, buyer, 3)),
  );
  const results = await Promise.all(queued);

  // 20 seats for eight requests of 3: the first six (in arrival order) get them, the last two are told 2 are left
  expect(results.map((r) => r.kind)).toEqual([...Array(6).fill('created'), 'sold_out', 'sold_out']);
  expect(results.slice(6)).toEqual([
    { kind: 'sold_out', available: 2 },
    { kind: 'sold_out', available: 2 },
  ]);
  expect(results.slice(0, 6).map((r) => bookingOf(r).userId)).toEqual(buyers.slice(1, 7));
  expect(await seatState(eventId)).toEqual({ capacity: 21, available: 2, held: 19, bookings: 7, created_events: 7 });
});

it('never oversells: 600 concurrent requests of 1..10 seats over three events, from two api processes, with and without Idempotency-Key', async () => {
  const capacities = [50, 80, 120];
  const eventIds = await Promise.all(capacities.map((capacity) => newEvent(capacity)));
  const buyers = await newUsers(40);
  // a second process: its own pool and its own queues, contending on the same rows
  const otherPool: Pool = createPool({ url: db.url, max: 5, statementTimeoutMs: 30_000, applicationName: 'goticket-test-replica' });
  const replica = new PostgresBookingStore(otherPool);
  try {
    const requests = Array.from({ length: 600 }, (_, i) => ({
      eventId: eventIds[i % 3]!,
      userId: buyers[i % buyers.length]!,
      quantity: 1 + ((i * 7) % 10),
      store: i % 4 === 3 ? replica : bookings,
      // one in ten with a key of its own: the single-statement path, racing the batches
      key: i % 10 === 5 ? `order-${i}` : undefined,
    }));
    const results = await Promise.all(
      requests.map((r) =>
        reserve(r.eventId, r.userId, r.quantity, r.key ? { idempotencyKey: r.key, requestHash: `q${r.quantity}` } : {}, r.store),
      ),
    );

    expect(results.every((r) => r.kind === 'created' || r.kind === 'sold_out')).toBe(true);
    for (const [e, eventId] of eventIds.entries()) {
      const mine = requests.map((r, i) => ({ ...r, result: results[i]! })).filter((r) => r.eventId === eventId);
      const sold = mine.reduce((sum, r) => sum + (r.result.kind === 'created' ? r.quantity : 0), 0);
      const state = await seatState(eventId);
      expect(sold).toBeLessThanOrEqual(capacities[e]!);
      expect(state).toEqual({
        capacity: capacities[e],
        available: capacities[e]! - sold,
        held: sold,
        bookings: mine.filter((r) => r.result.kind === 'created').length,
        created_events: mine.filter((r) => r.result.kind === 'created').length,
      });
      // a refusal only ever came when the request no longer fitted (seats left only go down here)
      const smallestRefused = Math.min(...mine.filter((r) => r.result.kind === 'sold_out').map((r) => r.quantity));
      expect(state.available).toBeLessThan(smallestRefused);
    }
  } finally {
    await otherPool.end();
  }
});

it('keeps events apart: one event waiting on its lock holds up none of the others, and no statement mixes events', async () => {
  const [slow, fast] = [await newEvent(30), await newEvent(30)];
  const buyers = await newUsers(12);
  const lock = await holdEventRow(slow);
  const slowFirst = reserve(slow, buyers[0]!, 1);
  await untilWaitingOnLock();
  // interleaved arrivals for both events
  const slowQueued: Array<Promise<ReserveResult>> = [];
  const fastResults: Array<Promise<ReserveResult>> = [];
  for (let i = 1; i < 12; i++) (i % 2 ? slowQueued : fastResults).push(reserve(i % 2 ? slow : fast, buyers[i]!, 2));
  // the other event is served while the first one still waits
  expect((await Promise.all(fastResults)).map((r) => r.kind)).toEqual(Array(5).fill('created'));
  expect((await seatState(slow)).bookings).toBe(0);

  await lock.release();
  await slowFirst;
  expect((await Promise.all(slowQueued)).map((r) => r.kind)).toEqual(Array(6).fill('created'));
  const batches = await statementsOf(slow);
  expect(batches.map((ids) => ids.length)).toEqual([1, 6]);
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(DISTINCT event_id)::int AS n FROM bookings WHERE created_at IN (SELECT created_at FROM bookings WHERE event_id = $1)',
    [slow],
  );
  expect(rows[0]!.n).toBe(1);
  expect(await seatState(slow)).toMatchObject({ available: 30 - 13, held: 13 });
  expect(await seatState(fast)).toMatchObject({ available: 30 - 10, held: 10 });
});

it('answers every waiting caller when their event is deleted or ends meanwhile, and the other events book on', async () => {
  const [deleted, ended, open] = [await newEvent(10), await newEvent(10), await newEvent(10)];
  const buyers = await newUsers(4);
  const deleting = await holdEventRow(deleted);
  const ending = await holdEventRow(ended);
  const waiting = [deleted, ended].map((eventId) => buyers.map((buyer) => reserve(eventId, buyer, 1)));
  await untilWaitingOnLock(2);
  const others = await Promise.all(buyers.map((buyer) => reserve(open, buyer, 2)));

  await deleting.release('UPDATE events SET deleted_at = now() WHERE id = $1');
  await ending.release("UPDATE events SET starts_at = now() - interval '2 hours', ends_at = now() - interval '1 hour' WHERE id = $1");
  expect(await Promise.all(waiting[0]!)).toEqual(Array(4).fill({ kind: 'event_not_found' }));
  expect(await Promise.all(waiting[1]!)).toEqual(Array(4).fill({ kind: 'event_ended' }));
  expect(others.map((r) => r.kind)).toEqual(Array(4).fill('created'));
  expect(await seatState(deleted)).toMatchObject({ available: 10, bookings: 0 });
  expect(await seatState(ended)).toMatchObject({ available: 10, bookings: 0 });
  expect(await seatState(open)).toMatchObject({ available: 2, held: 8 });
});

it('fails only the caller whose row fails (its user deleted while it waited); the rest of its batch books in arrival order', async () => {
  const eventId = await newEvent(4);
  const [first, before, doomed, after, last] = await newUsers(5);
  const { queued } = await behindLock(
    eventId,
    () => reserve(eventId, first!, 1),
    async () => {
      const waiting = Promise.allSettled([before, doomed, after, last].map((userId) => reserve(eventId, userId!, 1)));
      // a quantity the schema refuses never joins a batch: it fails on its own (once the lock is free)
      const outOfRange = Promise.allSettled([reserve(eventId, before!, 0)]);
      await db.pool.query('DELETE FROM users WHERE id = $1', [doomed]);
      return { waiting, outOfRange };
    },
  );
  const settled = await queued.waiting;

  expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23503' });
  expect(settled.filter((s) => s.status === 'fulfilled').map((s) => bookingOf(s.value).userId)).toEqual([before, after, last]);
  expect((await queued.outOfRange)[0]).toMatchObject({ status: 'rejected', reason: { code: '23514' } });
  // the failed caller took no seat: the three behind it got the last three
  expect(await seatState(eventId)).toEqual({ capacity: 4, available: 0, held: 4, bookings: 4, created_events: 4 });
});

it('keeps Idempotency-Key exact while batches for the same event run: one booking per key, replays, and a different body refused', async () => {
  const eventId = await newEvent(100);
  const buyers = await newUsers(31);
  const keyHolder = buyers[0]!;
  const { first, queued } = await behindLock(
    eventId,
    () => reserve(eventId, buyers[1]!, 1),
    () => ({
      plain: buyers.slice(2).map((buyer) => reserve(eventId, buyer, 1)),
      keyed: Array.from({ length: 10 }, () => reserve(eventId, keyHolder, 2, { idempotencyKey: 'checkout-7', requestHash: 'two' })),
    }),
  );
  const [queuedPlain, keyedResults] = await Promise.all([Promise.all(queued.plain), Promise.all(queued.keyed)]);
  const plainResults = [first, ...queuedPlain];

  expect(plainResults.every((r) => r.kind === 'created')).toBe(true);
  expect(keyedResults.filter((r) => r.kind === 'created')).toHaveLength(1);
  expect(keyedResults.filter((r) => r.kind === 'replayed')).toHaveLength(9);
  expect(new Set(keyedResults.map((r) => (r.kind === 'created' || r.kind === 'replayed' ? r.booking.id : r.kind))).size).toBe(1);
  expect(await reserve(eventId, keyHolder, 3, { idempotencyKey: 'checkout-7', requestHash: 'three' })).toEqual({
    kind: 'idempotency_mismatch',
  });
  expect(await seatState(eventId)).toEqual({ capacity: 100, available: 100 - 30 - 2, held: 32, bookings: 31, created_events: 31 });
});

it('answers a sell-out batch’s hold-expiry lookups for one event with one query', async () => {
  const eventId = await newEvent(10);
  const buyers = await newUsers(3);
  for (const buyer of buyers) bookingOf(await reserve(eventId, buyer, 1));
  let queries = 0;
  const counted = { query: (...args: Parameters<Pool['query']>) => (queries++, db.pool.query(...args)) } as unknown as Pool;
  const holds = new PostgresHoldSchedule(counted);

  const answers = await Promise.all(Array.from({ length: 20 }, () => holds.msUntilNextExpiry(eventId)));
  expect(queries).toBe(1);
  expect(new Set(answers).size).toBe(1);
  expect(answers[0]).toBeGreaterThan(50_000);
  expect(answers[0]).toBeLessThanOrEqual(60_000);
  // once answered, the next question is asked anew
  await holds.msUntilNextExpiry(eventId);
  expect(queries).toBe(2);
  expect(await holds.msUntilNextExpiry(await newEvent(5))).toBeNull();
});
