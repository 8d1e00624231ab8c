import { randomUUID } from 'node:crypto';
import { PostgresAuditLog } from '../../src/adapters/postgres/audit';
import { PostgresBookingStore } from '../../src/adapters/postgres/bookings';
import { PostgresEventStore } from '../../src/adapters/postgres/events';
import { PostgresRefreshTokenStore } from '../../src/adapters/postgres/refresh-tokens';
import { PostgresUserStore } from '../../src/adapters/postgres/users';
import { ActiveBookingsError, CapacityBelowTakenError, EmailTakenError, ValidationError } from '../../src/domain/errors';
import type { NewEvent } from '../../src/domain/event';
import { createTestDatabase, type TestDatabase } from '../support/db';

let db: TestDatabase;
let users: PostgresUserStore;
let events: PostgresEventStore;
let bookings: PostgresBookingStore;

beforeAll(async () => {
  db = await createTestDatabase();
  users = new PostgresUserStore(db.pool);
  events = new PostgresEventStore(db.pool);
  bookings = new PostgresBookingStore(db.pool);
});
afterAll(() => db.drop());

const day = 86_400_000;
const newEvent = (overrides: Partial<NewEvent> = {}): NewEvent => ({
  name: 'Show',
  description: '',
  venue: 'Hall',
  startsAt: new Date(Date.now() + 10 * day),
  endsAt: new Date(Date.now() + 10 * day + 3_600_000),
  priceCents: 1500,
  currency: 'EUR',
  capacity: 10,
  ...overrides,
});
const organizer = () => users.create({ email: `${randomUUID()}@example.test`, passwordHash: 'h', role: 'organizer' });
/** Follows nextCursor from the first page to the last; the ids seen, in order. */
async function idsOfAllPages(
  fetch: (cursor?: string) => Promise<{ items: Array<{ id: string }>; nextCursor: string | null }>,
): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor);
    seen.push(...page.items.map((item) => item.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return seen;
}
const outboxTypes = async (aggregateId: string) =>
  (await db.pool.query<{ type: string }>('SELECT type FROM outbox WHERE aggregate_id = $1 ORDER BY seq', [aggregateId])).rows.map(
    (r) => r.type,
  );

describe('PostgresUserStore', () => {
  it('keeps emails unique whatever their case', async () => {
    await users.create({ email: 'Case@Example.test', passwordHash: 'h', role: 'user' });
    await expect(users.create({ email: 'case@example.TEST', passwordHash: 'h', role: 'user' })).rejects.toBeInstanceOf(EmailTakenError);
    expect((await users.findByEmail('CASE@example.test'))?.email).toBe('Case@Example.test');
  });

  it('bumps the token version on a role change and bootstraps an admin once', async () => {
    const user = await users.create({ email: `${randomUUID()}@example.test`, passwordHash: 'h', role: 'user' });
    await users.setRole(user.id, 'organizer');
    expect(await users.findById(user.id)).toMatchObject({ role: 'organizer', tokenVersion: 1 });
    expect(await users.setRole(randomUUID(), 'admin')).toBeNull();
    expect(await users.ensureAdmin('boss@example.test', 'h')).toBe('created');
    expect(await users.ensureAdmin('BOSS@example.test', 'h')).toBe('exists');
  });
});

describe('PostgresRefreshTokenStore', () => {
  it('rotates once; a second use revokes the family', async () => {
    const store = new PostgresRefreshTokenStore(db.pool);
    const user = await organizer();
    const familyId = randomUUID();
    const expiresAt = new Date(Date.now() + day);
    await store.issue({ userId: user.id, familyId, tokenHash: 'a', expiresAt });
    expect(await store.rotate('a', { tokenHash: 'b', expiresAt })).toEqual({ kind: 'rotated', userId: user.id, familyId });
    expect(await store.rotate('a', { tokenHash: 'c', expiresAt })).toEqual({ kind: 'reused', userId: user.id, familyId });
    // b, the legitimate successor, died with its family (revoked, not itself reused)
    expect((await store.rotate('b', { tokenHash: 'd', expiresAt })).kind).toBe('invalid');
    // a stays a reuse however often it comes back
    expect((await store.rotate('a', { tokenHash: 'f', expiresAt })).kind).toBe('reused');
    expect((await store.rotate('nope', { tokenHash: 'e', expiresAt })).kind).toBe('invalid');
  });

  it('lets exactly one of two concurrent rotations of the same token win', async () => {
    const store = new PostgresRefreshTokenStore(db.pool);
    const user = await organizer();
    const expiresAt = new Date(Date.now() + day);
    await store.issue({ userId: user.id, familyId: randomUUID(), tokenHash: 'race', expiresAt });
    const results = await Promise.all([
      store.rotate('race', { tokenHash: 'r1', expiresAt }),
      store.rotate('race', { tokenHash: 'r2', expiresAt }),
    ]);
    expect(results.map((r) => r.kind).sort()).toEqual(['reused', 'rotated']);
  });

  it('refuses an expired token and revokes on logout', async () => {
    const store = new PostgresRefreshTokenStore(db.pool);
    const user = await organizer();
    await store.issue({ userId: user.id, familyId: randomUUID(), tokenHash: 'old', expiresAt: new Date(Date.now() - 1000) });
    expect((await store.rotate('old', { tokenHash: 'x1', expiresAt: new Date(Date.now() + day) })).kind).toBe('invalid');
    await store.issue({ userId: user.id, familyId: randomUUID(), tokenHash: 'live', expiresAt: new Date(Date.now() + day) });
    expect(await store.revokeFamily('live')).toBe(user.id);
    // signed out: refused, but not a theft signal (nothing else is revoked, no reuse audited)
    expect((await store.rotate('live', { tokenHash: 'x2', expiresAt: new Date(Date.now() + day) })).kind).toBe('invalid');
    const { rows } = await db.pool.query(`SELECT 1 FROM refresh_tokens WHERE token_hash = 'x2'`);
    expect(rows).toEqual([]);
    expect(await store.revokeFamily('unknown')).toBeNull();
  });
});

describe('PostgresEventStore', () => {
  it('creates with available = capacity and writes event.created in the same transaction', async () => {
    const org = await organizer();
    const event = await events.create({ ...newEvent(), organizerId: org.id });
    expect(event).toMatchObject({ capacity: 10, available: 10, organizerId: org.id, priceCents: 1500 });
    expect(await outboxTypes(event.id)).toEqual(['event.created']);
  });

  it('changes capacity keeping the seats taken, refusing to go below them', async () => {
    const org = await organizer();
    const event = await events.create({ ...newEvent({ capacity: 10 }), organizerId: org.id });
    await bookings.reserve({ eventId: event.id, userId: org.id, quantity: 4, holdMs: 60_000 });
    expect(await events.update(event.id, { capacity: 20 })).toMatchObject({ capacity: 20, available: 16 });
    await expect(events.update(event.id, { capacity: 3 })).rejects.toEqual(new CapacityBelowTakenError(4));
    expect(await events.update(event.id, { capacity: 4 })).toMatchObject({ capacity: 4, available: 0 });
    await expect(events.update(event.id, { endsAt: new Date(Date.now()) })).rejects.toBeInstanceOf(ValidationError);
    expect(await events.update(randomUUID(), { name: 'x' })).toBeNull();
    expect(await outboxTypes(event.id)).toEqual(['event.created', 'event.updated', 'event.updated']);
  });

  it('refuses to delete with active bookings, soft-deletes otherwise', async () => {
    const org = await organizer();
    const event = await events.create({ ...newEvent(), organizerId: org.id });
    const held = await bookings.reserve({ eventId: event.id, userId: org.id, quantity: 1, holdMs: 60_000 });
    await expect(events.delete(event.id)).rejects.toBeInstanceOf(ActiveBookingsError);
    if (held.kind !== 'created') throw new Error('expected a booking');
    await bookings.cancel(held.booking.id);
    expect(await events.delete(event.id)).toBe(true);
    expect(await events.get(event.id)).toBeNull();
    expect(await events.delete(event.id)).toBe(false);
    expect((await bookings.reserve({ eventId: event.id, userId: org.id, quantity: 1, holdMs: 60_000 })).kind).toBe('event_not_found');
  });

  it('lists by start time with an opaque cursor and every filter', async () => {
    const org = await organizer();
    const base = Date.UTC(2031, 0, 1);
    const created = [];
    for (let i = 0; i < 7; i++) {
      created.push(
        await events.create({
          ...newEvent({
            name: i % 2 ? `Jazz night ${i}` : `Rock ${i}`,
            priceCents: i * 1000,
            startsAt: new Date(base + i * day),
            endsAt: new Date(base + i * day + 3_600_000),
          }),
          organizerId: org.id,
        }),
      );
    }
    const window = { from: new Date(base), to: new Date(base + 7 * day) };
    expect(await idsOfAllPages((cursor) => events.list({ limit: 3, cursor, ...window }))).toEqual(created.map((e) => e.id));

    const jazz = await events.list({ limit: 10, q: 'JAZZ', ...window });
    expect(jazz.items.map((e) => e.name)).toEqual(['Jazz night 1', 'Jazz night 3', 'Jazz night 5']);
    const priced = await events.list({ limit: 10, minPrice: 2000, maxPrice: 4000, ...window });
    expect(priced.items.map((e) => e.priceCents)).toEqual([2000, 3000, 4000]);
    const literal = await events.list({ limit: 10, q: "%' OR 1=1 --", ...window });
    expect(literal.items).toEqual([]);
    await expect(events.list({ limit: 10, cursor: 'bm90LWEtY3Vyc29y' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('pages through events sharing a start time in (startsAt, id) order, with the filters held across pages', async () => {
    const org = await organizer();
    const base = Date.UTC(2032, 5, 1);
    const created = [];
    // three start times, four events each: ties that only the id can order
    for (let i = 0; i < 12; i++) {
      const startsAt = new Date(base + Math.floor(i / 4) * day);
      created.push(
        await events.create({
          ...newEvent({
            name: i % 4 === 3 ? `Opera ${i}` : `Gig ${i}`,
            priceCents: 1000 + (i % 2) * 500,
            startsAt,
            endsAt: new Date(startsAt.getTime() + 3_600_000),
          }),
          organizerId: org.id,
        }),
      );
    }
    const byKey = (a: { startsAt: Date; id: string }, b: { startsAt: Date; id: string }) =>
      a.startsAt.getTime() - b.startsAt.getTime() || (a.id < b.id ? -1 : 1);
    const filters = { from: new Date(base), to: new Date(base + 3 * day), q: 'gig', maxPrice: 1000 };
    const expected = created.filter((e) => e.name.startsWith('Gig') && e.priceCents <= 1000).sort(byKey);
    expect(await idsOfAllPages((cursor) => events.list({ limit: 2, cursor, ...filters }))).toEqual(expected.map((e) => e.id));
    // the whole window, page by page, is the same as one big page
    const one = await events.list({ limit: 100, from: filters.from, to: filters.to });
    expect(one.items.map((e) => e.id)).toEqual([...created].sort(byKey).map((e) => e.id));
  });
});

describe('PostgresBookingStore', () => {
  it('reserves, inserts the booking and its outbox row in one statement', async () => {
    const org = await organizer();
    const event = await events.create({ ...newEvent({ capacity: 5, priceCents: 1200 }), organizerId: org.id });
    const result = await bookings.reserve({ eventId: event.id, userId: org.id, quantity: 3, holdMs: 60_000 });
    if (result.kind !== 'created') throw new Error(`expected created, got ${result.kind}`);
    expect(result.booking).toMatchObject({ quantity: 3, amountCents: 3600, status: 'pending' });
    expect(result.booking.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect((await events.get(event.id))?.available).toBe(2);
    expect(await outboxTypes(result.booking.id)).toEqual(['booking.created']);
    expect(await bookings.reserve({ eventId: event.id, userId: org.id, quantity: 3, holdMs: 60_000 })).toEqual({
      kind: 'sold_out',
      available: 2,
    });
    expect((await bookings.reserve({ eventId: randomUUID(), userId: org.id, quantity: 1, holdMs: 60_000 })).kind).toBe('event_not_found');
  });

  it('refuses bookings for an event that has ended', async () => {
    const org = await organizer();
    const event = await events.create({ ...newEvent(), organizerId: org.id });
    await db.pool.query("UPDATE events SET starts_at = now() - interval '2 hours', ends_at = now() - interval '1 hour' WHERE id = $1", [
      event.id,
    ]);
    expect((await bookings.reserve({ eventId: event.id, userId: org.id, quantity: 1, holdMs: 60_000 })).kind).toBe('event_ended');
  });

  it('replays an Idempotency-Key and refuses it for a different request', async () => {
    const org = await organizer();
    const event = await events.create({ ...newEvent(), organizerId: org.id });
    const input = { eventId: event.id, userId: org.id, quantity: 2, holdMs: 60_000, idempotencyKey: 'k-1', requestHash: 'h-2' };
    const first = await bookings.reserve(input);
    const again = await bookings.reserve(input);
    expect(first.kind).toBe('created');
    expect(again.kind).toBe('replayed');
    if (first.kind === 'created' && again.kind === 'replayed') expect(again.booking.id).toBe(first.booking.id);
    expect((await bookings.reserve({ ...input, quantity: 3, requestHash: 'h-3' })).kind).toBe('idempotency_mismatch');
    expect((await events.get(event.id))?.available).toBe(8);
  });

  it('confirms a live hold, refuses a lapsed one, and releases seats exactly once on cancel', async () => {
    const org = await organizer();
    const event = await events.create({ ...newEvent({ capacity: 4 }), organizerId: org.id });
    const live = await bookings.reserve({ eventId: event.id, userId: org.id, quantity: 2, holdMs: 60_000 });
    const lapsed = await bookings.reserve({ eventId: event.id, userId: org.id, quantity: 1, holdMs: 1_000 });
    if (live.kind !== 'created' || lapsed.kind !== 'created') throw new Error('expected bookings');
    await db.pool.query("UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1", [lapsed.booking.id]);

    expect(await bookings.confirm(live.booking.id)).toMatchObject({ kind: 'ok', booking: { status: 'confirmed' } });
    expect(await bookings.confirm(lapsed.booking.id)).toMatchObject({ kind: 'refused', booking: { status: 'pending' } });
    expect(await bookings.confirm(randomUUID())).toEqual({ kind: 'not_found' });

    const cancels = await Promise.all([bookings.cancel(live.booking.id), bookings.cancel(live.booking.id)]);
    expect(cancels.map((c) => c.kind).sort()).toEqual(['ok', 'refused']);
    expect((await events.get(event.id))?.available).toBe(3);
    expect(await outboxTypes(live.booking.id)).toEqual(['booking.created', 'booking.confirmed', 'booking.cancelled']);
  });

  it('lists a user’s bookings newest first with a cursor', async () => {
    const org = await organizer();
    const other = await organizer();
    const event = await events.create({ ...newEvent({ capacity: 50 }), organizerId: org.id });
    for (let i = 0; i < 5; i++) await bookings.reserve({ eventId: event.id, userId: org.id, quantity: 1, holdMs: 60_000 });
    await bookings.reserve({ eventId: event.id, userId: other.id, quantity: 1, holdMs: 60_000 });
    const first = await bookings.list({ userId: org.id, limit: 3 });
    const second = await bookings.list({ userId: org.id, limit: 3, cursor: first.nextCursor! });
    const all = [...first.items, ...second.items];
    expect(all).toHaveLength(5);
    expect(second.nextCursor).toBeNull();
    expect(all.every((b) => b.userId === org.id)).toBe(true);
    const times = all.map((b) => b.createdAt.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('pages through bookings made in the same millisecond without skipping or repeating one', async () => {
    const org = await organizer();
    const event = await events.create({ ...newEvent({ capacity: 1_000 }), organizerId: org.id });
    const buyers = await Promise.all(
      Array.from({ length: 150 }, () => users.create({ email: `${randomUUID()}@example.test`, passwordHash: 'h', role: 'user' })),
    );
    await Promise.all(buyers.map((buyer) => bookings.reserve({ eventId: event.id, userId: buyer.id, quantity: 1, holdMs: 60_000 })));
    // created_at is stored to the millisecond, exactly what the cursor carries
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM bookings WHERE created_at <> date_trunc('milliseconds', created_at)`,
    );
    expect(rows[0].n).toBe(0);
    // an admin's list: every booking, newest first
    const seen = await idsOfAllPages((cursor) => bookings.list({ limit: 7, cursor }));
    const all = await db.pool.query<{ id: string }>('SELECT id FROM bookings ORDER BY created_at DESC, id DESC');
    expect(seen).toEqual(all.rows.map((r) => r.id));
  });
});

describe('PostgresAuditLog', () => {
  it('records who did what, from where', async () => {
    const audit = new PostgresAuditLog(db.pool);
    const actor = await organizer();
    await audit.record({
      actorId: actor.id,
      action: 'event.deleted',
      target: 'e-1',
      ip: '203.0.113.9',
      requestId: 'req-1',
      details: { name: 'x' },
    });
    const { rows } = await db.pool.query('SELECT actor_id, action, target, ip, request_id, details FROM audit_log WHERE request_id = $1', [
      'req-1',
    ]);
    expect(rows).toEqual([
      { actor_id: actor.id, action: 'event.deleted', target: 'e-1', ip: '203.0.113.9', request_id: 'req-1', details: { name: 'x' } },
    ]);
  });
});
