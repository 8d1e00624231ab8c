import { BOOKING_STATUSES, canTransition, type BookingStatus } from '../../src/domain/booking';
import { createTestDatabase, type TestDatabase } from '../support/db';

/** The database's copy of the booking state machine is the domain's (domain/booking.ts), pair for pair. */
describe('booking state machine in PostgreSQL', () => {
  let db: TestDatabase;
  let userId: string;
  let eventId: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    userId = (await db.pool.query<{ id: string }>(`INSERT INTO users (email, password_hash) VALUES ('sm@example.test', 'x') RETURNING id`))
      .rows[0]!.id;
    eventId = (
      await db.pool.query<{ id: string }>(
        `INSERT INTO events (organizer_id, name, starts_at, ends_at, price_cents, capacity, available)
       VALUES ($1, 'sm', now() + interval '1 day', now() + interval '2 days', 100, 1000, 1000) RETURNING id`,
        [userId],
      )
    ).rows[0]!.id;
  });
  afterAll(() => db.drop());

  it('allows exactly the statuses of the domain', async () => {
    const { rows } = await db.pool.query<{ def: string }>(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'bookings_status_check' AND conrelid = 'bookings'::regclass`,
    );
    const listed = [...rows[0]!.def.matchAll(/'([a-z_]+)'::text/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...BOOKING_STATUSES].sort());
  });

  it('holds the same transition table as the domain', async () => {
    const { rows } = await db.pool.query<{ from_status: BookingStatus; to_status: BookingStatus }>(
      'SELECT from_status, to_status FROM booking_transitions',
    );
    const inDb = rows.map((r) => `${r.from_status}>${r.to_status}`).sort();
    const inDomain = BOOKING_STATUSES.flatMap((from) =>
      BOOKING_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}>${to}`),
    ).sort();
    expect(inDb).toEqual(inDomain);
  });

  const pairs = BOOKING_STATUSES.flatMap((from) => BOOKING_STATUSES.filter((to) => to !== from).map((to) => [from, to] as const));
  it.each(pairs)('an UPDATE %s → %s succeeds exactly when the domain allows it', async (from, to) => {
    const { rows: made } = await db.pool.query<{ id: string }>(
      `INSERT INTO bookings (event_id, user_id, quantity, amount_cents, status, expires_at) VALUES ($1, $2, 1, 100, $3, now() + interval '1 minute') RETURNING id`,
      [eventId, userId, from],
    );
    const id = made[0]!.id;
    const update = db.pool.query('UPDATE bookings SET status = $2 WHERE id = $1', [id, to]);
    if (canTransition(from, to)) await expect(update).resolves.toMatchObject({ rowCount: 1 });
    else await expect(update).rejects.toMatchObject({ code: '23514', constraint: 'bookings_transition' });
    const { rows } = await db.pool.query<{ status: string }>('SELECT status FROM bookings WHERE id = $1', [id]);
    expect(rows[0]!.status).toBe(canTransition(from, to) ? to : from);
  });
});
