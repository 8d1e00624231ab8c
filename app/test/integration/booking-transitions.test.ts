/**
 * The booking state machine has one source of truth, TRANSITIONS in app/src/domain/booking.ts; the
 * SQL that moves bookings derives its guards from it. Checked against real PostgreSQL: for every
 * status the domain knows and every move the stores make, the statement moves the booking exactly
 * when the domain allows it (and leaves it, its seats and the outbox alone otherwise).
 *
 * A new status (e.g. payment_pending) goes into BOOKING_STATUSES and TRANSITIONS (and the table's
 * CHECK, by migration); a new move into MOVES below, with the statement that makes it.
 */
import type { Pool } from 'pg';
import { PostgresBookingStore } from '../../src/adapters/postgres/bookings';
import { PostgresHoldExpiry } from '../../src/adapters/postgres/expiry';
import { fromStatusGuard } from '../../src/adapters/postgres/transitions';
import { BOOKING_STATUSES, canTransition, sourcesOf, TRANSITIONS, type BookingStatus } from '../../src/domain/booking';
import { createTestDatabase, type TestDatabase } from '../support/db';

let db: TestDatabase;
let organizer: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const { rows } = await db.pool.query<{ id: string }>(`INSERT INTO users (email, password_hash) VALUES ('organizer@example.test', 'x') RETURNING id`);
  organizer = rows[0]!.id;
});

afterAll(async () => {
  await db?.drop();
});

/** Each move the stores make: the status it leads to and how it is made (on a booking whose hold has lapsed when `lapsed`). */
const MOVES: Record<string, { to: BookingStatus; lapsed: boolean; run(pool: Pool, id: string): Promise<unknown> }> = {
  confirm: { to: 'confirmed', lapsed: false, run: (pool, id) => new PostgresBookingStore(pool).confirm(id) },
  cancel: { to: 'cancelled', lapsed: false, run: (pool, id) => new PostgresBookingStore(pool).cancel(id) },
  expire: { to: 'expired', lapsed: true, run: (pool) => new PostgresHoldExpiry(pool).expireDue(100) },
};

/** A booking of 1 seat in `status` on an event of its own (its seat taken), the hold lapsed or not. */
async function bookingIn(status: BookingStatus, lapsed: boolean): Promise<{ id: string; eventId: string }> {
  const { rows } = await db.pool.query<{ id: string; event_id: string }>(
    `WITH e AS (
       INSERT INTO events (organizer_id, name, starts_at, ends_at, price_cents, capacity, available)
       VALUES ($1, 'transitions', now() + interval '30 days', now() + interval '30 days 3 hours', 1000, 10, 9) RETURNING id)
     INSERT INTO bookings (event_id, user_id, quantity, amount_cents, status, expires_at)
     SELECT e.id, $1, 1, 1000, $2, now() + ($3 || ' minutes')::interval FROM e RETURNING id, event_id`,
    [organizer, status, lapsed ? '-1' : '10'],
  );
  return { id: rows[0]!.id, eventId: rows[0]!.event_id };
}

const statusOf = async (id: string) => (await db.pool.query<{ status: string }>('SELECT status FROM bookings WHERE id = $1', [id])).rows[0]!.status;
const outboxRows = async (id: string) => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = $1', [id])).rows[0]!.n;

test('every status a move leads to has its statement here, and every move leads to a status that has sources', () => {
  const targets = [...new Set(Object.values(TRANSITIONS).flat())].sort();
  expect(Object.values(MOVES).map((m) => m.to).sort()).toEqual(targets);
});

test('a guard names exactly the statuses the domain table moves from; a status nothing moves to has none', () => {
  for (const to of BOOKING_STATUSES) {
    const sources = BOOKING_STATUSES.filter((from) => canTransition(from, to));
    if (sources.length === 0) expect(() => fromStatusGuard(to)).toThrow(`no status moves to ${to}`);
    else expect(fromStatusGuard(to, 'b.status')).toBe(`b.status IN (${sources.map((s) => `'${s}'`).join(', ')})`);
  }
  expect(sourcesOf('cancelled')).toEqual(['pending', 'confirmed']);
});

describe.each(Object.entries(MOVES))('%s', (_name, move) => {
  test.each(BOOKING_STATUSES.map((from) => [from, canTransition(from, move.to)] as const))(`from %s: moves to ${move.to}: %s`, async (from, allowed) => {
    const booking = await bookingIn(from, move.lapsed);
    await move.run(db.pool, booking.id);
    expect(await statusOf(booking.id)).toBe(allowed ? move.to : from);
    // a refused move writes nothing: no outbox row, no seat released
    expect(await outboxRows(booking.id)).toBe(allowed ? 1 : 0);
    const { rows } = await db.pool.query<{ available: number }>('SELECT available FROM events WHERE id = $1', [booking.eventId]);
    const releases = allowed && move.to !== 'confirmed';
    expect(rows[0]!.available).toBe(releases ? 10 : 9);
  });
});
