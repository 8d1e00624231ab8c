import type { Pool } from 'pg';
import type { Logger } from '../../observability/logger';
import { TOP_EVENTS, topEventTicketsSold } from '../../observability/metrics';

/** Seats confirmed per event, best sellers first, for events that have not ended more than 30 days ago. */
export const TOP_EVENTS_SQL = `SELECT e.name, e.starts_at, sum(b.quantity)::int AS sold
    FROM events e JOIN bookings b ON b.event_id = e.id AND b.status = 'confirmed'
   WHERE e.deleted_at IS NULL AND e.ends_at > now() - interval '30 days'
   GROUP BY e.id
   ORDER BY sold DESC, e.starts_at
   LIMIT $1`;

/** "name (YYYY-MM-DD)": readable on a dashboard, never an id. Same label twice → summed. */
export function eventLabel(name: string, startsAt: Date): string {
  return `${name.slice(0, 80)} (${startsAt.toISOString().slice(0, 10)})`;
}

export async function topEventsBySales(pool: Pool, limit = TOP_EVENTS): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ name: string; starts_at: Date; sold: number }>(TOP_EVENTS_SQL, [limit]);
  const out = new Map<string, number>();
  for (const row of rows) {
    const label = eventLabel(row.name, row.starts_at);
    out.set(label, (out.get(label) ?? 0) + row.sold);
  }
  return out;
}

/**
 * Runs `sample` now and every `intervalMs`, never two at once; a failure is one warning line (the
 * next tick tries again). Gauges that PostgreSQL answers (sales, saga states) refresh this way.
 */
export function samplePeriodically(
  sample: () => Promise<void>,
  logger: Logger,
  failure: string,
  intervalMs: number,
): { close(): Promise<void> } {
  let running: Promise<void> | null = null;
  const guarded = async () => {
    try {
      await sample();
    } catch (error) {
      logger.warn({ err: (error as Error).message }, failure);
    }
  };
  const tick = () => (running ??= guarded().finally(() => (running = null)));
  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}

/** Refreshes `goticket_top_event_tickets_sold` every `intervalMs` (the worker runs it). */
export function sampleTopEvents(pool: Pool, logger: Logger, intervalMs = 10_000): { close(): Promise<void> } {
  return samplePeriodically(
    async () => {
      const top = await topEventsBySales(pool);
      topEventTicketsSold.reset();
      for (const [event, sold] of top) topEventTicketsSold.set({ event }, sold);
    },
    logger,
    'top events sample failed',
    intervalMs,
  );
}
