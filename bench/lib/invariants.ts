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
  /** With the payments schema (a build with the payments role): what the saga and the provider hold. */
  payments?: { paidConfirmed: number; succeeded: number; refunded: number; capturedCents: number; refundedCents: number; intents: number };
}

/** What the run's local Stripe-compatible server counted (LocalStripe). */
export interface ProviderCounts {
  totals(): { captured: number; refunded: number; intents: number; refunds: number };
  intentsPerBooking(): Map<string, number>;
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
      broken.push(
        `event ${row.id}: seats taken (capacity ${row.capacity} - available ${row.available} = ${row.capacity - row.available}) != sum of pending+payment_pending+confirmed quantities (${row.held})`,
      );
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
 * The saga's books, once nothing is in flight (no payment_pending booking, no payment processing
 * or refunding, the payments outbox drained): every succeeded payment confirmed exactly one
 * booking (and every paid confirmed booking has its succeeded payment), and at the provider: one
 * intent per booking at most, captured − refunded = the paid confirmed bookings' amounts.
 */
async function paymentViolations(pool: Pool, provider: ProviderCounts | undefined, broken: string[]): Promise<InvariantReport['payments']> {
  const { rows: schema } = await pool.query<{ present: boolean }>(`SELECT to_regclass('payments.payments') IS NOT NULL AS present`);
  if (!schema[0]!.present) return undefined; // an older build: no payments service
  const settle = await waitFor('payments not settled', 60_000, async () => {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM bookings WHERE status = 'payment_pending')::int
            + (SELECT count(*) FROM payments.payments WHERE status IN ('processing', 'refunding'))::int
            + (SELECT count(*) FROM payments.outbox WHERE published_at IS NULL)::int
            + (SELECT count(*) FROM outbox WHERE published_at IS NULL)::int AS n`,
    );
    return rows[0]!.n;
  });
  if (settle.left > 0) broken.push(`payments did not settle: ${settle.left} bookings/payments/outbox rows still in flight after 60 s`);
  const { rows: mismatched } = await pool.query<{ booking_id: string; booking: string | null; payment: string | null }>(
    `SELECT coalesce(b.id, p.booking_id) AS booking_id, b.status AS booking, p.status AS payment
       FROM (SELECT id, status, payment_id FROM bookings WHERE status = 'confirmed' AND payment_id IS NOT NULL) b
       FULL JOIN (SELECT booking_id, status FROM payments.payments WHERE status = 'succeeded') p ON p.booking_id = b.id
      WHERE b.id IS NULL OR p.booking_id IS NULL LIMIT 5`,
  );
  for (const row of mismatched)
    broken.push(
      `booking ${row.booking_id}: booking ${row.booking ?? '(not a paid confirmed booking)'}, payment ${row.payment ?? '(no succeeded payment)'}`,
    );
  const { rows: sums } = await pool.query<{ paid_confirmed: number; cents: string; succeeded: number; refunded: number }>(
    `SELECT (SELECT count(*) FROM bookings WHERE status = 'confirmed' AND payment_id IS NOT NULL)::int AS paid_confirmed,
            (SELECT coalesce(sum(amount_cents), 0) FROM bookings WHERE status = 'confirmed' AND payment_id IS NOT NULL)::text AS cents,
            (SELECT count(*) FROM payments.payments WHERE status = 'succeeded')::int AS succeeded,
            (SELECT count(*) FROM payments.payments WHERE status = 'refunded')::int AS refunded`,
  );
  const s = sums[0]!;
  const totals = provider?.totals() ?? { captured: Number.NaN, refunded: Number.NaN, intents: Number.NaN, refunds: Number.NaN };
  if (provider) {
    if (totals.captured - totals.refunded !== Number(s.cents)) {
      broken.push(
        `provider captured ${totals.captured} − refunded ${totals.refunded} = ${totals.captured - totals.refunded} cents != ${s.cents} cents of paid confirmed bookings`,
      );
    }
    const twice = [...provider.intentsPerBooking()].filter(([, n]) => n > 1);
    for (const [booking, n] of twice.slice(0, 5)) broken.push(`booking ${booking}: ${n} payment intents at the provider`);
  }
  return {
    paidConfirmed: s.paid_confirmed,
    succeeded: s.succeeded,
    refunded: s.refunded,
    capturedCents: totals.captured,
    refundedCents: totals.refunded,
    intents: totals.intents,
  };
}

/**
 * Seats taken = sum of the quantities of pending, payment_pending and confirmed bookings,
 * `available` never negative nor above capacity, no oversell; then, once the outbox drains, every
 * confirmed booking notified exactly once (and no notification for a booking that is not
 * confirmed); with the payments schema, the saga's books (paymentViolations), against the
 * provider's own counts when given. Throws InvariantError listing what broke.
 */
export async function checkInvariants(
  pool: Pool,
  scenario: string,
  extra: string[] = [],
  provider?: ProviderCounts,
): Promise<InvariantReport> {
  const broken = [...extra];
  const { rows } = await pool.query<{ id: string; capacity: number; available: number; held: number }>(
    `SELECT e.id, e.capacity, e.available,
            coalesce((SELECT sum(b.quantity) FROM bookings b WHERE b.event_id = e.id AND b.status IN ('pending', 'payment_pending', 'confirmed')), 0)::int AS held
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
  if (notify.left > 0)
    broken.push(`${notify.left} confirmed bookings have no sent booking.confirmed notification 30 s after the outbox drained`);

  const { rows: dupes } = await pool.query<{ booking_id: string; n: number }>(
    `SELECT booking_id, count(*)::int AS n FROM notifications WHERE type = 'booking.confirmed' GROUP BY booking_id HAVING count(*) > 1 LIMIT 5`,
  );
  for (const dupe of dupes) broken.push(`booking ${dupe.booking_id} notified ${dupe.n} times`);
  const { rows: strays } = await pool.query<{ booking_id: string; status: string | null }>(
    `SELECT n.booking_id, b.status FROM notifications n LEFT JOIN bookings b ON b.id = n.booking_id
      WHERE n.type = 'booking.confirmed' AND b.status IS DISTINCT FROM 'confirmed' LIMIT 5`,
  );
  for (const stray of strays)
    broken.push(`booking ${stray.booking_id} (${stray.status ?? 'missing'}) has a booking.confirmed notification`);

  const payments = await paymentViolations(pool, provider, broken);
  const { rows: totals } = await pool.query<{ events: number; bookings: number; confirmed: number; notified: number }>(
    `SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM bookings)::int AS bookings,
            (SELECT count(*) FROM bookings WHERE status = 'confirmed')::int AS confirmed,
            (SELECT count(*) FROM notifications WHERE type = 'booking.confirmed')::int AS notified`,
  );
  if (broken.length > 0) throw new InvariantError(scenario, broken);
  const report: InvariantReport = { scenario, ...totals[0]!, outboxDrainMs: outbox.ms, notifyDrainMs: notify.ms, payments };
  const paid = payments
    ? `; ${payments.paidConfirmed} paid confirmed = ${payments.succeeded} payments succeeded${Number.isNaN(payments.intents) ? ' (no provider in this run)' : `, ${payments.intents} intents at the provider, none twice`}`
    : '';
  progress.info(
    `invariants hold after ${scenario}: ${report.events} events, ${report.bookings} bookings, ${report.confirmed} confirmed = ${report.notified} notified once${paid}; outbox drained in ${outbox.ms} ms`,
  );
  return report;
}
