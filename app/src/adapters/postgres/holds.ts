import type { Pool } from 'pg';
import type { HoldSchedule } from '../../ports';

/** When seats held by pending bookings may come back (the expiry sweeper releases them). */
export class PostgresHoldSchedule implements HoldSchedule {
  constructor(private readonly pool: Pool) {}

  async msUntilNextExpiry(eventId: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM min(expires_at) - now()) * 1000)::float8 AS ms FROM bookings WHERE event_id = $1 AND status = 'pending'`,
      [eventId],
    );
    return rows[0]?.ms ?? null;
  }
}
