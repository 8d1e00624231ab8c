import type { Pool } from 'pg';
import { LAPSING_STATUSES } from '../../domain/booking';
import type { HoldExpiry } from '../../ports';
import { BOOKING_EVENT_PAYLOAD } from './rows';
import { guard, sqlStatuses } from './transitions';

/**
 * Expires due holds in ONE statement. `FOR UPDATE SKIP LOCKED` lets several sweepers share the
 * work without waiting on each other; the status guard (pending or payment_pending, re-checked
 * on the locked row) makes each hold expire — and release its seats, and emit `booking.expired` — exactly
 * once, and makes a confirm racing the expiry win or lose as a whole. Event rows are locked in
 * id order so concurrent sweepers cannot deadlock on them.
 */
export const EXPIRE_SQL = `WITH due AS (
    SELECT id FROM bookings
     WHERE status IN (${sqlStatuses(LAPSING_STATUSES)}) AND expires_at <= now()
     ORDER BY expires_at
     LIMIT $1
     FOR UPDATE SKIP LOCKED
  ), b AS (
    UPDATE bookings SET status = 'expired', updated_at = now()
      FROM due WHERE bookings.id = due.id AND ${guard('expired', LAPSING_STATUSES, 'bookings.status')}
    RETURNING bookings.*
  ), seats AS MATERIALIZED (
    SELECT e.id, s.quantity FROM events e
      JOIN (SELECT event_id, sum(quantity)::int AS quantity FROM b GROUP BY event_id) s ON s.event_id = e.id
     ORDER BY e.id
     FOR UPDATE OF e
  ), released AS (
    UPDATE events e SET available = e.available + seats.quantity, updated_at = now()
      FROM seats WHERE e.id = seats.id
  ), ob AS (
    INSERT INTO outbox (aggregate_type, aggregate_id, type, payload)
    SELECT 'booking', b.id, 'booking.expired', ${BOOKING_EVENT_PAYLOAD('b')} FROM b
  )
  SELECT count(*)::int AS expired FROM b`;

export class PostgresHoldExpiry implements HoldExpiry {
  constructor(private readonly pool: Pool) {}

  /** Expires at most `limit` due holds; returns how many this call expired. */
  async expireDue(limit: number): Promise<number> {
    const { rows } = await this.pool.query<{ expired: number }>(EXPIRE_SQL, [limit]);
    return rows[0]?.expired ?? 0;
  }
}
