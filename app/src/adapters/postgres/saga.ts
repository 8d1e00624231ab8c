/**
 * The booking side of the payments saga: what the payments service's answers do to a booking.
 * Each answer is applied in ONE transaction together with its message id in the inbox, so a
 * redelivered message finds its id and changes nothing (exactly-once effects over at-least-once
 * delivery). The payments service's tables are never read: only its messages.
 */
import type { Pool, PoolClient } from 'pg';
import { BOOKING_STATUSES, sourcesOf } from '../../domain/booking';
import type { Logger } from '../../observability/logger';
import { bookingsByStatus, oldestPaymentPendingSeconds } from '../../observability/metrics';
import { traceHeaders } from '../../observability/trace-context';
import type { PaymentOutcomeStore, SagaEffect, SucceededEffect } from '../../ports';
import { inTransaction } from './pool';
import { samplePeriodically } from './sales';
import { BOOKING_EVENT_PAYLOAD } from './rows';
import { guard, sqlStatuses } from './transitions';

const outbox = (type: string, from: string, payload = BOOKING_EVENT_PAYLOAD('b')) =>
  `INSERT INTO outbox (aggregate_type, aggregate_id, type, payload, headers)
   SELECT 'booking', b.id, '${type}', ${payload}, COALESCE($3::jsonb, '{}'::jsonb) FROM ${from} b`;

/** refund.requested: what the payments service needs to refund, and why. */
export const REFUND_REQUEST_PAYLOAD = (alias: string, reason: string) =>
  `jsonb_build_object('bookingId', ${alias}.id, 'userId', ${alias}.user_id, 'paymentId', ${alias}.payment_id, 'amountCents', ${alias}.amount_cents, 'reason', ${reason})`;

/** Seats of the bookings in CTE `b` back to their events (event rows locked after the booking rows, as everywhere). */
const RELEASE = `UPDATE events e SET available = e.available + s.quantity, updated_at = now()
      FROM (SELECT event_id, sum(quantity)::int AS quantity FROM b GROUP BY event_id) s WHERE e.id = s.event_id`;

// $1 booking, $2 payment id (failure: the reason), $3 trace headers.
const SUCCEED_CONFIRM_SQL = `WITH b AS (
    UPDATE bookings SET status = 'confirmed', payment_id = $2::text, paid_at = now(), updated_at = now()
     WHERE id = $1 AND ${guard('confirmed', ['payment_pending'])} AND expires_at > now()
     RETURNING *
  ), ob AS (${outbox('booking.confirmed', 'b')})
  SELECT count(*)::int AS n, coalesce(sum(quantity), 0)::int AS quantity, coalesce(sum(amount_cents), 0)::float8 AS amount_cents FROM b`;

/** The payment succeeded after the hold lapsed (not yet swept): expire it, release the seats, refund. */
const SUCCEED_LAPSED_SQL = `WITH b AS (
    UPDATE bookings SET status = 'expired', payment_id = $2::text, paid_at = now(), refund_requested_at = now(), updated_at = now()
     WHERE id = $1 AND ${guard('expired', ['payment_pending'])} AND expires_at <= now()
     RETURNING *
  ), released AS (${RELEASE}),
  ob AS (${outbox('booking.expired', 'b')}),
  rr AS (${outbox('refund.requested', 'b', REFUND_REQUEST_PAYLOAD('b', "'hold_expired'"))})
  SELECT count(*)::int AS n FROM b`;

/** The payment succeeded for a booking that no longer holds seats (expired, cancelled): refund it. */
const SUCCEED_RELEASED_SQL = `WITH b AS (
    UPDATE bookings SET payment_id = $2::text, paid_at = now(), refund_requested_at = now(), updated_at = now()
     WHERE id = $1 AND status IN (${sqlStatuses(sourcesOf('refunded'))}) AND payment_id IS NULL
     RETURNING *
  ), rr AS (${outbox('refund.requested', 'b', REFUND_REQUEST_PAYLOAD('b', "CASE WHEN b.status = 'expired' THEN 'hold_expired' ELSE 'cancelled' END"))})
  SELECT count(*)::int AS n FROM b`;

const FAIL_SQL = `WITH b AS (
    UPDATE bookings SET status = 'payment_failed', failure_reason = left($2, 500), updated_at = now()
     WHERE id = $1 AND ${guard('payment_failed')}
     RETURNING *
  ), released AS (${RELEASE}),
  ob AS (${outbox('booking.payment_failed', 'b', `${BOOKING_EVENT_PAYLOAD('b')} || jsonb_build_object('reason', b.failure_reason)`)})
  SELECT count(*)::int AS n FROM b`;

const REFUNDED_SQL = `WITH b AS (
    UPDATE bookings SET status = 'refunded', refunded_at = now(), updated_at = now()
     WHERE id = $1 AND ${guard('refunded')} AND payment_id IS NOT NULL AND ($2::text IS NULL OR payment_id = $2::text)
     RETURNING *
  ), ob AS (${outbox('booking.refunded', 'b')})
  SELECT count(*)::int AS n FROM b`;

/** The answer of one of the statements above: the bookings it changed (a confirmation: their seats and amount too). */
interface AppliedRow {
  n: number;
  quantity?: number;
  amount_cents?: number;
}

export class PostgresPaymentOutcomes implements PaymentOutcomeStore {
  constructor(private readonly pool: Pool) {}

  async succeeded(messageId: string, input: { bookingId: string; paymentId: string }): Promise<SucceededEffect> {
    let sold: SucceededEffect['sold'];
    const effect = await this.once(messageId, 'payment.succeeded', async (run) => {
      const confirmed = await run(SUCCEED_CONFIRM_SQL, input.bookingId, input.paymentId);
      if (confirmed.n > 0) {
        sold = { quantity: confirmed.quantity ?? 0, amountCents: confirmed.amount_cents ?? 0 };
        return 'confirmed';
      }
      if ((await run(SUCCEED_LAPSED_SQL, input.bookingId, input.paymentId)).n > 0) return 'refund_requested';
      if ((await run(SUCCEED_RELEASED_SQL, input.bookingId, input.paymentId)).n > 0) return 'refund_requested';
      return 'ignored';
    });
    return effect === 'confirmed' ? { effect, sold } : { effect };
  }

  failed(messageId: string, input: { bookingId: string; reason: string }): Promise<SagaEffect> {
    return this.once(messageId, 'payment.failed', async (run) =>
      (await run(FAIL_SQL, input.bookingId, input.reason)).n > 0 ? 'payment_failed' : 'ignored',
    );
  }

  refunded(messageId: string, input: { bookingId: string; paymentId?: string }): Promise<SagaEffect> {
    return this.once(messageId, 'refund.succeeded', async (run) =>
      (await run(REFUNDED_SQL, input.bookingId, input.paymentId ?? null)).n > 0 ? 'refunded' : 'ignored',
    );
  }

  /** Runs `apply` in one transaction with the message id recorded in the inbox; a known id is a no-op. */
  private once(
    messageId: string,
    type: string,
    apply: (run: (sql: string, bookingId: string, second: string | null) => Promise<AppliedRow>) => Promise<SagaEffect>,
  ): Promise<SagaEffect> {
    const headers = traceHeaders();
    return inTransaction(this.pool, async (client: PoolClient) => {
      const inbox = await client.query('INSERT INTO inbox (message_id, type) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING', [
        messageId,
        type,
      ]);
      if (inbox.rowCount === 0) return 'duplicate';
      // The booking row first: the answers for one booking are applied one at a time.
      return apply(async (sql, bookingId, second) => {
        const { rows } = await client.query<AppliedRow>(sql, [bookingId, second, headers]);
        return rows[0] ?? { n: 0 };
      });
    });
  }
}

/** The saga's state counts and the oldest payment in flight, for the gauges (the worker samples them). */
export async function sagaStates(pool: Pool): Promise<{ byStatus: Map<string, number>; oldestPaymentPendingSeconds: number }> {
  const { rows } = await pool.query<{ status: string; n: number; oldest: number | null }>(
    `SELECT status, count(*)::int AS n,
            CASE WHEN status = 'payment_pending' THEN extract(epoch FROM now() - min(payment_requested_at))::float8 END AS oldest
       FROM bookings GROUP BY status`,
  );
  const byStatus = new Map<string, number>(BOOKING_STATUSES.map((s) => [s, 0]));
  let oldest = 0;
  for (const row of rows) {
    byStatus.set(row.status, row.n);
    if (row.oldest !== null) oldest = row.oldest;
  }
  return { byStatus, oldestPaymentPendingSeconds: oldest };
}

export function sampleSagaStates(pool: Pool, logger: Logger, intervalMs = 15_000): { close(): Promise<void> } {
  return samplePeriodically(
    async () => {
      const states = await sagaStates(pool);
      for (const [status, n] of states.byStatus) bookingsByStatus.set({ status }, n);
      oldestPaymentPendingSeconds.set(states.oldestPaymentPendingSeconds);
    },
    logger,
    'saga state sample failed',
    intervalMs,
  );
}
