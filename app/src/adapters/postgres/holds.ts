import type { Pool } from 'pg';
import { LAPSING_STATUSES } from '../../domain/booking';
import type { HoldSchedule } from '../../ports';
import { sqlStatuses } from './transitions';

/** When seats held by pending (or payment_pending) bookings may come back (the expiry sweeper releases them). */
export class PostgresHoldSchedule implements HoldSchedule {
  /**
   * eventId → the lookup in flight. A sell-out answers a whole batch of callers at once and each
   * asks this (a scan of the event's pending bookings): they share one query instead of taking
   * the pool and the database's CPU just as the rejections start.
   */
  private readonly inFlight = new Map<string, Promise<number | null>>();

  constructor(private readonly pool: Pool) {}

  msUntilNextExpiry(eventId: string): Promise<number | null> {
    let lookup = this.inFlight.get(eventId);
    if (!lookup) {
      lookup = this.lookup(eventId).finally(() => this.inFlight.delete(eventId));
      this.inFlight.set(eventId, lookup);
    }
    return lookup;
  }

  private async lookup(eventId: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM min(expires_at) - now()) * 1000)::float8 AS ms FROM bookings WHERE event_id = $1 AND status IN (${sqlStatuses(LAPSING_STATUSES)})`,
      [eventId],
    );
    return rows[0]?.ms ?? null;
  }
}
