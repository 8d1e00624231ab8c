/** The booking invariants, checked against the run's database after every scenario. */
import type { Pool } from 'pg';
import { progress } from './progress';

export class InvariantError extends Error {
  constructor(
    readonly scenario: string,
    readonly broken: string[],
  ) {
    super(`invariant broken after ${scenario}:\n  - ${broken.join('\n  - ')}`);
    this.name = 'InvariantError';
  }
}

export interface InvariantReport {
  scenario: string;
  events: number;
  bookings: number;
  confirmed: number;
  notified: number;
  outboxDrainMs: number;
  notifyDrainMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lines describing every broken seat invariant (empty when all hold). Pure over the query results. */
export function seatViolations(rows: Array<{ id: string; capacity: number; available: number; held: number }>): string[] {
  const broken: string[] = [];
  for (const row of rows) {
    if (row.available < 0) broken.push(`event ${row.id}: available is negative (${row.available})`);
    if (row.available > row.capacity) broken.push(`event ${row.id}: available ${row.available} exceeds capacity ${row.capacity}`);
    if (row.held > row.capacity) broken.push(`event ${row.id}: OVERSOLD, ${row.held} seats held for capacity ${row.capacity}`);
    if (row.capacity - row.available !== row.held) {
      broken.push(`event ${row.id}: seats taken (capacity ${row.capacity} - available ${row.available} = ${row.capacity - row.available}) != sum of pending+confirmed quantities (${row.held})`);
    }
  }
  return broken;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<number>): Promise<{ ms: number; left: number }> {
  const started = Date.now();
  let left = await check();
  while (left > 0 && Date.now() - started < timeoutMs) {
    await sleep(100);
    left = await check();
  }
  if (left > 0) progress.warn(`${what}: ${left} left after ${timeoutMs / 1000}s`);
  return { ms: Date.now() - started, left };
}

/**
 * Seats taken = sum of booking quantities, `available` never negative nor above capacity, no
 * oversell; then, once the outbox drains, every confirmed booking notified exactly once (and no
 * notification for a booking that is not confirmed). Throws InvariantError listing what broke.
 */
export async function checkInvariants(pool: Pool, scenario: string, extra: string[] = []): Promise<InvariantReport> {
  const broken = [...extra];
  const { rows } = await pool.query<{ id: string; capacity: number; available: number; held: number }>(
    `SELECT e.id, e.capacity, e.available,
            coalesce((SELECT sum(b.quantity) FROM bookings b WHERE b.event_id = e.id AND b.status IN ('pending', 'confirmed')), 0)::int AS held
       FROM events e`,
  );
  broken.push(...seatViolations(rows));

  const outbox = await waitFor('outbox not drained', 60_000, async () => {
    const result = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
    return result.rows[0]!.n;
  });
  if (outbox.left > 0) broken.push(`outbox did not drain: ${outbox.left} unpublished rows after 60 s`);

  const unnotified = async () => {
    const result = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM bookings b
        WHERE b.status = 'confirmed'
          AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.booking_id = b.id AND n.type = 'booking.confirmed' AND n.sent_at IS NOT NULL)`,
    );
    return result.rows[0]!.n;
  };
  const notify = await waitFor('confirmed bookings not notified', 30_000, unnotified);
  if (notify.left > 0) broken.push(`${notify.left} confirmed bookings have no sent booking.confirmed notification 30 s after the outbox drained`);

  const { rows: dupes } = await pool.query<{ booking_id: string; n: number }>(
    `SELECT booking_id, count(*)::int AS n FROM notifications WHERE type = 'booking.confirmed' GROUP BY booking_id HAVING count(*) > 1 LIMIT 5`,
  );
  for (const dupe of dupes) broken.push(`booking ${dupe.booking_id} notified ${dupe.n} times`);
  const { rows: strays } = await pool.query<{ booking_id: string; status: string | null }>(
    `SELECT n.booking_id, b.status FROM notifications n LEFT JOIN bookings b ON b.id = n.booking_id
      WHERE n.type = 'booking.confirmed' AND b.status IS DISTINCT FROM 'confirmed' LIMIT 5`,
  );
  for (const stray of strays) broken.push(`booking ${stray.booking_id} (${stray.status ?? 'missing'}) has a booking.confirmed notification`);

  const { rows: totals } = await pool.query<{ events: number; bookings: number; confirmed: number; notified: number }>(
    `SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM bookings)::int AS bookings,
            (SELECT count(*) FROM bookings WHERE status = 'confirmed')::int AS confirmed,
            (SELECT count(*) FROM notifications WHERE type = 'booking.confirmed')::int AS notified`,
  );
  if (broken.length > 0) throw new InvariantError(scenario, broken);
  const report = { scenario, ...totals[0]!, outboxDrainMs: outbox.ms, notifyDrainMs: notify.ms };
  progress.info(
    `invariants hold after ${scenario}: ${report.events} events, ${report.bookings} bookings, ${report.confirmed} confirmed = ${report.notified} notified once; outbox drained in ${outbox.ms} ms`,
  );
  return report;
}
